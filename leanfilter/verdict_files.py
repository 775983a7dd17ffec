"""Reading verdicts that other runs and other verifiers wrote, to store them in the proof database.

Formats (a JSON array, a `{"results": [...]}` document, or JSON lines):

- `leanfilter`: our own `leanfilter verify` output, one verdict per line with its input `line`
  number. The proofs are in the input file, so it is read alongside (`candidates`).
- `deepseek`: DeepSeek-Prover-V1.5's Lean verifier result (`prover/lean/verifier.py`,
  `verify_lean4_file`: `pass`, `complete`, `errors`, `warnings`, `infos`, `sorries`, `tactics`,
  `system_errors`, `verify_time`) under `compilation_result`, next to the `name` and `code` it
  checked, as Goedel-Prover's `eval/step2_compile.py` writes `code_compilation.json`.
  `complete` (compiled, no sorry, no `failed` warning) counts as proved.
- `kimina`: Kimina Lean Server results (`custom_id` or `id`, `error`, `response` holding the REPL's
  `messages`, `sorries`, `tactics`, `time`). The server answers without the code, so each record
  must also carry the `code` (or `proof`) it checked, and a `name` unless `custom_id` is one.

An imported verdict is a record of what another checker said, not a verdict of this engine: its
toolchain and policy read `import:<format>`, and its key is never an engine cache key, so it
never answers a cache look-up.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from leanfilter.inputs import InputError, candidate_from_record, read_candidates
from leanfilter.records import (
    BackendName,
    Candidate,
    Message,
    Position,
    Problem,
    Severity,
    Status,
    Verdict,
)

_SORRY_WARNING = re.compile(r"declaration uses\s*\W?sorry", re.I)  # Lean changed the quoting


class VerdictFormat(str, Enum):
    LEANFILTER = "leanfilter"
    DEEPSEEK = "deepseek"
    KIMINA = "kimina"


class VerdictFileError(ValueError):
    """A record that cannot be imported; the message is one line naming the file and record."""


class ImportedResult(BaseModel):
    candidate: Candidate
    verdict: Verdict
    used_constants: list[str] | None = None


def read_verdict_file(
    path: str | Path,
    fmt: VerdictFormat | None = None,
    *,
    candidates: str | Path | None = None,
    problems: dict[str, Problem] | None = None,
    backend: BackendName | None = None,
) -> Iterator[ImportedResult]:
    """The results in a verdict file; `fmt` None: told by the first record.

    Raises VerdictFileError at the first record that cannot be read.
    """
    records = _records(Path(path))
    first = next(records, None)
    if first is None:
        return
    number, record = first
    fmt = fmt or detect_format(record, f"{path}:{number}")
    records = _chain(first, records)
    if fmt is VerdictFormat.LEANFILTER:
        if candidates is None:
            raise VerdictFileError(
                f"{path}: leanfilter verdicts hold no proofs: give the input file they came from"
            )
        yield from _leanfilter(records, path, Path(candidates), problems, backend)
        return
    parse = _deepseek if fmt is VerdictFormat.DEEPSEEK else _kimina
    for number, record in records:
        where = f"{path}:{number}"
        try:
            yield parse(record, problems or {}, backend)
        except (KeyError, TypeError, ValueError, ValidationError) as e:
            raise VerdictFileError(f"{where}: not a {fmt.value} result: {_reason(e)}") from e


def detect_format(record: dict[str, Any], where: str) -> VerdictFormat:
    if "compilation_result" in record:
        return VerdictFormat.DEEPSEEK
    if "response" in record or "custom_id" in record:
        return VerdictFormat.KIMINA
    if "status" in record and "line" in record:
        return VerdictFormat.LEANFILTER
    raise VerdictFileError(
        f"{where}: unknown verdict format (expected leanfilter's `line`+`status`, DeepSeek's"
        " `compilation_result` or Kimina's `response`)"
    )


# -- formats -----------------------------------------------------------------------------


def _leanfilter(
    records: Iterable[tuple[int, dict[str, Any]]],
    path: str | Path,
    candidates: Path,
    problems: dict[str, Problem] | None,
    backend: BackendName | None,
) -> Iterator[ImportedResult]:
    """Verdict lines joined to input lines by line number; input lines that held no candidate
    (their `error` verdict says why) have nothing to store and are passed over. A verdict with an
    answer for a line that holds no candidate here means the input is read otherwise than the run
    read it (without its `--problems`, say): refused, with the line's fault."""
    inputs = dict(read_candidates(candidates, problems, backend))
    for number, record in records:
        where = f"{path}:{number}"
        try:
            verdict = Verdict.model_validate({**record, "cached": record.get("cached", False)})
            line = record["line"]
        except (KeyError, ValidationError) as e:
            raise VerdictFileError(f"{where}: not a leanfilter verdict: {_reason(e)}") from e
        candidate = inputs.get(line)
        if isinstance(candidate, InputError) and verdict.status is not Status.ERROR:
            raise VerdictFileError(
                f"{where}: a {verdict.status.value} verdict, but line {line} of {candidates} holds"
                f" no candidate as read here: {candidate.message}"
            )
        if candidate is None or isinstance(candidate, InputError):
            continue
        if candidate.name != verdict.name:
            raise VerdictFileError(
                f"{where}: verdict for {verdict.name!r} but line {line} of {candidates} is"
                f" {candidate.name!r}: not the input this output came from"
            )
        yield ImportedResult(candidate=candidate, verdict=_as_imported(verdict, "leanfilter"))


