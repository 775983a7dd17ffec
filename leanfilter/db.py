"""The proof database: every verdict, durable as soon as it is recorded, and the queries on them.

(Durable on return means committed, and with `fsync` on disk. Records of verdicts that were
themselves cache hits are the one exception: they are committed in batches, see `record`.)

One SQLite file (WAL mode) that any number of threads and processes may
write at once: writers take the write lock up front (`BEGIN IMMEDIATE`) and wait for each other
(busy timeout), so they neither lose rows nor deadlock. Tables:

- `problems`: one row per trusted statement (name, backend, header, statement, split, source);
- `candidates`: one row per distinct submission (the proof, its normalized-proof hash, and the
  sampler's metadata: model, run id, temperature, log-probs, step). The id hashes all of it, so
  the same text sampled twice counts twice only if its sampler metadata differs;
- `verdicts`: the answer a candidate got in a run: status, reason, messages and axioms (JSON),
  time, backend, toolchain, policy version and the cache key. Unique per (candidate, run, key),
  so re-recording is harmless. Rows without a candidate are pure cache entries from `put`;
- `runs`: id, command, config, start and end, and how it ended (`outcome`: completed,
  interrupted or failed; empty while it runs or after a kill). A run that did not complete
  holds verdicts only for what it checked: a line never attempted has no row.

The database is also a `VerdictCache`: `get(key)` answers from any run's cacheable verdicts.

A file that is not a leanfilter database, or a damaged one, is refused with a one-line
`ProofDBError` and never written to: nothing is written before the file has been read,
recognized (application id and schema version in the SQLite header) and checked whole
(`PRAGMA quick_check`, which reads every page). A write that fails later (a full disk, a file
that stops accepting writes) is rolled back, so the file is as SQLite left it, and raised as
a `ProofDBError` that names the file and the cause.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from leanfilter.cache import CACHEABLE, candidate_key, is_cacheable
from leanfilter.normalize import normalize_proof
from leanfilter.records import (
    BackendName,
    Candidate,
    Message,
    Problem,
    RunInfo,
    SamplerInfo,
    Status,
    Verdict,
)

APPLICATION_ID = 0x4C464442  # "LFDB"
SCHEMA_VERSION = 2  # 2: runs.outcome
BUSY_TIMEOUT_S = 120.0
DEFERRED_MAX = 256  # cache-hit records that may wait for the next commit
_Rows = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]  # problem, candidate, verdict
_SAMPLER_COLUMNS = ("model", "temperature", "logp_policy", "logp_base", "step")
_CACHEABLE_SQL = ", ".join(f"'{s.value}'" for s in sorted(CACHEABLE, key=lambda s: s.value))


class ProofDBError(sqlite3.DatabaseError):
    """The file cannot be used as a proof database; the message is one line that says why."""


class NotAProofDB(ProofDBError):
    pass


class DamagedProofDB(ProofDBError):
    pass


class ProofDBWriteError(ProofDBError):
    """A write failed (disk full, I/O error): rolled back, the file as SQLite left it."""


class ProblemStats(BaseModel):
    name: str
    backend: BackendName
    candidates: int
    proved: int
    failed: int
    rejected: int
    timeout: int
    error: int
    distinct_proofs: int

    @property
    def solved(self) -> bool:
        return self.proved > 0


# The tables, as version 2 has them; files of version 1 are upgraded in `_adopt_or_create`.
SCHEMA = (
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY, command TEXT, config TEXT, started FLOAT, ended FLOAT, outcome TEXT
    )""",
    """CREATE TABLE problems (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, backend TEXT NOT NULL, header TEXT NOT NULL,
        statement TEXT, split TEXT, source TEXT
    )""",
    """CREATE TABLE candidates (
        id TEXT PRIMARY KEY, problem_id TEXT NOT NULL REFERENCES problems(id),
        proof TEXT NOT NULL, whole_file INTEGER NOT NULL, proof_hash TEXT NOT NULL, model TEXT,
        sampler_run_id TEXT, temperature FLOAT, logp_policy FLOAT, logp_base FLOAT,
        step INTEGER, sampler TEXT, created FLOAT
    )""",
    """CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY, candidate_id TEXT NOT NULL, run_id TEXT NOT NULL,
        key TEXT NOT NULL, name TEXT, status TEXT NOT NULL, reason TEXT, detail TEXT,
        messages TEXT, axioms TEXT, time_s FLOAT, backend TEXT, toolchain TEXT,
        header_hash TEXT, policy_version TEXT, peak_rss_mb FLOAT, cached INTEGER,
        used_constants TEXT, sample INTEGER, created FLOAT
    )""",
    # A sample (an input line) has one verdict per run, however often its text repeats: pass@k
    # counts samples. Rows without a sample (imports, cache entries) are unique by candidate
    # and key instead.
    "CREATE UNIQUE INDEX idx_verdicts_sample ON verdicts (run_id, sample) WHERE sample IS NOT NULL",
    "CREATE UNIQUE INDEX idx_verdicts_candidate_run_key"
    " ON verdicts (candidate_id, run_id, key) WHERE sample IS NULL",
    "CREATE INDEX idx_verdicts_key ON verdicts (key)",
    "CREATE INDEX idx_verdicts_run_id_status ON verdicts (run_id, status)",
    "CREATE INDEX idx_candidates_problem_id ON candidates (problem_id)",
    "CREATE INDEX idx_problems_name ON problems (name)",
)


