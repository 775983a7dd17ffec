from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threads import in_threads

import leanfilter.db
from leanfilter.cache import VerdictCache, candidate_key
from leanfilter.db import (
    DEFERRED_MAX,
    SCHEMA_VERSION,
    DamagedProofDB,
    NotAProofDB,
    ProofDB,
    ProofDBError,
    candidate_id,
)
from leanfilter.records import (
    BackendName,
    Candidate,
    Message,
    Position,
    Problem,
    SamplerInfo,
    Severity,
    Status,
    Verdict,
)

STATEMENT = "Theorem t : forall n : nat, n + 0 = n."


def candidate(proof: str = "intros n. lia.", name: str = "t", **sampler: object) -> Candidate:
    return Candidate(
        name=name,
        backend=BackendName.COQ,
        header="Require Import Lia.",
        statement=STATEMENT,
        proof=proof,
        sampler=SamplerInfo(**sampler) if sampler else None,
    )


def verdict_for(
    c: Candidate, status: Status = Status.PROVED, toolchain: str = "coq-8.16"
) -> Verdict:
    return Verdict(
        name=c.name,
        status=status,
        reason=None if status is Status.PROVED else f"test.{status.value}",
        messages=[Message(severity=Severity.INFO, text="checked", pos=Position(line=1, column=2))],
        axioms=[] if status is Status.PROVED else None,
        time_s=0.5,
        backend=c.backend,
        toolchain=toolchain,
        policy_version="p1",
        key=candidate_key(c, toolchain=toolchain, policy_version="p1"),
    )


@pytest.fixture
def db(tmp_path: Path):
    with ProofDB(tmp_path / "proofs.db") as opened:
        yield opened


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the cache --------------------------------------------------------------------------------


def test_a_recorded_verdict_is_a_cache_hit_marked_cached(db):
    assert isinstance(db, VerdictCache)
    c = candidate()
    v = verdict_for(c)
    assert db.get(v.key) is None
    db.record(c, v, db.start_run("verify", {}).id)
    hit = db.get(v.key)
    assert hit == v.model_copy(update={"cached": True})


@pytest.mark.parametrize("status", [Status.TIMEOUT, Status.ERROR])
def test_machine_dependent_answers_are_kept_but_never_served(db, status):
    c = candidate()
    db.record(c, verdict_for(c, status))
    assert db.get(verdict_for(c).key) is None
    assert [r.verdict.status for r in db.results()] == [status]
    db.record(c, verdict_for(c, Status.FAILED), "rerun")
    assert db.get(verdict_for(c).key).status is Status.FAILED


def test_a_put_entry_is_served_then_replaced_by_the_recorded_one(db):
    c = candidate()
    v = verdict_for(c)
    db.put(v.key, v)
    db.put("other", verdict_for(c, Status.TIMEOUT))
    assert db.get(v.key) == v.model_copy(update={"cached": True})
    assert db.get("other") is None
    db.record(c, v, "run")
    assert db._query("SELECT candidate_id FROM verdicts") == [{"candidate_id": candidate_id(c)}]


verdicts = st.builds(
    Verdict,
    name=st.text(max_size=10),
    status=st.sampled_from(list(Status)),
    reason=st.none() | st.text(max_size=10),
    detail=st.none() | st.text(max_size=20),
    messages=st.lists(
        st.builds(
            Message,
            severity=st.sampled_from(list(Severity)),
            text=st.text(max_size=30),
            pos=st.none() | st.builds(Position, line=st.integers(1, 99), column=st.integers(0, 99)),
        ),
        max_size=3,
    ),
    axioms=st.none() | st.lists(st.text(min_size=1, max_size=12), max_size=3),
    time_s=st.floats(0, 1e5),
    backend=st.none() | st.sampled_from(list(BackendName)),
    toolchain=st.none() | st.text(max_size=8),
    header_hash=st.none() | st.text(max_size=8),
    policy_version=st.none() | st.text(max_size=4),
    cached=st.booleans(),
    peak_rss_mb=st.none() | st.floats(0, 1e5),
)
samplers = st.none() | st.builds(
    SamplerInfo,
    model=st.none() | st.text(max_size=8),
    run_id=st.none() | st.text(max_size=8),
    temperature=st.none() | st.floats(0, 2),
    logp_policy=st.none() | st.floats(-1e4, 0),
    logp_base=st.none() | st.floats(-1e4, 0),
    step=st.none() | st.integers(0, 10**6),
)


