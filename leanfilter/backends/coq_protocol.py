"""Reading `coqtop -emacs`: prompts, per-sentence output, messages and `Print Assumptions`.

coqtop prints a prompt before reading each sentence, then that sentence's output, so the text
between two prompts is one sentence's answer. The prompt carries the state id (the argument of
`BackTo`) and the proofs still open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from leanfilter.backends.base import first_error
from leanfilter.records import Message, Position, Severity

_PROMPT = re.compile(r"<prompt>(\S+) < (\d+) \|([^|]*)\| \d+ < </prompt>")
_LOCATION = re.compile(r"Toplevel input, characters (\d+)-(\d+):")
_INFOMSG = re.compile(r"<infomsg>(.*?)</infomsg>", re.S)
_WARNING_TAGS = re.compile(r"</?warning>")
_NOISE = ("Loading ML file", "Fetching opaque proofs", "Skipping rcfile", "Welcome to Coq")
_UNSAFE = re.compile(r"^(\S+) (is assumed to be \w+|relies on .*)\.?$")


@dataclass(frozen=True)
class Prompt:
    state: int
    open_proofs: tuple[str, ...]
    end: int  # offset just after the prompt in the text it was read from


def prompts(text: str) -> list[Prompt]:
    return [
        Prompt(int(m.group(2)), tuple(p for p in m.group(3).split("|") if p), m.end())
        for m in _PROMPT.finditer(text)
    ]


def answers(text: str) -> list[str]:
    """The answers to consecutive sentences in output that ends with a prompt."""
    parts = _PROMPT.split(text)[0::4]  # split() yields: answer, name, state, proofs, answer, ...
    return parts[:-1] if len(parts) > 1 else parts


def messages(text: str, body: str | None = None) -> list[Message]:
    """Errors, warnings and informative messages in coqtop output, in order.

    With `body` (the one-line text the offsets refer to), positions are mapped back to it.
    """
    found: list[Message] = []
    for answer in answers(text):
        found.extend(_answer_messages(answer, body))
    return found


def _answer_messages(seg: str, body: str | None) -> list[Message]:
    out: list[Message] = []
    for info in _INFOMSG.findall(seg):
        info = info.strip()
        if info and not info.startswith(_NOISE):
            out.append(Message(severity=Severity.INFO, text=info))
    plain = _WARNING_TAGS.sub("", _INFOMSG.sub("", seg))
    for severity, word in ((Severity.ERROR, "Error:"), (Severity.WARNING, "Warning:")):
        idx = plain.find(word)
        if idx < 0:
            continue
        msg = " ".join(plain[idx + len(word) :].split())
        loc = _LOCATION.search(plain, 0, idx)
        pos = end = None
        if loc and body is not None:
            pos, end = (_position(body, int(loc.group(k))) for k in (1, 2))
        out.append(Message(severity=severity, text=msg, pos=pos, end_pos=end))
    return out


def _position(body: str, byte_offset: int) -> Position:
    prefix = body.encode()[:byte_offset].decode(errors="ignore")
    line = prefix.count("\n") + 1
    return Position(line=line, column=len(prefix) - (prefix.rfind("\n") + 1))


def has_error(text: str) -> bool:
    return error_in(text) is not None


def error_in(text: str) -> str | None:
    """The first error in coqtop's answer to the text, if there is one."""
    return first_error(messages(text))


def assumptions(text: str) -> list[str] | None:
    """Axiom names from `Print Assumptions`; [] when closed; None when the output is neither.

    Unsafe flags (unguarded fixpoints, non-positive types, type-in-type) come back as
    `unsafe:<constant> <what>` so no allow-list can accept them by accident.
    """
    plain = _INFOMSG.sub("", text)
    if "Closed under the global context" in plain:
        return []
    head = re.search(r"^Axioms:\s*$", plain, re.M)
    if not head:
        return None
    names: list[str] = []
    for line in plain[head.end() :].splitlines():
        if not line.strip() or line[0].isspace():
            continue
        if line.startswith("<prompt>"):
            break
        unsafe = _UNSAFE.match(line.strip())
        if unsafe:
            names.append(f"unsafe:{unsafe.group(1)} {unsafe.group(2)}")
        else:
            names.append(line.split(" : ")[0].strip())
    return names


def located_constant(answer: str) -> str | None:
    """The full path in a `Locate Term` answer: its first line names what the name resolves to."""
    m = re.search(r"^Constant (\S+)", _INFOMSG.sub("", answer), re.M)
    return m.group(1) if m else None