def _deepseek(
    record: dict[str, Any], problems: dict[str, Problem], backend: BackendName | None
) -> ImportedResult:
    result = record["compilation_result"]
    if not isinstance(result, dict):
        raise TypeError("`compilation_result` is not an object")
    candidate = _whole_file(record["name"], record["code"], problems, backend)
    messages = [
        _repl_message(m)
        for field in ("errors", "warnings", "infos")
        for m in result.get(field) or []
    ]
    if result.get("system_errors"):
        status, reason = Status.ERROR, "import.system_error"
        messages.append(Message(severity=Severity.ERROR, text=str(result["system_errors"])))
    elif result.get("complete"):
        status, reason = Status.PROVED, None
    elif result.get("pass"):
        status, reason = Status.FAILED, "import.incomplete"
    else:
        status, reason = Status.FAILED, "import.errors"
    verdict = Verdict(
        name=candidate.name,
        status=status,
        reason=reason,
        messages=messages,
        time_s=float(result.get("verify_time") or 0.0),
        backend=candidate.backend,
    )
    return ImportedResult(
        candidate=candidate,
        verdict=_as_imported(verdict, "deepseek"),
        used_constants=_used_constants(result.get("tactics")),
    )


def _kimina(
    record: dict[str, Any], problems: dict[str, Problem], backend: BackendName | None
) -> ImportedResult:
    ident = record.get("custom_id", record.get("id"))
    name = record.get("name", ident)
    code = record.get("code", record.get("proof"))
    if not isinstance(name, str) or not isinstance(code, str):
        raise ValueError("a Kimina result needs the `code` (or `proof`) it checked and a `name`")
    candidate = _whole_file(name, code, problems, backend)
    response = record.get("response") or {}
    messages = [_repl_message(m) for m in response.get("messages") or []]
    time_s = float(response.get("time") or record.get("time") or 0.0)
    if record.get("error") or ("message" in response and "messages" not in response):
        status, reason = Status.ERROR, "import.server_error"
        text = record.get("error") or response["message"]
        messages.append(Message(severity=Severity.ERROR, text=str(text)))
    elif any(m.severity is Severity.ERROR for m in messages):
        status, reason = Status.FAILED, "import.errors"
    elif response.get("sorries") or any(_SORRY_WARNING.search(m.text) for m in messages):
        status, reason = Status.FAILED, "import.sorry"
    else:
        status, reason = Status.PROVED, None
    verdict = Verdict(
        name=name,
        status=status,
        reason=reason,
        messages=messages,
        time_s=time_s,
        backend=candidate.backend,
    )
    return ImportedResult(
        candidate=candidate,
        verdict=_as_imported(verdict, "kimina"),
        used_constants=_used_constants(response.get("tactics")),
    )


# -- pieces ------------------------------------------------------------------------------


def _whole_file(
    name: str, code: str, problems: dict[str, Problem], backend: BackendName | None
) -> Candidate:
    return candidate_from_record(
        {"name": name, "code": code}, problems, backend or BackendName.LEAN
    )


def _repl_message(message: dict[str, Any]) -> Message:
    severity = message.get("severity", "error")
    return Message(
        severity=Severity(severity) if severity in Severity._value2member_map_ else Severity.INFO,
        text=str(message.get("data", "")),
        pos=_position(message.get("pos")),
        end_pos=_position(message.get("endPos")),
    )


def _position(value: Any) -> Position | None:
    return Position(**value) if isinstance(value, dict) else None


def _used_constants(tactics: Any) -> list[str] | None:
    """The union of the REPL's per-tactic `usedConstants`, in first-use order; None when the
    result has no infotree information."""
    if not isinstance(tactics, list) or not any("usedConstants" in t for t in tactics):
        return None
    seen: dict[str, None] = {}
    for tactic in tactics:
        seen.update(dict.fromkeys(tactic.get("usedConstants") or []))
    return list(seen)


def _as_imported(verdict: Verdict, fmt: str) -> Verdict:
    label = f"import:{fmt}"
    origin = verdict.key or hashlib.sha256(verdict.model_dump_json().encode()).hexdigest()
    return verdict.model_copy(
        update={
            "toolchain": verdict.toolchain or label,
            "policy_version": verdict.policy_version or label,
            "key": f"{label}:{origin}",
        }
    )


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(record number, object): the items of a JSON array or of `{"results": [...]}`, or the
    lines of a JSON-lines file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise VerdictFileError(f"{path}: cannot read: {e}") from e
    try:
        document = json.loads(text)
    except json.JSONDecodeError:  # JSON lines, or broken: each line says which
        document = None
    if isinstance(document, dict):
        document = document.get("results", [document])
    if isinstance(document, list):
        for number, item in enumerate(document, start=1):
            yield number, _object(item, f"{path}: record {number}")
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise VerdictFileError(f"{path}:{number}: malformed JSON ({e.msg})") from e
        yield number, _object(record, f"{path}:{number}")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise VerdictFileError(f"{where}: expected a JSON object, not {type(value).__name__}")
    return value


def _chain(
    first: tuple[int, dict[str, Any]], rest: Iterator[tuple[int, dict[str, Any]]]
) -> Iterator[tuple[int, dict[str, Any]]]:
    yield first
    yield from rest


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"field {'.'.join(map(str, first['loc']))!r}: {first['msg']}"
    if isinstance(error, KeyError):
        return f"field {error.args[0]!r} is missing"
    return " ".join(str(error).split())
