"""Reading candidates and problems from JSONL, one line at a time, never giving up on a file.

A bad line (not JSON, not UTF-8, a missing field, an unknown problem, an empty proof) becomes an
`InputError` naming the line and what is wrong; the lines around it are read as usual.

Candidate lines take three forms:
- `{"name", "code"}`: a whole file; its leading imports are the header; for Coq, without a problem,
  its own `Theorem name … : T.` sentence is the statement, which the engine reads before the file
  runs (`backends/coq_statement.py`), and a file with no such sentence is refused;
- `{"name", "header"?, "formal_statement", "proof"}`;
- `{"name", "proof"}`, the statement and header coming from a problems file by name.

Where a problem is known, its header and statement are the only trusted text. A line that brings
a different header or statement for it (in `header`, `formal_statement`, or as the leading imports
of its `code`) is refused as `input.untrusted`, never obeyed: a copy of the trusted text is
dropped, and what follows it is untrusted text, run after the trusted statement was elaborated.
Every string in a line, in any field, is screened for control characters the same way.
Problem files: DeepSeek-Prover's (miniF2F, ProofNet: `formal_statement`, `header`), miniF2F-rocq's
(`text` holding imports, statement and `Proof.`), miniCodeProps' (`full_name`, `prop_defn`, `deps`),
our own (`statement`, `backend`), and LeanDojo Benchmark 4's JSON lists (`leanfilter/leandojo.py`).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from leanfilter.backends.coq_imports import is_header_sentence
from leanfilter.backends.coq_statement import (
    THEOREM_NAME,
    THEOREM_WORDS,
    own_statement,
    parse_signature,
)
from leanfilter.backends.coq_syntax import CoqLexError, Sentence, sentences, strip_comments
from leanfilter.leandojo import is_leandojo_file, leandojo_records
from leanfilter.records import BackendName, Candidate, Problem, SamplerInfo, Status, Verdict

_SAMPLER_FIELDS = set(SamplerInfo.model_fields)
_LEAN_HINTS = re.compile(r"^\s*import\s|:=\s*by\b|^\s*(theorem|lemma)\s", re.M)
_COQ_HINTS = re.compile(
    r"^\s*(Require|From)\s|\b(Theorem|Lemma)\s+\S+.*\.\s|\bQed\.|\bProof\.", re.M
)


UNTRUSTED = "input.untrusted"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InputError(BaseModel):
    """Why one input line could not become a candidate: malformed (`input.invalid`), or an
    attempt to replace trusted text (`input.untrusted`, which the verdict calls `rejected`)."""

    line: int
    name: str | None = None
    message: str
    reason: str = "input.invalid"

    def verdict(self) -> Verdict:
        """The line's verdict: `rejected` for an attempt to replace trusted text, else `error`."""
        return Verdict(
            name=self.name or "",
            status=Status.REJECTED if self.reason == UNTRUSTED else Status.ERROR,
            reason=self.reason,
            detail=f"line {self.line}: {self.message}",
        )


class UntrustedInput(ValueError):
    """A line brings its own header or statement for a problem whose trusted ones are known."""


def detect_backend(*texts: str) -> BackendName | None:
    text = "\n".join(texts)
    lean, coq = bool(_LEAN_HINTS.search(text)), bool(_COQ_HINTS.search(text))
    if lean != coq:
        return BackendName.LEAN if lean else BackendName.COQ
    return None


# -- problems ----------------------------------------------------------------------------


def load_problems(path: str | Path, backend: BackendName | None = None) -> dict[str, Problem]:
    """Problems by name, from JSON lines or a LeanDojo Benchmark 4 JSON list (told apart by the
    file's first character). Raises ValueError naming the file and the line (or record index)
    of the first bad record."""
    path = Path(path)
    leandojo = is_leandojo_file(path)
    entries = leandojo_records(path) if leandojo else _json_lines(path)
    problems: dict[str, Problem] = {}
    for number, record in entries:
        where = f"{path}: record {number}" if leandojo else f"{path}:{number}"
        if isinstance(record, str):
            raise ValueError(f"{where}: {record}")
        try:
            problem = problem_from_record(record, backend)
        except (KeyError, ValueError, ValidationError) as e:
            raise ValueError(f"{where}: {_reason(e)}") from e
        problems[problem.name] = problem
    return problems


def problem_from_record(record: dict, backend: BackendName | None = None) -> Problem:
    _screen_fields(record)
    if "text" in record and "formal_statement" not in record:
        name = _string(record, "name")
        header, statement = _split_coq_problem(_string(record, "text"), name)
        return Problem(
            name=name,
            backend=BackendName.COQ,
            header=header,
            statement=statement,
            split=record.get("split"),
            source=record.get("source"),
        )
    if "prop_defn" in record:
        statement = re.sub(r"\s*sorry\s*$", "", _string(record, "prop_defn"))
        name, header = _string(record, "full_name"), _optional(record, "deps")
    else:
        statement = _string(
            record, "formal_statement" if "formal_statement" in record else "statement"
        )
        name, header = _string(record, "name"), _optional(record, "header")
    kind = record.get("backend") or backend or detect_backend(header, statement) or BackendName.LEAN
    return Problem(
        name=name,
        backend=BackendName(kind),
        header=header,
        statement=statement,
        split=record.get("split"),
        source=record.get("source"),
    )