@given(v=verdicts, sampler=samplers, proof=st.text(min_size=1, max_size=40))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_whatever_is_recorded_reads_back_the_same(db, v, sampler, proof):
    c = candidate(proof).model_copy(update={"sampler": sampler})
    run = uuid.uuid4().hex
    v = v.model_copy(update={"key": run * 2})  # one example's entry must not answer another's
    db.record(c, v, run)
    (stored,) = db.results(run_id=run)
    assert stored.candidate == c
    assert stored.verdict == v
    hit = db.get(v.key)
    assert hit == (v.model_copy(update={"cached": True}) if v.status in _cacheable() else None)


def _cacheable() -> set[Status]:
    return {Status.PROVED, Status.FAILED, Status.REJECTED}


# -- queries ----------------------------------------------------------------------------------


def test_per_problem_counts_solved_sets_and_distinct_proofs(db):
    run = db.start_run("verify a.jsonl", {"workers": 2}).id
    layouts = ["intros n. lia.", "intros n.\n  lia.", "intros n. (* arithmetic *) lia."]
    for i, proof in enumerate(layouts):
        c = candidate(proof, sample=i)
        db.record(c, verdict_for(c), run)
    other = candidate("intros. lia.")
    db.record(other, verdict_for(other), run)
    wrong = candidate("reflexivity.")
    db.record(wrong, verdict_for(wrong, Status.FAILED), run)
    unsolved = candidate("auto.", name="u")
    db.record(unsolved, verdict_for(unsolved, Status.TIMEOUT), run)
    db.add_problems(
        [
            Problem(
                name="t",
                backend=BackendName.COQ,
                header="Require Import Lia.",
                statement=STATEMENT,
                split="test",
                source="here",
            )
        ]
    )

    stats = {s.name: s for s in db.problem_stats()}
    assert (stats["t"].candidates, stats["t"].proved, stats["t"].failed) == (5, 4, 1)
    assert stats["t"].distinct_proofs == 2  # three layouts of one proof, and another proof
    assert (stats["u"].timeout, stats["u"].solved) == (1, False)
    assert db.solved() == ["t"] == db.solved(run)
    proofs = db.accepted_proofs("t")
    assert [p.candidates for p in proofs] == [3, 1]
    assert proofs[1].proof == "intros. lia."
    assert {r.split for r in db.results()} == {"test", None}
    assert len(list(db.accepted_in_run(run))) == 4
    assert list(db.accepted_in_run("another run")) == []


def test_the_latest_verdict_of_a_candidate_counts(db):
    c = candidate()
    db.record(c, verdict_for(c, Status.TIMEOUT), "first")
    db.record(c, verdict_for(c), "second")
    assert db.solved() == ["t"]
    assert db.solved("first") == []
    assert [s.timeout for s in db.problem_stats("first")] == [1]


def test_runs_are_recorded_with_their_config(db):
    run = db.start_run("leanfilter verify x.jsonl", {"workers": 3, "timeout": None})
    assert db.runs()[0].ended is None
    db.end_run(run.id)
    (stored,) = db.runs()
    assert (stored.command, stored.config) == (run.command, run.config)
    assert stored.ended >= stored.started


def test_results_are_read_in_pages(db):
    rows = []
    for i in range(2100):
        c = candidate(f"exact (proof {i}).")
        rows.append((c, verdict_for(c, Status.FAILED), None))
    assert db.record_many(rows, "big") == 2100
    assert db.record_many(rows, "big") == 0
    assert len({r.candidate_id for r in db.results(run_id="big")}) == 2100


# -- concurrency and durability ---------------------------------------------------------------


def test_threads_record_at_once_and_lose_nothing(db):
    def work(thread: int) -> None:
        for i in range(100):
            c = candidate(f"exact {thread}-{i}.")
            db.record(c, verdict_for(c), "threads")

    assert not in_threads(work, 8)
    assert len(list(db.results(run_id="threads"))) == 800


