"""Reading candidates and problems from JSONL, one line at a time, never giving up on a file.

A bad line (not JSON, not UTF-8, a missing field, an unknown problem, an empty proof) becomes an
`InputError` naming the line and what is wrong; the lines around it are read as usual.

Candidate lines take three forms:
- `{"name", "code"}`: a whole file; its leading imports are the header;
- `{"name", "header"?, "formal_statement", "proof"}`;
- `{"name", "proof"}`, the statement and header coming from a problems file by name.
Problem files: DeepSeek-Prover's (miniF2F, ProofNet: `formal_statement`, `header`), miniF2F-rocq's
(`text` holding imports, statement and `Proof.`), miniCodeProps' (`full_name`, `prop_defn`, `deps`),
and our own (`statement`, `backend`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from leanfilter.backends.coq_syntax import CoqLexError, sentences
from leanfilter.records import BackendName, Candidate, Problem, SamplerInfo

_SAMPLER_FIELDS = set(SamplerInfo.model_fields)
_COQ_HEADER = re.compile(r"(From\s+\S+\s+)?(Require|Import|Export|Open\s+Scope|Local\s+Open)\b")
_COQ_THEOREMS = ("Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Example")
_LEAN_HINTS = re.compile(r"^\s*import\s|:=\s*by\b|^\s*(theorem|lemma)\s", re.M)
_COQ_HINTS = re.compile(
    r"^\s*(Require|From)\s|\b(Theorem|Lemma)\s+\S+.*\.\s|\bQed\.|\bProof\.", re.M
)


class InputError(BaseModel):
    """Why one input line could not become a candidate."""

    line: int
    name: str | None = None
    message: str


def detect_backend(*texts: str) -> BackendName | None:
    text = "\n".join(texts)
    lean, coq = bool(_LEAN_HINTS.search(text)), bool(_COQ_HINTS.search(text))
    if lean != coq:
        return BackendName.LEAN if lean else BackendName.COQ
    return None


# -- problems ----------------------------------------------------------------------------


def load_problems(path: str | Path, backend: BackendName | None = None) -> dict[str, Problem]:
    """Problems by name. Raises ValueError naming the file and line of the first bad record."""
    problems: dict[str, Problem] = {}
    for number, record in _json_lines(Path(path)):
        if isinstance(record, str):
            raise ValueError(f"{path}:{number}: {record}")
        try:
            problem = problem_from_record(record, backend)
        except (KeyError, ValueError, ValidationError) as e:
            raise ValueError(f"{path}:{number}: {_reason(e)}") from e
        problems[problem.name] = problem
    return problems


def problem_from_record(record: dict, backend: BackendName | None = None) -> Problem:
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
        name, header = _string(record, "full_name"), record.get("deps", "")
    else:
        statement = _string(
            record, "formal_statement" if "formal_statement" in record else "statement"
        )
        name, header = _string(record, "name"), record.get("header", "")
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
    """Leading `Require`/`Import`/`Open Scope` sentences, and the rest (untrusted)."""
    try:
        parts = sentences(text)
    except CoqLexError:
        return "", text
    cut = 0
    for sentence in parts:
        if not _COQ_HEADER.match(sentence.text):
            break
        cut = sentence.end
    return text[:cut].strip() + ("\n" if cut else ""), text[cut:].strip()


def _split_coq_problem(text: str, name: str) -> tuple[str, str]:
    """The theorem named `name` is the statement; everything before it (imports, and the
    definitions some statements need) is the trusted header; `Proof. Admitted.` goes."""
    for sentence in sentences(text):
        if re.match(rf"({'|'.join(_COQ_THEOREMS)})\s+{re.escape(name)}\b", sentence.text):
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
            continue
        try:
            yield number, candidate_from_record(record, problems or {}, backend)
        except (KeyError, ValueError, ValidationError) as e:
            name = record.get("name") if isinstance(record.get("name"), str) else None
            yield number, InputError(line=number, name=name, message=_reason(e))


def candidate_from_record(
    record: dict, problems: dict[str, Problem], backend: BackendName | None = None
) -> Candidate:
    name = _string(record, "name")
    problem = problems.get(name)
    meta = {k: v for k, v in record.items() if k in _SAMPLER_FIELDS}
    sampler = SamplerInfo(**meta) if meta else None
    if "code" in record:
        code = _nonempty(record, "code")
        kind = backend or (problem.backend if problem else None) or detect_backend(code)
        if kind is None:
            raise ValueError("cannot tell whether `code` is Lean or Coq: pass --backend")
        header, body = (_split_lean_file if kind is BackendName.LEAN else split_coq_file)(code)
        return Candidate(
            name=name,
            backend=kind,
            header=header,
            statement=problem.statement if problem else None,
            proof=body,
            whole_file=True,
            sampler=sampler,
        )
    proof = _nonempty(record, "proof")
    if "formal_statement" in record:
        statement = _string(record, "formal_statement")
        header = record.get("header", problem.header if problem else "")
        kind = (
            backend or (problem.backend if problem else None) or detect_backend(header, statement)
        )
    elif problem is not None:
        statement, header, kind = problem.statement, problem.header, backend or problem.backend
    elif problems:
        raise ValueError(f"unknown problem {name!r}: it is not in the problems file")
    else:
        raise ValueError("field 'formal_statement' is missing (or pass --problems FILE)")
    if kind is None:
        raise ValueError("cannot tell whether the statement is Lean or Coq: pass --backend")
    return Candidate(
        name=name, backend=kind, header=header, statement=statement, proof=proof, sampler=sampler
    )


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
    if "\x00" in value:
        raise ValueError(f"field {field!r} holds binary data (a NUL character)")
    return value


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