class AcceptedProof(BaseModel):
    """One distinct accepted proof of a problem (distinct after normalization)."""

    problem: str
    backend: BackendName
    proof: str
    proof_hash: str
    candidates: int


class StoredResult(BaseModel):
    """A candidate, its problem and one verdict it got: a row of the exports."""

    candidate_id: str
    run_id: str | None
    problem: str
    split: str | None
    source: str | None
    candidate: Candidate
    proof_hash: str
    verdict: Verdict
    used_constants: list[str] | None = None


def problem_id(item: Problem | Candidate) -> str:
    """A problem is its trusted text: the same name with another statement is another problem."""
    return _digest([item.backend.value, item.name, item.header, item.statement])


def candidate_id(candidate: Candidate) -> str:
    return _digest(candidate.model_dump(mode="json"))


def proof_hash(candidate: Candidate) -> str:
    return _digest(normalize_proof(candidate.backend, candidate.proof))


def _digest(value: object) -> str:
    encoded = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()[:32]


class ProofDB:
    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        """Open or create the database at `path`.

        With `fsync` (the default) a recorded verdict survives a power cut; without it, it
        survives any crash of the process (kill -9 included) but the last commits may be lost
        when the machine itself goes down, for several times the insert rate.
        """
        self.path = Path(path)
        self._lock = threading.Lock()
        self._deferred: list[_Rows] = []
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise ProofDBError(f"{self.path}: cannot open: {e}") from e
        self._conn = conn
        try:
            self._adopt_or_create()
        except BaseException:
            conn.close()
            raise
        self._enable_wal()
        self._conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")

    # -- opening -----------------------------------------------------------------------------

    def _adopt_or_create(self) -> None:
        """Recognize the file, or create the schema in an empty one; never touch a foreign one."""
        with self._diagnosed():
            self._check_whole()
        with self._diagnosed(), self._write():
            conn = self._conn
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            if app_id == APPLICATION_ID:
                if version > SCHEMA_VERSION:
                    raise NotAProofDB(
                        f"{self.path}: schema version {version} is newer than this leanfilter's"
                        f" ({SCHEMA_VERSION}); upgrade leanfilter"
                    )
                if version < 2:
                    conn.execute("ALTER TABLE runs ADD COLUMN outcome TEXT")
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                return
            if app_id != 0 or tables:
                raise NotAProofDB(
                    f"{self.path}: a SQLite database of another application, not a leanfilter"
                    " proof database; refusing to touch it"
                )
            self._create_schema()
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _check_whole(self) -> None:
        """Read every page before trusting the file: damage in its middle is refused here,
        before anything is written, not found by a write that spreads it."""
        rows = self._conn.execute("PRAGMA quick_check").fetchall()
        if [tuple(r) for r in rows] != [("ok",)]:
            problem = " ".join(str(rows[0][0]).split()) if rows else "no answer"  # one line
            raise DamagedProofDB(f"{self.path}: damaged SQLite database ({problem}); left as it is")

    def _enable_wal(self) -> None:
        """Switch to WAL, waiting out other openers.

        Leaving rollback mode needs an exclusive lock, and SQLite answers "locked" at once,
        without its busy handler, when another process is opening the same new file.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        pause = 0.005
        while True:
            try:
                _switch_to_wal(self._conn)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    self._conn.close()
                    raise ProofDBError(f"{self.path}: cannot switch to WAL: {e}") from e
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def _create_schema(self) -> None:
        for statement in SCHEMA:
            self._conn.execute(statement)

    # -- transactions and errors -------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction, holding the write lock from its start: no upgrade deadlock."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (disk full, I/O)
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _diagnosed(self) -> Iterator[None]:
        """SQLite's own word for a damaged or foreign file becomes one clear line."""
        try:
            yield
        except sqlite3.OperationalError as e:
            if "unable to open" in str(e):
                raise ProofDBError(f"{self.path}: cannot open: {e}") from e
            raise ProofDBWriteError(f"{self.path}: {e}") from e
        except sqlite3.DatabaseError as e:
            if type(e) is not sqlite3.DatabaseError:  # our own errors, integrity, programming
                raise
            raise self._refusal(e) from e

    def _refusal(self, error: sqlite3.DatabaseError) -> ProofDBError:
        try:
            with self.path.open("rb") as f:
                magic = f.read(16)
        except OSError:
            magic = b""
        if magic != b"SQLite format 3\x00":
            return NotAProofDB(f"{self.path}: not a SQLite database; refusing to touch it")
        return DamagedProofDB(f"{self.path}: damaged SQLite database ({error}); left as it is")

    # -- runs --------------------------------------------------------------------------------

    def start_run(self, command: str, config: dict[str, Any]) -> RunInfo:
        run = RunInfo(id=uuid.uuid4().hex, command=command, config=config, started=time.time())
        with self._lock, self._diagnosed(), self._write():
            self._conn.execute(
                "INSERT INTO runs (id, command, config, started) VALUES (?, ?, ?, ?)",
                [run.id, command, json.dumps(config, default=str), run.started],
            )
        return run

    def end_run(self, run_id: str, outcome: str = "completed") -> None:
        """Close the run's record: `outcome` says whether it checked all it was given."""
        with self._lock:
            self._flush()
            with self._diagnosed(), self._write():
                self._conn.execute(
                    "UPDATE runs SET ended = ?, outcome = ? WHERE id = ?",
                    [time.time(), outcome, run_id],
                )

    def runs(self) -> list[RunInfo]:
        with self._lock, self._diagnosed():
            rows = self._query("SELECT * FROM runs ORDER BY started")
        return [RunInfo(**{**row, "config": json.loads(row["config"] or "{}")}) for row in rows]

    # -- writing -----------------------------------------------------------------------------

    def add_problems(self, problems: Iterable[Problem]) -> None:
        """Store trusted statements with their split and source (recording alone cannot know
        them); a problem already there gets its split and source updated."""
        rows = [
            {
                "id": problem_id(p),
                "name": p.name,
                "backend": p.backend.value,
                "header": p.header,
                "statement": p.statement,
                "split": p.split,
                "source": p.source,
            }
            for p in problems
        ]
        with self._lock, self._diagnosed(), self._write():
            for row in rows:
                self._conn.execute(
                    _insert_sql("problems", row, "")
                    + " ON CONFLICT (id) DO UPDATE SET split = excluded.split,"
                    " source = excluded.source",
                    list(row.values()),
                )

    def record(
        self,
        candidate: Candidate,
        verdict: Verdict,
        run_id: str | None = None,
        *,
        sample: int | None = None,
        used_constants: list[str] | None = None,
    ) -> None:
        """Store one verdict; durable when this returns. Thread-safe.

        `sample` numbers the candidate within its run (the input line): a text that occurs on
        two lines is two samples, as pass@k needs.

        Except a verdict that is itself a cache hit: losing it costs nothing (a rerun answers it
        again from the cache at once), so it waits, up to DEFERRED_MAX of them, for the next
        commit (a fresh verdict, a query, `end_run`, `close`). A rerun of known input then
        costs look-ups, not one disk sync per line.
        """
        row = _rows(candidate, verdict, used_constants, run_id, sample)
        with self._lock:
            if verdict.cached and len(self._deferred) < DEFERRED_MAX:
                self._deferred.append(row)
                return
            self._commit([row])

    def record_many(
        self,
        results: Iterable[tuple[Candidate, Verdict, list[str] | None]],
        run_id: str | None = None,
    ) -> int:
        """Store many verdicts in one transaction (imports); returns how many were new."""
        rows = [_rows(c, v, used, run_id, None) for c, v, used in results]
        with self._lock:
            return self._commit(rows)

    def _commit(self, rows: list[_Rows]) -> int:
        """Write `rows` and the deferred ones in one transaction; the caller holds the lock."""
        rows = [*self._deferred, *rows]
        added = 0
        with self._diagnosed(), self._write():
            conn = self._conn
            for problem, candidate, verdict in rows:
                conn.execute(_insert_sql("problems", problem, "OR IGNORE"), list(problem.values()))
                conn.execute(
                    _insert_sql("candidates", candidate, "OR IGNORE"), list(candidate.values())
                )
                added += conn.execute(
                    _insert_sql("verdicts", verdict, "OR IGNORE"), list(verdict.values())
                ).rowcount
                conn.execute(
                    "DELETE FROM verdicts WHERE key = ? AND candidate_id = ''", [verdict["key"]]
                )
        self._deferred = []
        return added

    def _flush(self) -> None:
        """Commit deferred rows before a query reads, or the database closes; holds the lock."""
        if self._deferred:
            self._commit([])

    # -- the cache ---------------------------------------------------------------------------

    def get(self, key: str) -> Verdict | None:
        with self._lock, self._diagnosed():
            rows = self._query(
                f"SELECT * FROM verdicts WHERE key = ? AND status IN ({_CACHEABLE_SQL})"
                " ORDER BY id LIMIT 1",
                [key],
            )
        return _verdict({**rows[0], "cached": True}) if rows else None

    def put(self, key: str, verdict: Verdict) -> None:
        """A cache entry with no candidate; `record` of the same key later replaces it."""
        if not is_cacheable(verdict):
            return
        row = {
            "candidate_id": "",
            "run_id": "",
            **_verdict_columns(verdict),
            "key": key,
            "created": time.time(),
        }
        with self._lock, self._diagnosed(), self._write():
            self._conn.execute(_insert_sql("verdicts", row, "OR IGNORE"), list(row.values()))

    # -- queries -----------------------------------------------------------------------------

    def problem_stats(self, run_id: str | None = None) -> list[ProblemStats]:
        """Per problem: how the latest verdicts went. Within a run every sample counts, repeats
        included; across runs each distinct candidate counts once."""
        statuses = ", ".join(f"SUM(v.status = '{s.value}') AS {s.value}" for s in Status)
        unit = "COALESCE(sample, 'c' || candidate_id)" if run_id else "candidate_id"
        sql = f"""
            WITH latest AS (
                SELECT MAX(id) AS verdict_id FROM verdicts
                WHERE candidate_id != '' {"AND run_id = :run" if run_id else ""}
                GROUP BY {unit}
            )
            SELECT p.name, p.backend, COUNT(*) AS candidates, {statuses},
                COUNT(DISTINCT CASE WHEN v.status = 'proved' THEN c.proof_hash END)
                    AS distinct_proofs
            FROM latest
            JOIN verdicts v ON v.id = latest.verdict_id
            JOIN candidates c ON c.id = v.candidate_id
            JOIN problems p ON p.id = c.problem_id
            GROUP BY p.id ORDER BY p.name, p.backend
        """
        with self._lock, self._diagnosed():
            self._flush()
            rows = self._query(sql, {"run": run_id})
        return [ProblemStats(**row) for row in rows]

    def solved(self, run_id: str | None = None) -> list[str]:
        return sorted({s.name for s in self.problem_stats(run_id) if s.solved})

    def accepted_proofs(self, problem: str) -> list[AcceptedProof]:
        """The distinct accepted proofs of `problem`, most often found first."""
        sql = """
            SELECT p.name AS problem, p.backend, MIN(c.proof) AS proof, c.proof_hash,
                COUNT(DISTINCT c.id) AS candidates
            FROM verdicts v
            JOIN candidates c ON c.id = v.candidate_id
            JOIN problems p ON p.id = c.problem_id
            WHERE p.name = ? AND v.status = 'proved'
            GROUP BY p.backend, c.proof_hash
            ORDER BY candidates DESC, proof
        """
        with self._lock, self._diagnosed():
            self._flush()
            rows = self._query(sql, [problem])
        return [AcceptedProof(**row) for row in rows]

    def accepted_in_run(self, run_id: str) -> Iterator[StoredResult]:
        return self.results(run_id=run_id, accepted_only=True)

    def results(
        self, *, run_id: str | None = None, accepted_only: bool = False
    ) -> Iterator[StoredResult]:
        """Every (candidate, verdict) pair, oldest first, read in pages so memory stays flat."""
        where = ["v.candidate_id != ''"]
        if run_id:
            where.append("v.run_id = :run")
        if accepted_only:
            where.append("v.status = 'proved'")
        sql = f"""
            SELECT v.*, c.proof, c.whole_file, c.proof_hash, c.sampler,
                p.name AS problem, p.backend AS problem_backend, p.header, p.statement,
                p.split, p.source
            FROM verdicts v
            JOIN candidates c ON c.id = v.candidate_id
            JOIN problems p ON p.id = c.problem_id
            WHERE {" AND ".join(where)} AND v.id > :after
            ORDER BY v.id LIMIT 1000
        """
        after = 0
        while True:
            with self._lock, self._diagnosed():
                self._flush()
                page = self._query(sql, {"run": run_id, "after": after})
            yield from (_stored_result(row) for row in page)
            if len(page) < 1000:
                return
            after = page[-1]["id"]

    def _query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[dict]:
        """Rows as dicts."""
        cursor = self._conn.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        """Commit what waits and close; the connection is closed even if that commit fails."""
        with self._lock:
            try:
                self._flush()
            finally:
                self._conn.close()

    def __enter__(self) -> ProofDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rows(
    candidate: Candidate,
    verdict: Verdict,
    used_constants: list[str] | None,
    run_id: str | None,
    sample: int | None,
) -> _Rows:
    """The problem, candidate and verdict rows of one result."""
    now = time.time()
    problem = {
        "id": problem_id(candidate),
        "name": candidate.name,
        "backend": candidate.backend.value,
        "header": candidate.header,
        "statement": candidate.statement,
    }
    sampler = candidate.sampler or SamplerInfo()
    candidate_row = {
        "id": candidate_id(candidate),
        "problem_id": problem["id"],
        "proof": candidate.proof,
        "whole_file": int(candidate.whole_file),
        "proof_hash": proof_hash(candidate),
        **{c: getattr(sampler, c) for c in _SAMPLER_COLUMNS},
        "sampler_run_id": sampler.run_id,
        "sampler": candidate.sampler.model_dump_json() if candidate.sampler else None,
        "created": now,
    }
    key = verdict.key
    if key is None and verdict.toolchain and verdict.policy_version:
        key = candidate_key(
            candidate, toolchain=verdict.toolchain, policy_version=verdict.policy_version
        )
    verdict_row = {
        "candidate_id": candidate_row["id"],
        **_verdict_columns(verdict),
        "key": key or "",
        "used_constants": None if used_constants is None else json.dumps(used_constants),
        "run_id": run_id or "",
        "sample": sample,
        "created": now,
    }
    return problem, candidate_row, verdict_row


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """WAL lets readers (stats, exports) run beside a writing `verify`."""
    conn.execute("PRAGMA journal_mode=wal")


