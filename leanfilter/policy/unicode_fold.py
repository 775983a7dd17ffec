"""Unicode folding for text rules: look-alikes must not slip a banned word through.

A prover reads `sorry` spelled with a Cyrillic s, with a zero-width space inside or in
fullwidth letters as something other than `sorry`, usually an error; but a text rule that
compares code points would let such a word through wherever the prover's reading and ours
differ. So every text rule runs on
a folded copy: compatibility forms decomposed (NFKC: fullwidth, mathematical alphanumerics,
ligatures), combining marks and invisible format characters removed, and letters that look like
ASCII letters (Cyrillic, Greek, Armenian, a few Latin ones) mapped to them. Folding only ever
makes more text look like a banned word, never less, so it can reject but not admit.

Each folded character remembers the offset of the original character it came from, so a finding
points at the line the author wrote.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Letters drawn like ASCII letters in common fonts (a subset of Unicode's confusables.txt that
# covers the Latin alphabet: Cyrillic, Greek, Armenian and a few Latin letters), written as
# escapes so that the source itself holds no look-alikes. NFKC already handles fullwidth and
# mathematical letters.
_LOOKALIKES = str.maketrans(
    "\u0430\u0432\u0435\u043e\u0440\u0441"
    "\u0443\u0445\u0455\u0456\u0458\u0501"
    "\u051b\u051d\u04bb\u04cf\u04af\u0261"
    "\u0410\u0412\u0415\u041a\u041c\u041d"
    "\u041e\u0420\u0421\u0422\u0425\u0405"
    "\u0406\u0408\u04ae\u0500\u051a\u051c"
    "\u04c0\u03b1\u03bf\u03bd\u03c1\u03b9"
    "\u03ba\u03c5\u03c4\u0391\u0392\u0395"
    "\u0396\u0397\u0399\u039a\u039c\u039d"
    "\u039f\u03a1\u03a4\u03a5\u03a7\u0585"
    "\u057d\u0570\u0578\u0581\u0131\u0237"
    "\u0251\u0269\u028f",
    "abeopcyxsijdqwhlygABEKMHOPCTXSIJYDQWIaovpikutABEZHIKMNOPTYXouhngijaiy",
)
# Invisible characters that Unicode classes as letters rather than format characters.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})


@dataclass(frozen=True)
class Folded:
    """Folded text, and for each of its characters the offset of the original one."""

    text: str
    origin: tuple[int, ...] | None  # None: the identity (the text was ASCII)

    def source_offset(self, index: int) -> int:
        if self.origin is None:
            return index
        if not self.origin:
            return 0
        return self.origin[min(index, len(self.origin) - 1)]


def fold_char(c: str) -> str:
    """What one character reads as for the text rules: maybe several characters, maybe none."""
    if c.isascii():
        return c
    if c in _INVISIBLE_LETTERS:
        return ""
    decomposed = unicodedata.normalize("NFKD", c)
    kept = "".join(d for d in decomposed if unicodedata.category(d) not in _DROPPED_CATEGORIES)
    composed = unicodedata.normalize("NFKC", kept)
    return composed.translate(_LOOKALIKES)


def fold(text: str) -> Folded:
    if text.isascii():
        return Folded(text, None)
    out: list[str] = []
    origin: list[int] = []
    for i, c in enumerate(text):
        folded = fold_char(c)
        out.append(folded)
        origin.extend([i] * len(folded))
    return Folded("".join(out), tuple(origin))


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
