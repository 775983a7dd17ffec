"""The statement a whole Coq file makes about the theorem it names, when no problem gives one.

A file can give its own statement text another meaning: a notation (`Notation "x = y" := (x <> y)`),
a scope, a coercion, implicit arguments, a section whose `Variable h : False` becomes a premise
after `End`, a new `nat`. So the text of the file's own `Theorem NAME … : T.` sentence is not
trusted as the file reads it: the engine elaborates it as a trusted statement, right after the
file's imports and before any of the file runs (as a problem's statement), and Coq then checks
that the constant the file built has that type. The sentence is only found here by its text; the
meaning is Coq's, read where the file cannot reach it. A wrong pick can only make the check fail.

A statement may name the file's own constants (`Theorem t : two = 2.`). Those names do not exist
where the statement is read, so each name Coq reports unresolved becomes a binder of the
statement, `fun (two : _) => two = 2`, its type inferred from the statement alone under the
header; after the file ran, the statement is applied to the file's constants of those names
(`lf_m.two`), and Coq checks the theorem against that. The file's definitions give the names
their values, never the statement its reading: no notation, scope, coercion, instance or
`Arguments` of the file is visible where the statement is elaborated.

The statement alone may type a binder wrongly or not at all (`pick 1 2 = pick true false`), so
the file is first run up to the statement and each name's type is taken from Coq (`About`,
printed without notations, implicit arguments marked); a constant that such a type names gets a
binder of its own under a fresh name the statement cannot mention. Where those types cannot be
read, the statement's own inference stands. The types are text read under the header like the
statement: after the file ran again, applying the statement to the file's constants makes Coq
check that each constant has the type read, so a type printed or read wrongly can only make the
check fail.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from leanfilter.backends.coq_syntax import STRING, CoqLexError, sentences, strip_comments

THEOREM_WORDS = ("Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Example")
# What may stand before the keyword without changing what the statement says.
_LEADING = re.compile(
    r"(?:#\[[^\]]*\]\s*|(?:Local|Global|Polymorphic|Monomorphic|Program)\s+)*"
    rf"(?=(?:{'|'.join(THEOREM_WORDS)})\s)"
)


class Signature(BaseModel):
    """`Theorem name binders : type.` taken apart."""

    keyword: str
    name: str
    binders: str
    type: str

    @property
    def proposition(self) -> str:
        return f"forall {self.binders}, {self.type}" if self.binders else self.type


def parse_signature(statement: str) -> Signature:
    """Split a trusted Coq statement; raises ValueError when it is not one theorem statement."""
    try:
        parts = sentences(statement)
    except CoqLexError as e:
        raise ValueError(f"statement: {e}") from e
    if len(parts) != 1:
        raise ValueError("statement: expected exactly one `Theorem name : type.` sentence")
    text = parts[0].text[:-1].strip()
    m = re.match(rf"({'|'.join(THEOREM_WORDS)})\s+([\w'.]+)\s*", text)
    if not m:
        raise ValueError("statement: expected it to start with `Theorem <name>`")
    rest = text[m.end() :]
    colon = _top_level_colon(rest)
    if colon is None:
        raise ValueError("statement: no `:` before the type")
    return Signature(
        keyword=m.group(1),
        name=m.group(2),
        binders=rest[:colon].strip(),
        type=rest[colon + 1 :].strip(),
    )


def _top_level_colon(text: str) -> int | None:
    depth = 0
    for i, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == ":" and depth == 0 and text[i + 1 : i + 2] not in ("=", ">"):
            return i
    return None


# A theorem's name as the engine writes it into its own commands (`Locate Term lf_m.NAME.`):
# anything else (a space, a quote, a parenthesis) would be text of those commands that nobody
# screened.
THEOREM_NAME = re.compile(r"[^\W\d][\w']*(?:\.[^\W\d][\w']*)*")

MAX_FREE_NAMES = 16
# Coq's whole message when a name does not resolve (in a backquoted binder, `` `{C} ``, it is
# the second); matched whole, so a message that only quotes such text names nothing.
_UNRESOLVED = re.compile(
    r"The reference ([^\W\d][\w']*) was not found in the current environment\."
    r"|Unbound and ungeneralizable variable ([^\W\d][\w']*)\."
)


def unresolved_name(error: str | None) -> str | None:
    """The identifier Coq could not resolve, when that is the whole of its error."""
    found = _UNRESOLVED.fullmatch((error or "").strip())
    return (found.group(1) or found.group(2)) if found else None


class Binder(BaseModel):
    """A constant of the file's that the statement is abstracted over."""

    name: str  # the statement's own name for it; a fresh one for a constant only a type names
    type: str = "_"  # `_`: inferred from the statement; else the constant's type, as Coq printed it
    argument: str  # what the statement is applied to once the file ran


def abstracted(statement: str, binders: list[Binder]) -> str:
    """The statement as a function of the file's names it uses, read under the header alone."""
    if not binders:
        return statement
    return "fun " + " ".join(f"({b.name} : {b.type})" for b in binders) + f" => {statement}"


