"""Just enough of Coq's lexer to split a script into sentences safely.

Comments nest, strings may sit inside comments (and a `*)` inside such a string does not close the
comment), `""` escapes a quote, and a sentence ends at a `.` or a `...` followed by whitespace or
the end of the text. Bullets (`-`, `+`, `*`, repeated), braces, and a goal selector with its brace
(`1:{`, `[G]:{`, `all:{`) are sentences of their own. A quotation is one token: an identifier or a
number, then `:` and two or more `{` with nothing between (`a:{{ … }}`, `1:{{{ … }}}`), up to the
matching run of as many `}`; a run of as many `{` inside nests, and nothing else inside is a
comment, a string or a sentence end; `x.(*` opens no comment, `.(` being a token (measured
against coqtop 8.16: tests/test_coq_syntax.py). Where this differs from Coq anyway, the session
sees it: Coq's own count of the sentences it ran is compared with this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BULLET_CHARS = "-+*"
BLANKS = " \t\n\r"  # Coq's blanks; a no-break space or a form feed is not one
_RANGE = r"\d+(?:\s*-\s*\d+)?"
_SELECTOR_BRACE = re.compile(rf"(?:all|!|\[\s*[\w']+\s*\]|{_RANGE}(?:\s*,\s*{_RANGE})*)\s*:\s*\{{")
_SELECTOR_CHARS = frozenset("0123456789,-[]!:'_" + BLANKS)  # and letters: `all`, goal names
STRING = re.compile(r'"(?:[^"]|"")*"')  # a string literal: `""` is a quote inside it


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offset in the original text
    end: int


class CoqLexError(ValueError):
    """The text cannot be split: an unterminated comment or string, or a dangling sentence."""


def skip_string(text: str, i: int) -> int:
    """`i` is just after an opening quote; return the index just after the closing one."""
    n = len(text)
    while i < n:
        if text[i] == '"':
            if i + 1 < n and text[i + 1] == '"':
                i += 2
                continue
            return i + 1
        i += 1
    raise CoqLexError("unterminated string")


def skip_comment(text: str, i: int) -> int:
    """`i` is just after an opening `(*`; return the index just after the matching `*)`."""
    depth, n = 1, len(text)
    while i < n:
        if text.startswith("(*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*)", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        elif text[i] == '"':
            i = skip_string(text, i + 1)
        else:
            i += 1
    raise CoqLexError("unterminated comment")


def opens_quotation(text: str, i: int) -> bool:
    """`text[i]` is a `:` that starts a quotation: right after an identifier or a number (the
    token before it) and right before at least two `{`."""
    before = text[i - 1] if i > 0 else " "
    return (before.isalnum() or before in "_'") and text.startswith("{{", i + 1)


def skip_quotation(text: str, i: int) -> int:
    """`i` is at the first `{` of a quotation; return the index just after its closing run."""
    rest = text[i:]
    width = len(rest) - len(rest.lstrip("{"))
    opening, closing = "{" * width, "}" * width
    depth, n = 0, len(text)
    while i < n:
        if text.startswith(opening, i):
            depth, i = depth + 1, i + width
        elif text.startswith(closing, i):
            depth, i = depth - 1, i + width
            if depth == 0:
                return i
        else:
            i += 1
    raise CoqLexError("unterminated quotation")


def opens_comment(text: str, i: int) -> bool:
    """`text[i:]` starts a comment outside one: `(*`, unless its `(` ends a `.(` token (the
    projection syntax `x.(f)`), which Coq's lexer reads from a run of dots that `...` tokens
    leave one of (measured: `x.(*`, `....(*` open no comment; `..(*`, `...(*` do)."""
    if not text.startswith("(*", i):
        return False
    dots = 0
    while dots < i and text[i - 1 - dots] == ".":
        dots += 1
    return dots % 3 != 1


def strip_comments(text: str) -> str:
    """The text with every comment replaced by one space; strings and quotations are kept as
    they are."""
    out, i, n = [], 0, len(text)
    while i < n:
        if opens_comment(text, i):
            i = skip_comment(text, i + 2)
            out.append(" ")
        elif text[i] == '"' or (text[i] == ":" and opens_quotation(text, i)):
            j = skip_string(text, i + 1) if text[i] == '"' else skip_quotation(text, i + 1)
            out.append(text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def sentences(text: str) -> list[Sentence]:
    """Split a script into sentences, comments removed. Raises CoqLexError on a dangling end."""
    result: list[Sentence] = []
    i, n, start = 0, len(text), None
    parts: list[str] = []
    selector = True  # the sentence so far may still be a goal selector before its brace

    def close(end: int) -> None:
        nonlocal start, parts, selector
        body = "".join(parts).strip()
        if body and start is not None:
            result.append(Sentence(body, start, end))
        start, parts, selector = None, [], True

    while i < n:
        c = text[i]
        if opens_comment(text, i):
            i = skip_comment(text, i + 2)
            parts.append(" ")
            continue
        if c in BLANKS:
            parts.append(c)
            i += 1
            continue
        if start is None:
            if c in _BULLET_CHARS:
                j = i
                while j < n and text[j] == c:
                    j += 1
                result.append(Sentence(text[i:j], i, j))
                i = j
                continue
            if c in "{}":
                result.append(Sentence(c, i, i + 1))
                i += 1
                continue
            start = i
        if c == '"' or (c == ":" and opens_quotation(text, i)):
            j = skip_string(text, i + 1) if c == '"' else skip_quotation(text, i + 1)
            parts.append(text[i:j])
            i, selector = j, False
            continue
        parts.append(c)
        i += 1
        if c == "{" and selector and _SELECTOR_BRACE.fullmatch("".join(parts).strip()):
            close(i)
            continue
        selector = selector and (c in _SELECTOR_CHARS or c.isalpha())
        if _ends_sentence(text, i):
            close(i)
    if start is not None and "".join(parts).strip():
        raise CoqLexError("the text ends inside a sentence (a missing final '.')")
    return result


def _ends_sentence(text: str, i: int) -> bool:
    """A `.` at `text[i - 1]` before a blank or the end ends a sentence, unless it closes `..`."""
    if text[i - 1] != "." or (i < len(text) and text[i] not in BLANKS):
        return False
    dots = 1
    while dots < i and text[i - 1 - dots] == ".":
        dots += 1
    return dots != 2
