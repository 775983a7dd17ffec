"""Text rules for the untrusted part of a Coq candidate: they refuse what the checks inside Coq
cannot read.

In proof mode the engine writes `Theorem <name> : <statement>. Proof.` and the final `Qed.`, so
the candidate's part may hold only tactic sentences: any vernacular command there (a capitalised
first word, or an attribute) is refused, and the dangerous ones are named. A whole file may hold
any vernacular whose effect the existence, integrity and `Print Assumptions` checks read (its own
lemmas, notations, late `Require`s, `Abort`/`Undo` inside its own proofs, commands under `Fail`
or `Succeed`, which Coq rolls back, print-only commands); refused are the commands that act
outside the proof (files, load paths, plugins, the process), reach state the engine made
(`Reset`, `Back`, `BackTo`), switch off kernel checks, or give a name the trusted statement
uses a new meaning. An assumption is no text rule there, nor is giving up (`admit`, `Admitted`,
which make one): the audit lists it if the theorem uses it. Sentences come from
`coq_syntax.sentences` (comments removed, strings understood); string contents are blanked and
the rest Unicode-folded before any rule reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from leanfilter.backends.coq_syntax import STRING, CoqLexError, Sentence, sentences
from leanfilter.policy.findings import Finding
from leanfilter.policy.unicode_fold import fold

_IDENT = r"[A-Za-z_][\w']*"
_NOT_BEFORE = r"(?<![\w'])"
_NOT_AFTER = r"(?![\w'])"
_GIVE_UP = re.compile(_NOT_BEFORE + r"(?:admit|give_up|Admitted|Admit\s+Obligations)" + _NOT_AFTER)
_VM = re.compile(
    _NOT_BEFORE
    + r"(?:vm_compute|native_compute|vm_cast_no_check|native_cast_no_check)"
    + _NOT_AFTER
    + r"|<<?:"
)
_ATTRIBUTE = re.compile(r"#\[[^\]]*\]\s*")
_PREFIXES = re.compile(
    r"(?:(?:Local|Global|Export|Polymorphic|Monomorphic|Cumulative|NonCumulative|Private"
    r"|Program|Time|Fail|Succeed|Instructions|Timeout\s+\d+|Redirect\s+\"[^\"]*\")\s+)"
)
_ROLLED_BACK = re.compile(r"\b(?:Fail|Succeed)\b")
# Commands that only print: what they compute never reaches the kernel's environment.
_PRINT_ONLY = frozenset(
    {"Check", "Print", "Search", "SearchPattern", "SearchRewrite", "SearchHead", "Compute",
     "About", "Locate", "Eval", "Show", "Test"}
)  # fmt: skip
# Inside a proof only: they never reach state the file did not make itself.
_TACTIC_IN_TERM = re.compile(_NOT_BEFORE + r"ltac\s*:")
_NOTATIONS = frozenset({"Notation", "Infix", "Reserved"})
_PROOF_BACKTRACKS = frozenset({"Abort", "Undo", "Restart"})
_LOAD_PATH = re.compile(r"\b(?:LoadPath|ML\s+Path)\b")
_WRITES_EXTRACTION = re.compile(r'"|\b(?:Library|TestCompile)\b')
_GOAL_SELECTOR = re.compile(
    r"^(?:all|par|!|\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*|\[[^\]]*\])\s*:\s*"
)

_COMMANDS: dict[str, str] = {
    **dict.fromkeys(("Admitted", "Admit"), "sorry"),
    **dict.fromkeys(("Abort", "Reset", "Back", "BackTo", "Undo", "Restart"), "backtrack"),
    **dict.fromkeys(
        ("Axiom", "Axioms", "Parameter", "Parameters", "Conjecture", "Conjectures"), "axiom"
    ),
    **dict.fromkeys(("Register", "Primitive"), "unsafe_flag"),
    **dict.fromkeys(
        (
            "Load",
            "Redirect",
            "Extraction",
            "Extract",
            "Recursive",
            "Separate",
            "Drop",
            "Cd",
            "Quit",
            "Add",
            "Remove",
        ),
        "side_effect",
    ),
    **dict.fromkeys(("Require", "From"), "require"),
    **dict.fromkeys(("Qed", "Defined", "Save"), "close"),
    **dict.fromkeys(("Notation", "Infix", "Reserved", "Bind", "Delimit", "Undelimit"), "notation"),
}
_SECTION_ASSUMPTIONS = frozenset({"Hypothesis", "Hypotheses", "Variable", "Variables", "Context"})
_DECLARATIONS = frozenset(
    {
        "Theorem",
        "Lemma",
        "Fact",
        "Remark",
        "Corollary",
        "Proposition",
        "Property",
        "Example",
        "Definition",
        "Fixpoint",
        "CoFixpoint",
        "Let",
        "Inductive",
        "CoInductive",
        "Variant",
        "Record",
        "Structure",
        "Class",
        "Instance",
        "Function",
        "Axiom",
        "Parameter",
        "Conjecture",
        "Hypothesis",
        "Variable",
        "Module",
    }
)
# Names whose redefinition is the classic attack even when the statement does not spell them.
_CORE_NAMES = frozenset({"False", "True", "not", "and", "or", "iff", "eq", "ex", "nat", "bool"})
_BINDERS = re.compile(
    rf"\(\s*({_IDENT}(?:\s+{_IDENT})*)\s*:|(?:forall|exists|fun)\s+({_IDENT}(?:\s+{_IDENT})*)"
    rf"|let\s+({_IDENT})"
)


@dataclass(frozen=True)
class _Command:
    """A sentence taken apart: its attributes, its prefixes and its first words."""

    attributes: str
    prefixes: str
    words: list[str]
    body: str  # the text after attributes and prefixes

    @property
    def head(self) -> str:
        return self.words[0] if self.words else ""


def coq_findings(
    untrusted: str,
    *,
    theorem: str,
    statement: str | None,
    whole_file: bool,
    tactic_commands: frozenset[str],
) -> list[Finding]:
    try:
        parts = sentences(untrusted)
    except CoqLexError as e:
        return [Finding(rule="unparsable", offset=0, excerpt=str(e))]
    if whole_file:
        found = list(_file_findings(parts, theorem, statement))
    else:
        found = list(_proof_findings(_tactic_part(parts, statement), tactic_commands))
    return sorted(found, key=lambda f: f.offset)


def _readable(sentence: Sentence) -> str:
    """What rules read: string contents blanked, then folded."""
    return fold(STRING.sub(lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', sentence.text)).text


def _tactic_part(parts: list[Sentence], statement: str | None) -> list[Sentence]:
    """Drop what the engine strips itself: a repeated statement, a leading `Proof.`, a final
    `Qed.`. Everything else is the candidate's and must be tactics."""
    if statement is not None and parts and _same(parts[0].text, statement):
        parts = parts[1:]
    if parts and _same(parts[0].text, "Proof."):
        parts = parts[1:]
    if parts and _same(parts[-1].text, "Qed."):
        parts = parts[:-1]
    return parts