def split_coq_file(text: str) -> tuple[str, str]:
    """Leading sentences that only load libraries or open scopes, and the rest (untrusted)."""
    try:
        parts = sentences(text)
    except CoqLexError:
        return "", text
    cut = 0
    for sentence in parts:
        if not is_header_sentence(sentence):
            break
        cut = sentence.end
    return text[:cut].strip() + ("\n" if cut else ""), text[cut:].strip()


def _split_coq_problem(text: str, name: str) -> tuple[str, str]:
    """The theorem named `name` is the statement; everything before it (imports, and the
    definitions some statements need) is the trusted header; `Proof. Admitted.` goes."""
    for sentence in sentences(text):
        if re.match(rf"({'|'.join(THEOREM_WORDS)})\s+{re.escape(name)}\b", sentence.text):
            return text[: sentence.start].strip() + "\n", text[sentence.start : sentence.end]
    raise ValueError(f"no `Theorem {name}` in the text")


def _split_lean_file(code: str) -> tuple[str, str]:
    """Lean's imports must come first: they are the header, everything after is the body."""
    lines = code.splitlines(keepends=True)
    cut = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("import ") or not stripped or stripped.startswith("--"):
            cut = i + 1 if stripped.startswith("import ") else cut
            continue
        break
    return "".join(lines[:cut]), "".join(lines[cut:])


# -- candidates --------------------------------------------------------------------------


def read_candidates(
    path: str | Path,
    problems: dict[str, Problem] | None = None,
    backend: BackendName | None = None,
) -> Iterator[tuple[int, Candidate | InputError]]:
    """(line number, candidate or the reason it is none) for every line of the file."""
    for number, record in _json_lines(Path(path)):
        if isinstance(record, str):
            yield number, InputError(line=number, message=record)
        else:
            yield number, candidate_or_error(number, record, problems or {}, backend)


def candidate_or_error(
    line: int, record: object, problems: dict[str, Problem], backend: BackendName | None = None
) -> Candidate | InputError:
    """The record's candidate, or why it is none (`line` numbers it in its file or request)."""
    if not isinstance(record, dict):
        return InputError(line=line, message="expected a JSON object")
    try:
        return candidate_from_record(record, problems, backend)
    except (KeyError, ValueError, ValidationError) as e:
        name = record.get("name") if isinstance(record.get("name"), str) else None
        reason = UNTRUSTED if isinstance(e, UntrustedInput) else "input.invalid"
        return InputError(line=line, name=name, message=_reason(e), reason=reason)


def candidate_from_record(
    record: dict, problems: dict[str, Problem], backend: BackendName | None = None
) -> Candidate:
    """Raises UntrustedInput when the line brings its own text for a known problem, ValueError
    when it is malformed."""
    _screen_fields(record)
    name = _string(record, "name")
    problem = problems.get(name)
    meta = {k: v for k, v in record.items() if k in _SAMPLER_FIELDS}
    sampler = SamplerInfo(**meta) if meta else None
    if problem is not None:
        _refuse_replacements(record, problem)
    if "code" in record:
        code = _nonempty(record, "code")
        kind = backend or (problem.backend if problem else None) or detect_backend(code)
        if kind is None:
            raise ValueError("cannot tell whether `code` is Lean or Coq: pass --backend")
        if kind is BackendName.COQ and not THEOREM_NAME.fullmatch(name):
            raise UntrustedInput(
                f"{name!r} is no Coq name: the engine writes the name into its own commands"
            )
        header, statement, body = _whole_file(record, code, kind, problem)
        self_stated = statement is None and kind is BackendName.COQ
        if self_stated:
            statement = _file_statement(body, name)
        return Candidate(
            name=name,
            backend=kind,
            header=header,
            statement=statement,
            proof=body,
            whole_file=True,
            self_stated=self_stated,
            sampler=sampler,
        )
    proof = _nonempty(record, "proof")
    if problem is not None:
        statement, header, kind = problem.statement, problem.header, backend or problem.backend
    elif "formal_statement" in record:
        statement = _string(record, "formal_statement")
        header = _optional(record, "header")
        kind = backend or detect_backend(header, statement)
    elif problems:
        raise ValueError(f"unknown problem {name!r}: it is not in the problems file")
    else:
        raise ValueError("field 'formal_statement' is missing (or pass --problems FILE)")
    if kind is None:
        raise ValueError("cannot tell whether the statement is Lean or Coq: pass --backend")
    return Candidate(
        name=name, backend=kind, header=header, statement=statement, proof=proof, sampler=sampler
    )


