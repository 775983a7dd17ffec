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

# No part can run past a `<`, so text full of opened prompts is scanned in linear time.
_PROMPT = re.compile(r"<prompt>([^ \n<]+) < (\d+) \|([^|<]*)\| \d+ < </prompt>")
_LOCATION = re.compile(r"Toplevel input, characters (\d+)-(\d+):")
_OPEN, _CLOSE = "<infomsg>", "</infomsg>"
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


def exact_answers(text: str, count: int) -> list[str] | None:
    """The answers to `count` sentences, or None when coqtop printed another number of prompts:
    one printed inside an answer (a string in a type, a tactic's message) leaves no answer
    attributable to its sentence."""
    return answers(text) if len(prompts(text)) == count else None


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
    infos, plain = split_infomsgs(seg)
    for info in infos:
        info = info.strip()
        if info and not info.startswith(_NOISE):
            out.append(Message(severity=Severity.INFO, text=info))
    plain = _WARNING_TAGS.sub("", plain)
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


def split_infomsgs(seg: str) -> tuple[list[str], str]:
    """The `<infomsg>` bodies, and the text around them; in one pass, so that output full of
    unclosed tags (a candidate can print any) costs time linear in its length."""
    infos: list[str] = []
    plain: list[str] = []
    i = 0
    while (start := seg.find(_OPEN, i)) >= 0:
        close = seg.find(_CLOSE, start)
        if close < 0:
            break
        plain.append(seg[i:start])
        infos.append(seg[start + len(_OPEN) : close])
        i = close + len(_CLOSE)
    plain.append(seg[i:])
    return infos, "".join(plain)


def _position(body: str, byte_offset: int) -> Position:
    prefix = body.encode()[:byte_offset].decode(errors="ignore")
    line = prefix.count("\n") + 1
    return Position(line=line, column=len(prefix) - (prefix.rfind("\n") + 1))


def has_error(text: str) -> bool:
    return error_in(text) is not None


def error_in(text: str) -> str | None:
    """The first error in coqtop's answer to the text, if there is one."""
    return first_error(messages(text))


CLOSED = "Closed under the global context"
_SECTIONS = ("Section Variables:", "Axioms:")
_ENTRY = re.compile(r"(\S+)(?: : .*)?")
# Coq's note under an axiom that a proof eliminates (`match f return False with end`), the type it
# proves indented below: about the entry above it, never one itself.
_USED_IN = re.compile(r"used in \S+ to prove")


def assumptions(text: str) -> list[str] | None:
    """Assumption names from one `Print Assumptions` answer, read by its grammar; [] when closed;
    None when the answer is anything else.

    The answer is either exactly the closed phrase, or sections (`Axioms:`, `Section Variables:`)
    of entries. An entry starts at column 0 with its name; Coq indents the rest of a long type, or
    starts it with `:`. Binder names inside a type are the candidate's choice, so nothing inside
    an entry is ever read as a verdict: a forged line can only add entries, never remove one.
    Unsafe flags (unguarded fixpoints, non-positive types, type-in-type) come back as
    `unsafe:<constant> <what>` so no allow-list can accept them by accident.
    """
    replies = answers(text)
    if len(replies) != 1:
        return None
    reply = _after_leading_infomsgs(replies[0]).strip("\n")
    if reply == CLOSED:
        return []
    lines = reply.split("\n")
    if not lines or lines[0] not in _SECTIONS:
        return None
    names: list[str] = []
    for line in lines[1:]:
        if line in _SECTIONS or not line or line[0] in " :" or _USED_IN.fullmatch(line):
            continue
        unsafe = _UNSAFE.fullmatch(line)
        entry = _ENTRY.fullmatch(line)
        if unsafe:
            names.append(f"unsafe:{unsafe.group(1)} {unsafe.group(2)}")
        elif entry:
            names.append(entry.group(1))
        else:
            return None
    return names


def _after_leading_infomsgs(answer: str) -> str:
    """The answer without the messages Coq prints before it (loading opaque proofs); only those
    before the first line of the answer proper, which the candidate's text cannot reach."""
    i, n = 0, len(answer)
    while True:
        while i < n and answer[i] in " \n":
            i += 1
        close = answer.find(_CLOSE, i) if answer.startswith(_OPEN, i) else -1
        if close < 0:
            return answer[i:]
        i = close + len(_CLOSE)


def located_constant(answer: str) -> str | None:
    """The full path in a `Locate Term` answer: its first line names what the name resolves to."""
    m = re.search(r"^Constant (\S+)", split_infomsgs(answer)[1], re.M)
    return m.group(1) if m else None


_GLOBAL = re.compile(r"(?:Constant|Constructor|Inductive|Notation) (\S+)")


def located_global(answer: str) -> str | None:
    """The full path of the global a `Locate Term` answer resolves the name to, whatever it is.
    The answer holds no text of the candidate's but the name asked about."""
    m = _GLOBAL.match(split_infomsgs(answer)[1].lstrip("\n"))
    return m.group(1) if m else None


_PATTERN = re.compile(r"^(?:Constructor|Notation) (\S+)", re.M)


def pattern_inside(answer: str, module: str) -> bool:
    """Whether a `Locate Term` answer lists a constructor or an abbreviation made inside
    `module`, at any depth: what a name in a pattern can stand for, where the file's own
    `Import` of a submodule of its own (closed with the module) makes the short name reach it."""
    paths = _PATTERN.findall(split_infomsgs(answer)[1])
    return any(module in path.split(".") for path in paths)


def names_global(answer: str) -> bool:
    """Whether the name a `Locate Term` answer is about stands for a global where it was asked:
    Coq lists every global of that suffix, each one the name does not reach noted with the
    shorter name that does."""
    lines = split_infomsgs(answer)[1].strip("\n").split("\n")
    reached = len(lines) < 2 or not lines[1].lstrip().startswith("(shorter name")
    return _GLOBAL.match(lines[0]) is not None and reached


_EXPANDS = re.compile(r"Expands to: (?:Constant|Constructor|Inductive) (\S+)")


def about_type(answer: str, name: str) -> str | None:
    """The type in an `About name` answer, on one line, or None when the answer is not about the
    global `name` (a universe-polymorphic one prints `name@{u}`, which reads as no type here).
    The type holds the candidate's identifiers, never a blank line; with `Set Printing All` it
    holds no notation either, so no string or number can shape it."""
    head, _, rest = answer.strip("\n").partition("\n\n")
    lines = rest.split("\n")
    expands = _EXPANDS.fullmatch(lines[-1])
    if not head.startswith(f"{name} :") or expands is None:
        return None
    if not expands.group(1).endswith(f".{name}"):
        return None
    return " ".join(head[len(name) + 2 :].split())


_ORDER = ("<", "<=", "=")


def universe_constraints(answer: str) -> set[tuple[str, str, str]] | None:
    """The constraints `(u, op, v)` of a `Print Universes` answer, `op` one of `<`, `<=`, `=`;
    a universe listed without any is `(u, "", "")`. Coq prints a universe, then its first
    constraint on that line and the others below it, each line starting with its relation (Coq's
    boxes indent them, not always). None when a line reads otherwise."""
    found: set[tuple[str, str, str]] = set()
    head = None
    for line in split_infomsgs(answer)[1].split("\n"):
        words = line.split()
        if not words:
            continue
        if words[0] not in _ORDER:  # a universe; else its next constraint (indented or not)
            head, words = words[0], words[1:]
        if head is None:
            return None
        if not words:
            found.add((head, "", ""))
        elif len(words) == 2 and words[0] in _ORDER:
            found.add((head, words[0], words[1]))
        else:
            return None
    return found
