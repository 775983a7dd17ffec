"""Where evaluated runs come from: `leanfilter verify` output files and proof databases.

A run is what the metrics need (per-problem tallies) and, when the source holds the proof texts,
its accepted proofs for the diversity measures. A verdict file holds no proofs: they are in the
input file it was made from, which can be given alongside.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel

from leanfilter.db import ProofDB
from leanfilter.diversity import ProofRecord
from leanfilter.inputs import read_candidates
from leanfilter.metrics import ProblemTally, RunTally
from leanfilter.records import Candidate, Problem, Status
from leanfilter.verdict_files import VerdictFormat, read_verdict_file

_SQLITE_MAGIC = b"SQLite format 3\x00"
RUN_ID_CHARS = 8
"""A database run is labelled by this many characters of its id, enough to tell runs apart."""


class LoadedRun(BaseModel):
    tally: RunTally
    accepted: list[ProofRecord] | None = None
    """The accepted proofs; None when the source holds no proof texts."""


def load_runs(
    path: Path,
    label: str,
    *,
    candidates: Path | None = None,
    problems: dict[str, Problem] | None = None,
) -> list[LoadedRun]:
    """The runs in `path`: one for a verdict file, one per run id for a proof database.

    `candidates` is the input file a verdict file was made from (its proofs, for diversity), and
    `problems` the trusted statements its lines may name. Raises ValueError for a line that is
    no verdict, ProofDBError for a database that is not ours.
    """
    if is_sqlite(path):
        return database_runs(path, label)
    return [verdict_file_run(path, label, candidates=candidates, problems=problems)]


def is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC


def verdict_file_run(
    path: Path,
    label: str,
    *,
    candidates: Path | None = None,
    problems: dict[str, Problem] | None = None,
) -> LoadedRun:
    tally = RunTally.from_statuses(label, _verdict_statuses(path))
    if candidates is None:
        return LoadedRun(tally=tally)
    verdicts = tally.samples + tally.errors
    lines = sum(1 for _ in read_candidates(candidates, problems))
    if lines != verdicts:
        raise ValueError(
            f"{candidates} holds {lines} input lines but {path} holds {verdicts} verdicts:"
            " not the input these verdicts came from"
        )
    results = read_verdict_file(
        path, VerdictFormat.LEANFILTER, candidates=candidates, problems=problems
    )
    accepted = [_proof_record(r.candidate, r.used_constants) for r in results if r.verdict.accepted]
    return LoadedRun(tally=tally, accepted=accepted)


def database_runs(path: Path, label: str) -> list[LoadedRun]:
    """One run per run id that has verdicts, labelled `LABEL:ID` with the id's first characters;
    every sample of the run counts, a text repeated on several input lines included."""
    runs = []
    with ProofDB(path) as db:
        for run in db.runs():
            stats = db.problem_stats(run.id)
            if not stats:
                continue
            tally = RunTally(
                label=f"{label}:{run.id[:RUN_ID_CHARS]}",
                problems={
                    s.name: ProblemTally(
                        answered=s.candidates - s.error, proved=s.proved, errors=s.error
                    )
                    for s in stats
                },
            )
            accepted = [
                _proof_record(r.candidate, r.used_constants) for r in db.accepted_in_run(run.id)
            ]
            runs.append(LoadedRun(tally=tally, accepted=accepted))
    return runs


def _proof_record(candidate: Candidate, used_constants: list[str] | None) -> ProofRecord:
    return ProofRecord(
        problem=candidate.name,
        backend=candidate.backend,
        proof=candidate.proof,
        statement=candidate.statement,
        used_constants=used_constants,
    )


def _verdict_statuses(path: Path) -> Iterator[tuple[str, Status]]:
    """(problem, status) per line: all the metrics need, without parsing whole verdicts."""
    with path.open(encoding="utf-8") as lines:
        try:
            yield from _statuses(path, lines)
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: neither a verdict file nor a proof database ({e})") from e


def _statuses(path: Path, lines: Iterable[str]) -> Iterator[tuple[str, Status]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            yield str(record["name"]), Status(record["status"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}:{number}: not a verdict line ({e})") from e