def _same(a: str, b: str) -> bool:
    """Equal as sentences, the way the backend compares them (`Qed .` is `Qed.`)."""
    return _layout_free(a) == _layout_free(b)


def _layout_free(sentence: str) -> str:
    return re.sub(r" \.$", ".", " ".join(sentence.split()))


def _word_findings(sentence: Sentence, text: str, command: _Command) -> Iterator[Finding]:
    for rule, pattern in (("sorry", _GIVE_UP), ("vm", _VM)):
        for m in pattern.finditer(text):
            if rule == "vm" and m.group(0).endswith(":") and command.head in ("Module", "Declare"):
                continue  # `Module M <: T` checks a module type: no cast
            yield Finding(rule=rule, offset=sentence.start, excerpt=_excerpt(sentence.text))


def _proof_findings(parts: list[Sentence], tactic_commands: frozenset[str]) -> Iterator[Finding]:
    for sentence in parts:
        text = _GOAL_SELECTOR.sub("", _readable(sentence))
        command = _parse(text)
        yield from _word_findings(sentence, text, command)
        is_command = bool(command.attributes or command.prefixes) or text[:1].isupper()
        if is_command and command.head not in tactic_commands:
            rule = _command_rule(command) or (
                "axiom" if command.head in _SECTION_ASSUMPTIONS else "vernacular"
            )
            yield Finding(rule=rule, offset=sentence.start, excerpt=_excerpt(sentence.text))


def _file_findings(parts: list[Sentence], theorem: str, statement: str | None) -> Iterator[Finding]:
    protected = _statement_names(statement, theorem) | _CORE_NAMES
    for sentence in parts:
        text = _readable(sentence)
        command = _parse(text)
        excerpt = _excerpt(sentence.text)
        rolled_back = bool(_ROLLED_BACK.search(command.prefixes))
        # a print-only command leaves nothing behind, unless a tactic in it does
        # (`Check ltac:(abstract …)` declares the abstracted subproof)
        if not rolled_back and (
            command.head not in _PRINT_ONLY or _TACTIC_IN_TERM.search(text)
        ):  # giving up is no rule here: an admitted lemma is an assumption the audit lists
            yield from (f for f in _word_findings(sentence, text, command) if f.rule == "vm")
        rule = _file_rule(command)
        if rule is not None and (rule == "side_effect" or not rolled_back):
            yield Finding(rule=rule, offset=sentence.start, excerpt=excerpt)
        if _adds_a_dotted_token(sentence.text, command):  # even under `Fail`: it is the lexer's
            yield Finding(rule="notation", offset=sentence.start, excerpt=excerpt)
        names = _notation_words(sentence.text, command) or {_declared_name(command)}
        if names & protected - {theorem} and not rolled_back:
            yield Finding(rule="shadow", offset=sentence.start, excerpt=excerpt)


