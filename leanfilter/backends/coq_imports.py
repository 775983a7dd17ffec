"""The library loads of a Coq header, read as Coq reads them.

A header sentence is a library load only when the whole sentence is one: `From P Require Import
M.`, `Require Export M N.`, `Import M.`, `Open Scope s.` and nothing else, after comments are
removed by the sentence splitter. Anything that merely starts like one (`Export Unset Guard
Checking.`) is no header sentence, and text inside a comment is no load at all: decisions taken on
a header (where it ends, which axioms its libraries bring) cannot be steered by how text looks.
"""

from __future__ import annotations

import re

from leanfilter.backends.coq_syntax import CoqLexError, Sentence, sentences

# A module path; a command word where a module should be (`Export Set ...`) is a command, not one.
_COMMAND_WORDS = r"(?:Set|Unset|Open|Close|Local|Global|Hint|Existing|Coercion|Arguments|Notation)"
_IDENT = rf"(?!{_COMMAND_WORDS}\b)[A-Za-z_][\w']*"
_QUALID = rf"{_IDENT}(?:\.{_IDENT})*"
_REQUIRE = re.compile(
    rf"(?:From\s+(?P<prefix>{_QUALID})\s+)?Require(?:\s+(?:Import|Export))?"
    rf"(?P<modules>(?:\s+{_QUALID})+)\s*\.",
)
_IMPORT = re.compile(rf"(?:Import|Export)(?:\s+{_QUALID})+\s*\.")
_SCOPE = re.compile(r"(?:(?:Local|Global)\s+)?Open\s+Scope\s+[A-Za-z_][\w']*\s*\.")


def is_header_sentence(sentence: Sentence) -> bool:
    """A library load or scope opening, and nothing more."""
    text = sentence.text
    return any(p.fullmatch(text) for p in (_REQUIRE, _IMPORT, _SCOPE))


def required_libraries(header: str) -> set[str]:
    """Logical names of the libraries `header` requires (`From Coq Require Reals` gives
    `Coq.Reals`). A header that cannot be split requires nothing we could name."""
    try:
        parts = sentences(header)
    except CoqLexError:
        return set()
    found: set[str] = set()
    for sentence in parts:
        m = _REQUIRE.fullmatch(sentence.text)
        if m is None:
            continue
        prefix = f"{m.group('prefix')}." if m.group("prefix") else ""
        found.update(prefix + module for module in m.group("modules").split())
    return found
