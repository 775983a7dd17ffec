"""LeanDojo Benchmark 4 theorem files (`random/test.json`, `novel_premises/train.json`, …) as
problems, without LeanDojo: the files are plain JSON, and reading them needs no Lean.

A file is one JSON list of theorem records: `url`, `commit`, `file_path`, `full_name`, `start`,
`end`, `traced_tactics` (LeanDojo's `scripts/generate-benchmark-lean4.ipynb`). Exports by later
LeanDojo code (LeanDojo-v2, LeanAgent) add `theorem_statement`: the declaration's text from its
keyword up to its proof, `:=` included, and null where the proof is not tactic-style. That field
is the only text a problem can trust; a record without it (every record of the benchmark as
first published) names a theorem but states nothing, so it cannot be used alone and is refused.

The header is not in the record: the theorem's file had imports, `namespace`, `open` and
`variable` lines that the record leaves out. Every problem gets `DEFAULT_HEADER` (the pinned
Mathlib, whole). Honest consequences, documented in docs/lean.md: a statement that needs its
file's context does not elaborate (an error verdict, never `proved`); and the theorem itself,
being in Mathlib, is in the environment, so a proof may cite it: a correct proof, which says
little about a prover.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

DEFAULT_HEADER = "import Mathlib\n"
_SPLITS = ("train", "val", "test")
_NO_STATEMENT = (
    "field 'theorem_statement' is missing: this LeanDojo record names a theorem but does not"
    " state it, so it cannot be used alone (export with a LeanDojo that writes the statement)"
)
_NULL_STATEMENT = (
    "field 'theorem_statement' is null: LeanDojo writes it only for tactic-style proofs, so"
    " this record cannot be used alone"
)


def is_leandojo_file(path: Path) -> bool:
    """A JSON list (LeanDojo) rather than JSON lines (every other problem file): the first
    character that is not white space says which, whatever the file's size."""
    with path.open("rb") as f:
        return f.read(4096).lstrip()[:1] == b"["


def leandojo_records(path: Path, header: str = DEFAULT_HEADER) -> Iterator[tuple[int, dict | str]]:
    """(record index, the record as one of our own problem records, or why it is none), for a
    file `is_leandojo_file` accepted. Raises ValueError naming the file when it is not JSON."""
    try:
        records: list = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: the file is not UTF-8 text") from e
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON ({e.msg} at line {e.lineno})") from e
    split = path.stem if path.stem in _SPLITS else None
    for index, record in enumerate(records):
        yield index, _problem_record(record, header, split)


def _problem_record(record: object, header: str, split: str | None) -> dict | str:
    if not isinstance(record, dict):
        return "expected a JSON object (a LeanDojo theorem record)"
    if not isinstance(record.get("full_name"), str):
        return "field 'full_name' is missing or not a string"
    if "theorem_statement" not in record:
        return _NO_STATEMENT
    statement = record["theorem_statement"]
    if statement is None:
        return _NULL_STATEMENT
    if not isinstance(statement, str) or not statement.strip():
        return "field 'theorem_statement' must be a non-empty string"
    return {
        "name": record["full_name"],
        "statement": statement.rstrip(),
        "header": header,
        "backend": "lean",
        "split": split,
        "source": _source(record),
    }


def _source(record: dict) -> str | None:
    """Where the theorem was traced: `url@commit:file_path`, when the record says."""
    url, commit, file = (record.get(k) for k in ("url", "commit", "file_path"))
    if all(isinstance(v, str) for v in (url, commit, file)):
        return f"{url}@{commit}:{file}"
    return None
