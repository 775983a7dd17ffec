"""Layout normalization for cache keys: two texts may share a key only if the prover cannot tell
them apart.

Coq. Coq's lexer treats the four ASCII blanks (space, tab, LF, CR) as separators and nothing more,
so a run of them becomes one space (never zero: `a b` and `ab` differ, as do `x.` + blank and
`x.` + text). A comment is a blank only where the lexer is already between tokens, that is after
a blank or after another such comment; elsewhere it is not: `exact I.(*c*) Qed.` is a syntax
error (`.(` starts a projection) while `exact I. (*c*) Qed.` is fine. So only comments that follow
a blank are removed; the others are kept verbatim, as are strings. Form feed and Unicode spaces are
not Coq blanks (`.` + NBSP does not end a sentence) and are left alone. The text's own start and
end are treated as unknown neighbours, since the engine puts text around it: a leading or
trailing blank run stays one space, a comment at the very start stays. A text that does not lex
(an unterminated comment or string) is returned unchanged.

Lean 4. Left unchanged, deliberately. Every candidate transformation found so far can change a
verdict: tabs are a parse error ("tabs are not allowed"), so tabs cannot be dropped; carriage
returns are rejected outright by some Lean versions' whitespace parser ("isolated carriage returns
are not allowed" before CRLF was accepted), so CRLF -> LF can turn a failing text into a passing
one; and the parser keeps every byte of layout and comments in the syntax tree (the leading and
trailing `SourceInfo` of each token), where an elaborator (`run_tac`, or an `elab` a whole-file
candidate defines) can read it, so even trailing spaces are observable. Duplicates in LLM samples
are overwhelmingly exact, which identity keys still catch.

`NORMALIZATION_VERSION` goes into every cache key: changing a rule must not reuse old keys.
"""

from __future__ import annotations

from leanfilter.backends.coq_syntax import BLANKS, CoqLexError, skip_comment, skip_string
from leanfilter.records import BackendName

NORMALIZATION_VERSION = "1"


def normalize_proof(backend: BackendName, text: str) -> str:
    return _coq_layout(text) if backend is BackendName.COQ else text


def normalize_statement(backend: BackendName, text: str) -> str:
    return _coq_layout(text) if backend is BackendName.COQ else text


def _coq_layout(text: str) -> str:
    try:
        return _coq_layout_or_raise(text)
    except CoqLexError:
        return text


def _coq_layout_or_raise(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    gap = False  # the lexer is between tokens after a blank: a comment here is a blank too
    while i < n:
        c = text[i]
        if c in BLANKS:
            gap = True
            i += 1
        elif text.startswith("(*", i):
            j = skip_comment(text, i + 2)
            if not gap:
                out.append(text[i:j])
            i = j
        else:
            if gap:
                out.append(" ")
                gap = False
            j = skip_string(text, i + 1) if c == '"' else i + 1
            out.append(text[i:j])
            i = j
    if gap:
        out.append(" ")
    return "".join(out)