def _whole_file(
    record: dict, code: str, kind: BackendName, problem: Problem | None
) -> tuple[str, str | None, str]:
    """(header, trusted statement or None, untrusted body) of a `code` line. Without a problem,
    the line's own `formal_statement` (and `header`) are the trusted text, as for a proof line."""
    if problem is not None:
        return problem.header, problem.statement, _after_trusted_header(code, problem.header, kind)
    statement = _string(record, "formal_statement") if "formal_statement" in record else None
    if "header" in record:
        header = _string(record, "header")
        return header, statement, _after_trusted_header(code, header, kind)
    header, body = (_split_lean_file if kind is BackendName.LEAN else split_coq_file)(code)
    return header, statement, body


def _file_statement(body: str, name: str) -> str:
    """A Coq file's own statement of `name`, which the engine elaborates before the file runs
    (`coq_statement`): without one, the verdict could only say that the constant proves whatever
    type the file gave it, in words whose meaning the file chose."""
    statement = own_statement(body, name)
    if statement is None:
        raise UntrustedInput(
            f"the file states no `Theorem {name} : ….` sentence: without a problem, the statement"
            " a verdict vouches for is the file's own, read before the file runs"
        )
    try:
        parse_signature(statement)
    except ValueError as e:
        raise UntrustedInput(f"the file's own statement of `{name}` cannot be read: {e}") from e
    return statement


def _refuse_replacements(record: dict, problem: Problem) -> None:
    """A line may restate the problem's header or statement, never replace them."""
    trusted = {"header": problem.header, "formal_statement": problem.statement}
    for field, text in trusted.items():
        given = _string(record, field) if field in record else text
        if _normal(given, problem.backend) != _normal(text, problem.backend):
            raise UntrustedInput(
                f"field {field!r} differs from the trusted {field.replace('formal_', '')} of"
                f" problem {problem.name!r}: a known problem's text cannot be replaced"
            )


def _after_trusted_header(code: str, header: str, kind: BackendName) -> str:
    """The file after its restatement of the trusted header (all of it, or a beginning). A file
    whose own imports part from the trusted header before it ends would choose the environment
    the trusted statement is read in: refused."""
    units, trusted = _units(code, kind), [text for text, _ in _units(header, kind)]
    same = 0
    while same < min(len(units), len(trusted)) and units[same][0] == trusted[same]:
        same += 1
    if same < min(len(units), len(trusted)) and _is_import(units[same][0], kind):
        raise UntrustedInput(
            f"the file's imports differ from the trusted header at {units[same][0][:80]!r}"
        )
    return code[units[same - 1][1] :] if same else code


def _units(text: str, kind: BackendName) -> list[tuple[str, int]]:
    """(normalised text, end offset) of each sentence (Coq) or non-blank line (Lean)."""
    if kind is BackendName.COQ:
        try:
            return [(" ".join(s.text.split()), s.end) for s in sentences(text)]
        except CoqLexError:
            return []
    units, end = [], 0
    for line in text.splitlines(keepends=True):
        end += len(line)
        if line.strip() and not line.strip().startswith("--"):
            units.append((" ".join(line.split()), end))
    return units


def _is_import(unit: str, kind: BackendName) -> bool:
    if kind is BackendName.LEAN:
        return unit.startswith("import ")
    return is_header_sentence(Sentence(unit, 0, len(unit)))


def _normal(text: str, kind: BackendName) -> str:
    """Text up to layout and Coq comments: a restatement may be formatted differently."""
    if kind is BackendName.COQ:
        with contextlib.suppress(CoqLexError):
            text = strip_comments(text)
    return " ".join(text.split())


# -- lines -------------------------------------------------------------------------------


def _json_lines(path: Path) -> Iterator[tuple[int, dict | str]]:
    """(line number, object) for each line; a string says why a line is no object."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, "the line is not UTF-8 text"
                continue
            if not text.strip():
                yield number, "the line is empty"
                continue
            if "\x00" in text:
                yield number, "the line holds binary data"
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                yield number, f"malformed JSON ({e.msg} at column {e.colno})"
                continue
            yield number, record if isinstance(record, dict) else "expected a JSON object"


def _string(record: dict, field: str) -> str:
    if field not in record:
        raise ValueError(f"field {field!r} is missing")
    value = record[field]
    if not isinstance(value, str):
        raise ValueError(f"field {field!r} must be a string, not {type(value).__name__}")
    return value


def _optional(record: dict, field: str) -> str:
    return _string(record, field) if field in record else ""


def _screen_fields(record: dict) -> None:
    """Every string anywhere in the line, keys included, is text a prover or a terminal may
    read: none may hold a NUL or another control character (tab and line ends excepted)."""
    for where, text in _strings(record, ""):
        if _CONTROL.search(text):
            raise ValueError(f"field {where!r} holds binary data (a control character)")


def _strings(value: object, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key, where or str(key))
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


def _nonempty(record: dict, field: str) -> str:
    value = _string(record, field)
    if not value.strip():
        raise ValueError(f"field {field!r} is empty")
    return value


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"field {'.'.join(map(str, first['loc']))!r}: {first['msg']}"
    return str(error).strip("'\"")