def _insert_sql(table: str, row: dict[str, Any], conflict: str) -> str:
    columns = ", ".join(f"[{c}]" for c in row)
    return f"INSERT {conflict} INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})"


def _verdict_columns(verdict: Verdict) -> dict[str, Any]:
    return {
        "name": verdict.name,
        "status": verdict.status.value,
        "reason": verdict.reason,
        "detail": verdict.detail,
        "messages": json.dumps([m.model_dump(mode="json") for m in verdict.messages]),
        "axioms": None if verdict.axioms is None else json.dumps(verdict.axioms),
        "time_s": verdict.time_s,
        "backend": verdict.backend.value if verdict.backend else None,
        "toolchain": verdict.toolchain,
        "header_hash": verdict.header_hash,
        "policy_version": verdict.policy_version,
        "peak_rss_mb": verdict.peak_rss_mb,
        "cached": int(verdict.cached),
    }


def _verdict(row: dict[str, Any]) -> Verdict:
    return Verdict(
        name=row["name"] or "",
        status=Status(row["status"]),
        reason=row["reason"],
        detail=row["detail"],
        messages=[Message(**m) for m in json.loads(row["messages"] or "[]")],
        axioms=None if row["axioms"] is None else json.loads(row["axioms"]),
        time_s=row["time_s"] or 0.0,
        backend=row["backend"],
        toolchain=row["toolchain"],
        header_hash=row["header_hash"],
        policy_version=row["policy_version"],
        cached=bool(row["cached"]),
        key=row["key"] or None,
        peak_rss_mb=row["peak_rss_mb"],
    )


def _stored_result(row: dict[str, Any]) -> StoredResult:
    candidate = Candidate(
        name=row["problem"],
        backend=row["problem_backend"],
        header=row["header"],
        statement=row["statement"],
        proof=row["proof"],
        whole_file=bool(row["whole_file"]),
        sampler=SamplerInfo.model_validate_json(row["sampler"]) if row["sampler"] else None,
    )
    return StoredResult(
        candidate_id=row["candidate_id"],
        run_id=row["run_id"] or None,
        problem=row["problem"],
        split=row["split"],
        source=row["source"],
        candidate=candidate,
        proof_hash=row["proof_hash"],
        verdict=_verdict(row),
        used_constants=json.loads(row["used_constants"]) if row["used_constants"] else None,
    )