WRITER = """
import sys
from leanfilter.db import ProofDB
from leanfilter.records import BackendName, Candidate, Status, Verdict
db = ProofDB(sys.argv[1])
for i in range(int(sys.argv[3])):
    c = Candidate(name="t", backend=BackendName.COQ, statement="Theorem t : True.",
                  proof=f"exact I. (* {sys.argv[2]} {i} *)")
    db.record(c, Verdict(name="t", status=Status.PROVED, key=f"{sys.argv[2]}-{i}"), sys.argv[2])
    print(i, flush=True)
"""


def test_a_verdict_survives_kill_9_once_record_returns(tmp_path):
    path = tmp_path / "proofs.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "killed", "100000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    confirmed = [int(writer.stdout.readline()) for _ in range(200)]
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    with ProofDB(path) as db:
        stored = {r.verdict.key for r in db.results(run_id="killed")}
    assert {f"killed-{i}" for i in confirmed} <= stored


def test_processes_write_one_database_at_once(tmp_path):
    path = tmp_path / "proofs.db"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"w{n}", "300"], stdout=subprocess.DEVNULL
        )
        for n in range(3)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
    with ProofDB(path) as db:
        for n in range(3):
            assert len(list(db.results(run_id=f"w{n}"))) == 300


RACER = """
import sys, time
from leanfilter.db import ProofDB
from leanfilter.records import BackendName, Candidate, Status, Verdict
start = float(sys.argv[2])
while time.time() < start:
    pass
with ProofDB(sys.argv[1]) as db:
    for i in range(20):
        c = Candidate(name="t", backend=BackendName.COQ, statement="Theorem t : True.",
                      proof=f"exact I. (* {sys.argv[3]} {i} *)")
        db.record(c, Verdict(name="t", status=Status.PROVED, key=f"{sys.argv[3]}-{i}"), "race")
"""


def test_processes_opening_a_new_database_at_the_same_instant_all_get_in(tmp_path):
    """Creating the file and switching it to WAL race each other; no opener may lose."""
    for trial in range(4):
        path = tmp_path / f"race{trial}.db"
        start = time.time() + 1.0
        openers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(path), str(start), f"p{n}"],
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(8)
        ]
        errors = [o.communicate(timeout=300)[1] for o in openers]
        assert [o.returncode for o in openers] == [0] * 8, "\n".join(errors)
        with ProofDB(path) as db:
            assert len(list(db.results(run_id="race"))) == 8 * 20


def test_a_database_locked_while_switching_to_wal_is_waited_for(tmp_path, monkeypatch):
    """Fault injection: SQLite may refuse the switch at once, without its busy handler."""
    real = leanfilter.db._switch_to_wal
    refusals = iter(range(3))

    def refuse_then_switch(conn: sqlite3.Connection) -> None:
        if next(refusals, None) is not None:
            raise sqlite3.OperationalError("database is locked")
        real(conn)

    monkeypatch.setattr(leanfilter.db, "_switch_to_wal", refuse_then_switch)
    with ProofDB(tmp_path / "proofs.db") as db:
        assert db._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert next(refusals, None) is None


