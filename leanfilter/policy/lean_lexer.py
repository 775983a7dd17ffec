"""The code of a Lean text, with comments and literal contents blanked out.

A banned word inside a comment or a string is not a use, and a real use next to a comment is, so
text rules read this view: the same length as the text (offsets and lines stay valid), with
comments (`--`, nested `/- -/`, doc comments), string, raw string and character literal contents
replaced by spaces, and the guillemets of escaped identifiers removed (`«sorry»` is `sorry`).
Whether a string has `{…}` holes is decided by Lean's parser, not its lexer (`s!"…"`, `m!"…"`
and many macros' string arguments are interpolated; a plain `"…"` is not), so there are two
views, one per reading, and rules read both: in a plain string `"{"` ends the string, and
`"{" sorry "}"` runs `sorry`. The text inside `«…»` is an identifier, never a comment or string
start (`«/-»` opens no comment). An unterminated comment or string blanks the rest of the text,
as Lean itself stops reading code there.
"""

from __future__ import annotations

import re

_CHAR_LITERAL = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")
_RAW_STRING = re.compile(r'r(#*)"')
_IDENT_CHAR = re.compile(r"[\w'!?.]")


class _View:
    def __init__(self, text: str, holes: bool) -> None:
        self.text = text
        self.holes = holes
        self.out = list(text)

    def blank(self, start: int, end: int) -> None:
        for i in range(start, min(end, len(self.text))):
            if self.out[i] != "\n":
                self.out[i] = " "

    def code(self, i: int, closing: str | None = None) -> int:
        """Scan code from `i`; stop after `closing` at depth 0 (a string hole's `}`)."""
        text, n, depth = self.text, len(self.text), 0
        while i < n:
            c = text[i]
            if closing is not None and c == closing and depth == 0:
                return i + 1
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if text.startswith("--", i):
                end = text.find("\n", i)
                end = n if end < 0 else end
                self.blank(i, end)
                i = end
            elif text.startswith("/-", i):
                i = self.block_comment(i)
            elif c == '"':
                i = self.string(i + 1)
            elif c == "r" and (i == 0 or not _IDENT_CHAR.match(text[i - 1])):
                i = self.raw_string(i)
            elif c == "'" and (i == 0 or not _IDENT_CHAR.match(text[i - 1])):
                i = self.char_literal(i)
            elif c == "«":
                i = self.escaped_identifier(i)
            else:
                i += 1
        return n

    def block_comment(self, start: int) -> int:
        text, n, depth, i = self.text, len(self.text), 1, start + 2
        while i < n and depth:
            if text.startswith("/-", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("-/", i):
                depth, i = depth - 1, i + 2
            else:
                i += 1
        self.blank(start, i)
        return i

    def string(self, i: int) -> int:
        """`i` is just after the opening quote; literal parts blanked, holes scanned as code."""
        text, n = self.text, len(self.text)
        while i < n:
            c = text[i]
            if c == "\\":
                self.blank(i, i + 2)
                i += 2
            elif c == '"':
                return i + 1
            elif c == "{" and self.holes:
                i = self.code(i + 1, closing="}")
            else:
                self.blank(i, i + 1)
                i += 1
        return n

    def raw_string(self, i: int) -> int:
        found = _RAW_STRING.match(self.text, i)
        if found is None:
            return i + 1
        terminator = '"' + found.group(1)
        end = self.text.find(terminator, found.end())
        end = len(self.text) if end < 0 else end + len(terminator)
        self.blank(found.end(), end - len(terminator))
        return end

    def escaped_identifier(self, i: int) -> int:
        """`«…»`: the guillemets go, the name stays, and nothing inside is read as syntax."""
        end = self.text.find("»", i + 1)
        end = len(self.text) if end < 0 else end
        self.out[i] = " "
        if end < len(self.text):
            self.out[end] = " "
        return end + 1

    def char_literal(self, i: int) -> int:
        found = _CHAR_LITERAL.match(self.text, i)
        if found is None:
            return i + 1
        self.blank(i + 1, found.end() - 1)
        return found.end()


def lean_code_views(text: str) -> tuple[str, str]:
    """The code as Lean reads it with every string interpolated, and with none."""
    views = []
    for holes in (True, False):
        view = _View(text, holes)
        view.code(0)
        views.append("".join(view.out))
    return views[0], views[1]