def _file_rule(command: _Command) -> str | None:
    """The rule a whole file's command breaks, if any: only what the checks inside Coq cannot
    see. A file closes its own proofs; a backtrack inside a proof, a notation, a library
    required late, a theorem declared again or an assumption (`Axiom`, `Parameter`, a
    `Variable` outside a section, an `Include` of a module type that specifies one, a lemma
    left `Admitted`) only
    change what the file's own text means, and the existence, integrity and axiom checks
    read what Coq made of it: an assumption the theorem uses is in `Print Assumptions`."""
    rule = _command_rule(command)
    if rule == "backtrack" and command.head in _PROOF_BACKTRACKS:
        return None
    if rule == "side_effect" and not _acts_outside(command):
        return None
    if rule in ("close", "notation", "require", "axiom", "sorry"):
        return None
    return rule


def _acts_outside(command: _Command) -> bool:
    """`Add`/`Remove` act outside only on load paths; extraction only when it writes files or
    compiles (a file name, `Separate`, `Library`, `TestCompile`), not when it prints or is
    configured."""
    if command.head in ("Add", "Remove"):
        return bool(_LOAD_PATH.search(command.body))
    if command.head in ("Extraction", "Recursive", "Separate"):
        return command.head == "Separate" or bool(_WRITES_EXTRACTION.search(command.body))
    return command.head != "Extract"


def _parse(text: str) -> _Command:
    attributes, prefixes, rest = "", "", text
    while True:
        if m := _ATTRIBUTE.match(rest):
            attributes += m.group(0)
        elif m := _PREFIXES.match(rest):
            prefixes += m.group(0)
        else:
            break
        rest = rest[m.end() :]
    return _Command(attributes, prefixes, re.findall(_IDENT, rest)[:3], rest)


def _command_rule(command: _Command) -> str | None:
    if "bypass_check" in command.attributes:
        return "unsafe_flag"
    if "Redirect" in command.prefixes:
        return "side_effect"
    if command.head in ("Set", "Unset") and re.search(r"\bChecking\b", command.body):
        return "unsafe_flag"
    if _sets_printing_beyond_the_file(command):
        return "printing"
    if command.head == "Declare":
        return "side_effect" if command.words[1:2] == ["ML"] else "axiom"
    if command.head in ("Number", "String", "Numeral") and command.words[1:2] == ["Notation"]:
        return "notation"
    return _COMMANDS.get(command.head)


def _sets_printing_beyond_the_file(command: _Command) -> bool:
    """A `Global` printing option outlives the engine's module: the engine's own audit
    (`Print Assumptions`) would then be printed the way the candidate chose."""
    is_global = "Global" in command.prefixes or "global" in command.attributes
    setting = command.head in ("Set", "Unset", "Add", "Remove")
    return is_global and setting and command.words[1:2] == ["Printing"]


def _declared_name(command: _Command) -> str | None:
    words = command.words
    if command.head not in _DECLARATIONS or len(words) < 2:
        return None
    if command.head == "Module" and words[1] == "Type":
        return words[2] if len(words) > 2 else None
    return words[1]


def _adds_a_dotted_token(raw: str, command: _Command) -> bool:
    """A notation whose string holds a token with a `.` in it (`x '+++.' y`): Coq's lexer then
    reads `+++.` where the splitter sees a sentence end, so the sentences the text rules judge
    are not the ones Coq runs. A recursive pattern's `..` is no token."""
    if command.head not in _NOTATIONS and "Notation" not in command.words[:2]:
        return False
    strings = " ".join(fold(m.group(0)[1:-1]).text for m in STRING.finditer(raw))
    return any("." in word and word != ".." for word in strings.split())


def _notation_words(raw: str, command: _Command) -> set[str]:
    """The words a notation gives a meaning to: an abbreviation's name, or the identifiers in
    a notation's string (`Notation "'False'" := True` makes `False` mean `True`)."""
    if command.head not in _NOTATIONS:
        return set()
    if m := re.match(rf"Notation\s+({_IDENT})", command.body):
        return {m.group(1)}
    string = STRING.search(raw)
    words = fold(string.group(0)).text if string else ""
    return set(re.findall(r"[A-Za-z_]\w*", words))  # `'` quotes keywords there


def _statement_names(statement: str | None, theorem: str) -> frozenset[str]:
    """Identifiers the trusted statement refers to (qualified ones split), minus its binders."""
    if statement is None:
        return frozenset()
    try:
        text = " ".join(s.text for s in sentences(statement))
    except CoqLexError:
        text = statement
    text = fold(text).text
    names = {part for ident in re.findall(rf"{_IDENT}(?:\.{_IDENT})*", text) for part in
             ident.split(".")}  # fmt: skip
    bound = {name for m in _BINDERS.finditer(text) for g in m.groups() if g for name in g.split()}
    keywords = {"Theorem", "Lemma", "forall", "exists", "fun", "let", "in", "Type", "Prop", "Set"}
    return frozenset(names - bound - keywords - {theorem})


def _excerpt(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 80 else line[:77] + "..."