def test_a_database_locked_for_good_is_one_clear_error(tmp_path, monkeypatch):
    def refuse(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(leanfilter.db, "_switch_to_wal", refuse)
    monkeypatch.setattr(leanfilter.db, "BUSY_TIMEOUT_S", 0.3)
    path = tmp_path / "proofs.db"
    with pytest.raises(ProofDBError, match="locked") as caught:
        ProofDB(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


# -- files that are not ours ------------------------------------------------------------------


def _refused(path: Path, error: type[ProofDBError]) -> str:
    before = sha256(path)
    with pytest.raises(error) as caught:
        ProofDB(path)
    assert sha256(path) == before
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert isinstance(caught.value, sqlite3.DatabaseError)
    return message


def test_a_text_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("my notes, not a database\n" * 100)
    assert "not a SQLite database" in _refused(path, NotAProofDB)


def test_another_applications_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance REAL)")
    conn.execute("INSERT INTO accounts VALUES (1, 100.0)")
    conn.commit()
    conn.close()
    assert "another application" in _refused(path, NotAProofDB)


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "proofs.db"
    ProofDB(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    assert "newer" in _refused(path, NotAProofDB)


def _filled(path: Path) -> None:
    with ProofDB(path) as db:
        for i in range(300):
            c = candidate(f"exact {i}.")
            db.record(c, verdict_for(c), "run")


def test_a_damaged_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "proofs.db"
    _filled(path)
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)  # the schema page, after the 100-byte file header
    path.write_bytes(bytes(data))
    assert "damaged" in _refused(path, DamagedProofDB)


def test_damage_found_later_is_reported_the_same_way(tmp_path):
    path = tmp_path / "proofs.db"
    _filled(path)
    data = path.read_bytes()
    page = 4096
    path.write_bytes(data[: page * 2] + os.urandom(len(data) - page * 2))
    before = sha256(path)
    with pytest.raises(DamagedProofDB, match="damaged"), ProofDB(path) as db:
        list(db.results())
    assert sha256(path) == before


@pytest.mark.parametrize("damage", ["one page of 0xFF", "64 KiB of junk"])
def test_damage_in_the_middle_is_refused_at_opening_byte_for_byte(tmp_path, damage):
    """The header is intact, so only reading every page finds it: before any write."""
    path = tmp_path / "proofs.db"
    _filled(path)
    data = bytearray(path.read_bytes())
    page, middle = 4096, len(data) // 2 // 4096 * 4096
    assert middle >= 4 * page  # well past the header and the schema
    if damage == "one page of 0xFF":
        data[middle : middle + page] = b"\xff" * page
    else:
        data[middle : middle + 16 * page] = os.urandom(16 * page)
    path.write_bytes(bytes(data))
    assert "damaged" in _refused(path, DamagedProofDB)
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_a_schema_1_file_is_upgraded_and_keeps_its_verdicts(tmp_path):
    path = tmp_path / "proofs.db"
    _filled(path)
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE runs DROP COLUMN outcome")
    conn.execute("PRAGMA user_version=1")
    conn.close()
    with ProofDB(path) as db:
        run = db.start_run("leanfilter verify", {})
        db.end_run(run.id, "interrupted")
        assert [r.outcome for r in db.runs()] == ["interrupted"]
        assert len(list(db.results(run_id="run"))) == 300
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_write_that_fails_is_rolled_back_and_named(tmp_path):
    """A file that stops accepting writes mid-transaction: no half-applied rows of ours."""
    path = tmp_path / "proofs.db"
    _filled(path)
    with ProofDB(path) as db:
        c = candidate("exact 999.")
        db._conn.execute(
            f"PRAGMA max_page_count={db._conn.execute('PRAGMA page_count').fetchone()[0]}"
        )
        big = verdict_for(c).model_copy(update={"detail": "x" * 200_000})
        with pytest.raises(ProofDBError, match=f"{path}: database or disk is full"):
            db.record(c, big, "run")
        assert not db._conn.in_transaction
        assert len(list(db.results(run_id="run"))) == 300


def test_an_empty_file_becomes_a_database(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with ProofDB(path) as db:
        c = candidate()
        db.record(c, verdict_for(c))
    with ProofDB(path) as db:
        assert db.solved() == ["t"]


def _rows_seen_by_another_connection(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
    finally:
        conn.close()


def test_cache_hit_records_wait_for_the_next_commit(tmp_path):
    path = tmp_path / "proofs.db"
    db = ProofDB(path)
    hits = [candidate(f"exact {i}.") for i in range(DEFERRED_MAX + 11)]
    for c in hits[:10]:
        db.record(c, verdict_for(c).model_copy(update={"cached": True}), "rerun")
    assert _rows_seen_by_another_connection(path) == 0
    fresh = candidate("intros n. lia.")
    db.record(fresh, verdict_for(fresh), "rerun")  # a fresh verdict commits them all
    assert _rows_seen_by_another_connection(path) == 11
    for c in hits[10:]:
        db.record(c, verdict_for(c).model_copy(update={"cached": True}), "rerun")
    assert _rows_seen_by_another_connection(path) == 11 + DEFERRED_MAX + 1  # no more may wait
    late = [candidate(f"exact late {i}.") for i in range(2)]
    db.record(late[0], verdict_for(late[0]).model_copy(update={"cached": True}), "rerun")
    assert len(list(db.results(run_id="rerun"))) == 11 + DEFERRED_MAX + 2  # queries commit first
    db.record(late[1], verdict_for(late[1]).model_copy(update={"cached": True}), "rerun")
    db.close()
    assert _rows_seen_by_another_connection(path) == 11 + DEFERRED_MAX + 3
