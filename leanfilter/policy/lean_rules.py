"""Text rules for the untrusted part of a Lean candidate: a first line of defence only.

They read the code view (comments and literals blanked, `lean_lexer`) after Unicode folding
(`unicode_fold`), so neither a comment nor a look-alike letter changes what they see. What
decides is the prover: the existence check, the integrity check and `#print axioms`, run as
separate commands the candidate cannot reach. These rules stop what those checks cannot see or
what could tamper with them: code run at elaboration time, syntax that rewrites later commands,
options that skip the kernel, `#exit`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator

from leanfilter.policy.findings import Finding
from leanfilter.policy.lean_lexer import lean_code_views
from leanfilter.policy.unicode_fold import Folded, fold

_NOT_BEFORE = r"(?<![\w'])"
_NOT_AFTER = r"(?![\w'!?])"


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(_NOT_BEFORE + "(?:" + "|".join(map(re.escape, words)) + ")" + _NOT_AFTER)


# (rule, pattern) in the order a rule is preferred when two match at the same place.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("sorry", _words("sorry", "admit", "sorryAx", "stop")),
    ("exit", re.compile(r"#exit" + _NOT_AFTER)),
    ("axiom", _words("axiom")),
    ("unsafe", re.compile(_NOT_BEFORE + r"unsafe\w*")),
    ("ffi", _words("implemented_by", "extern")),
    (
        "native",
        re.compile(
            _NOT_BEFORE
            + r"(?:native_decide|(?:Lean\.)?(?:ofReduceBool|ofReduceNat|reduceBool|reduceNat"
            + r"|trustCompiler))"
            + _NOT_AFTER
            + r"|\+native\b|\bnative\s*:=\s*true\b"
        ),
    ),
    (
        "eval",
        re.compile(
            r"#eval!?"
            + _NOT_AFTER
            + r"|"
            + _NOT_BEFORE
            + r"(?:run_cmd|run_tac|run_elab|run_meta|by_elab|initialize|builtin_initialize)"
            + _NOT_AFTER
            + r"|"
            + _NOT_BEFORE
            + r"eval%"
        ),
    ),
    ("meta", re.compile(_NOT_BEFORE + r"(?:_root_\.)?(?:IO|EIO|BaseIO|System|Lean)" + _NOT_AFTER)),
    ("import", _words("import", "prelude")),
    (
        "syntax",
        _words(
            "macro",
            "macro_rules",
            "syntax",
            "elab",
            "elab_rules",
            "notation",
            "infix",
            "infixl",
            "infixr",
            "prefix",
            "postfix",
            "declare_syntax_cat",
            "binder_predicate",
            "simproc",
            "dsimproc",
            "simproc_decl",
            "dsimproc_decl",
            "register_simp_attr",
        ),
    ),
]
_RULE_ORDER = {rule: i for i, (rule, _) in enumerate(_PATTERNS)}

_HASH_COMMAND = re.compile(_NOT_BEFORE + r"#([A-Za-z_][\w!?]*)")
_HASH_ALLOWED = frozenset({"check", "print", "reduce", "synth"})
_HASH_HANDLED = frozenset({"exit", "eval", "eval!"})  # by the patterns above

_ATTRIBUTES = re.compile(r"@\[|" + _NOT_BEFORE + r"attribute\s*\[")
_ATTRIBUTE_RULES = {
    "implemented_by": "ffi",
    "extern": "ffi",
    "export": "ffi",
    "macro": "syntax",
    "term_elab": "syntax",
    "command_elab": "syntax",
    "tactic": "syntax",
    "delab": "syntax",
    "app_unexpander": "syntax",
    "simproc": "syntax",
    "init": "eval",
    "linter": "eval",
}

_SET_OPTION = re.compile(_NOT_BEFORE + r"set_option\s+([\w.]+)\s+(\S+)")
_UNBOUNDED = frozenset({"maxHeartbeats", "synthInstance.maxHeartbeats", "maxRecDepth"})

_DECLARATION = re.compile(
    _NOT_BEFORE
    + r"(?:theorem|lemma|def|abbrev|instance|opaque|axiom|structure|inductive|class)\s+"
    + r"(_root_\.)?([^\s(\[{⦃:]+)"
)
_SCOPE = re.compile(r"^[ \t]*(namespace|section|end)\b[ \t]*(\S*)", re.M)
_OPEN_IN_BEFORE = re.compile(
    _NOT_BEFORE
    + r"open\b[^\n]*\bin\s*(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable)\s+)*\Z"
)


def lean_findings(
    untrusted: str, *, theorem: str, whole_file: bool, allowed_options: tuple[str, ...]
) -> list[Finding]:
    """Every place in `untrusted` where a rule matches, in text order."""
    found: dict[tuple[str, int], Finding] = {}
    for view in dict.fromkeys(lean_code_views(untrusted)):  # one view when they agree
        code = fold(view)
        hits = [
            *_pattern_findings(code),
            *_hash_findings(code),
            *_attribute_findings(code),
            *_option_findings(code, allowed_options),
            *_declaration_findings(code, theorem, whole_file),
        ]
        for hit in hits:
            finding = _finding(untrusted, code, *hit)
            found.setdefault((finding.rule, finding.offset), finding)
    return sorted(
        found.values(), key=lambda f: (f.offset, _RULE_ORDER.get(f.rule, len(_RULE_ORDER)))
    )


_Hit = tuple[str, int, int]  # rule, start and end in the folded code


def _finding(untrusted: str, code: Folded, rule: str, start: int, end: int) -> Finding:
    """The finding, its excerpt taken from what the author wrote (look-alikes included)."""
    first = code.source_offset(start)
    last = code.source_offset(max(start, end - 1)) + 1
    excerpt = " ".join(untrusted[first:last].split())
    return Finding(rule=rule, offset=first, excerpt=excerpt[:80])


def _pattern_findings(code: Folded) -> Iterator[_Hit]:
    for rule, pattern in _PATTERNS:
        for m in pattern.finditer(code.text):
            yield rule, m.start(), m.end()


def _hash_findings(code: Folded) -> Iterator[_Hit]:
    for m in _HASH_COMMAND.finditer(code.text):
        name = m.group(1)
        if name not in _HASH_ALLOWED and name not in _HASH_HANDLED:
            yield "command", m.start(), m.end()


def _attribute_findings(code: Folded) -> Iterator[_Hit]:
    text = code.text
    for m in _ATTRIBUTES.finditer(text):
        end = _closing_bracket(text, m.end())
        for entry in text[m.end() : end].split(","):
            words = re.findall(r"[\w.]+", entry)
            words = [w for w in words if w not in ("local", "scoped", "instance")]
            if not words:
                continue
            name = words[0]
            rule = _ATTRIBUTE_RULES.get(name)
            if rule is None and name.startswith("builtin_"):
                rule = "syntax"
            if rule is not None:
                yield rule, m.start(), end + 1


def _closing_bracket(text: str, i: int) -> int:
    depth = 1
    while i < len(text):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text)


def _option_findings(code: Folded, allowed: tuple[str, ...]) -> Iterator[_Hit]:
    for m in _SET_OPTION.finditer(code.text):
        name, value = m.group(1), m.group(2)
        permitted = any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed)
        if not permitted or (name in _UNBOUNDED and value == "0"):
            yield "option", m.start(), m.end()


def _declaration_findings(code: Folded, theorem: str, whole_file: bool) -> Iterator[_Hit]:
    """A proof may not declare the theorem's name at all; a whole file declares it once, under
    exactly that full name, and not right after `open … in`."""
    text = code.text
    short = theorem.rsplit(".", 1)[-1]
    declared = 0
    for m in _DECLARATION.finditer(text):
        name = m.group(2)
        if name.rsplit(".", 1)[-1] != short:
            continue
        full = name if m.group(1) else ".".join([*_namespaces(text, m.start()), name])
        declared += full == theorem
        if _OPEN_IN_BEFORE.search(text, 0, m.start()):
            yield "open_in", m.start(), m.end()
        if not whole_file or full != theorem or declared > 1:
            yield "redeclare", m.start(), m.end()


def _namespaces(text: str, offset: int) -> list[str]:
    """The namespaces open at `offset`; a section adds no prefix to names."""
    stack: list[str] = []
    for m in _SCOPE.finditer(text, 0, offset):
        if m.group(1) == "end":
            if stack:
                stack.pop()
        else:
            stack.append(m.group(2) if m.group(1) == "namespace" else "")
    return [part for part in stack if part]