def inferred(free: list[str], module: str) -> list[Binder]:
    """Binders whose types Coq infers from the statement; the constants are applied as Coq
    applies a constant, their own implicit arguments inserted."""
    return [Binder(name=name, argument=f"{module}.{name}") for name in free]


def module_names(type_text: str, module: str) -> list[str] | None:
    """The constants of `module` a printed type names; None when one is inside a submodule,
    which no binder can stand for."""
    found = [(m.group(1), m.end()) for m in _reference(module).finditer(type_text)]
    if any(type_text.startswith(".", end) for _, end in found):
        return None
    return list(dict.fromkeys(name for name, _ in found))


def _reference(module: str) -> re.Pattern[str]:
    """`module.NAME` in printed text, NAME captured."""
    return re.compile(rf"(?<![\w'.]){re.escape(module)}\.([^\W\d][\w']*)")


def typed(free: list[str], types: dict[str, str], module: str, fresh: str) -> list[Binder] | None:
    """Binders typed by the file's own constants: `types` maps each of `module`'s names the
    statement or a type uses to its printed type. Ordered so that a type names only binders
    before it; a name the statement does not use is bound as `fresh` and a number, so the file
    cannot give a name of the header (`False`, `nat`) a meaning in the statement. None when the
    types name each other in a cycle or a submodule's constant."""
    names = {n: n if n in free else f"{fresh}{i}" for i, n in enumerate(types)}
    needs: dict[str, list[str]] = {}
    for name, text in types.items():
        uses = module_names(text, module)
        if uses is None or not set(uses) <= set(types):
            return None
        needs[name] = [u for u in uses if u != name]
    order: list[str] = []
    while len(order) < len(types):
        ready = [n for n in types if n not in order and set(needs[n]) <= set(order)]
        if not ready:
            return None
        order += ready
    reference = _reference(module)
    return [
        Binder(
            name=names[n],
            type=reference.sub(lambda m: names[m.group(1)], types[n]),
            argument=f"@{module}.{n}",
        )
        for n in order
    ]


# Words of the term grammar: never a name, so never asked about.
_KEYWORDS = frozenset(
    {"as", "at", "cofix", "else", "end", "exists", "exists2", "fix", "for", "forall", "fun"}
    | {"if", "in", "let", "match", "mod", "return", "then", "using", "where", "with", "_"}
    | {"Prop", "Set", "SProp", "Type"}
)
MAX_LOCAL_NAMES = 64


def local_names(statement: str, bound: list[str]) -> list[str] | None:
    """The identifiers of a statement's text (comments and strings left out) other than `bound`:
    the header's names, and the names it binds itself (`forall x`, a pattern's variable). None
    when there are too many to ask about one by one."""
    try:
        plain = STRING.sub(" ", strip_comments(statement))
    except CoqLexError:
        return None
    words = re.findall(r"(?<![\w'.])[^\W\d][\w']*(?![\w'.])", plain)
    found = list(dict.fromkeys(w for w in words if w not in _KEYWORDS and w not in bound))
    return found if len(found) <= MAX_LOCAL_NAMES else None


def own_statement(code: str, name: str) -> str | None:
    """The last `Theorem NAME …` sentence of `code` (from its keyword on, comments removed), or
    None when no sentence states `NAME` or the text cannot be split."""
    found = _stating(code, name)
    return found[0] if found else None


def before_statement(code: str, name: str) -> str | None:
    """The text of `code` before the sentence `own_statement` reads: all a statement can name
    is made there, so the theorem's own proof need not run to learn the types of those names."""
    found = _stating(code, name)
    return code[: found[1]] if found else None


def _stating(code: str, name: str) -> tuple[str, int] | None:
    try:
        parts = sentences(code)
    except CoqLexError:
        return None
    declares = re.compile(rf"(?:{'|'.join(THEOREM_WORDS)})\s+{re.escape(name)}(?![\w'])")
    found = None
    for sentence in parts:
        text = " ".join(strip_comments(sentence.text).split())
        lead = _LEADING.match(text)
        if lead is None:
            continue
        for statement in _mutual_parts(text[lead.end() :]):
            if declares.match(statement):
                found = (statement, sentence.start)
    return found


_WITH = re.compile(r"(?<![\w'])(with|match|fix|cofix|let)(?![\w'])")


def _mutual_parts(statement: str) -> list[str]:
    """`Lemma a : A with b : B.` states `Lemma a : A.` and `Lemma b : B.`. A `with` may also be
    part of a term (`match`, `fix`, `let`): then the sentence stays whole (a wrong cut could
    only fail the check)."""
    words = _WITH.findall(statement)
    if not words or set(words) != {"with"}:
        return [statement]
    first, *segments = _WITH.split(statement[:-1])[0::2]
    return [first.rstrip() + "."] + [
        f"{statement.split()[0]} {segment.strip()}." for segment in segments
    ]
