"""`leanfilter verify --db` under real kills and real concurrency, on real Coq candidates.

Candidates are the project's miniF2F-rocq examples (short tactic scripts, some closing their
problem, most not), a few lines repeated. Verdicts are compared on what the prover and the policy
decided (status, reason, detail, messages); time, memory and the cached flag differ from run to
run by nature, and so do the axioms of a batch-audited Coq proof (a batch reports the union of
its members').
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filesystems import fill, tmpfs

from leanfilter.db import ProofDB, candidate_id
from leanfilter.inputs import load_problems, read_candidates

pytestmark = [pytest.mark.coq, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "minif2f_rocq"
HEADERS = (
    "Require Import Reals.\nOpen Scope R_scope.\n",
    "Require Import ZArith.\nOpen Scope Z_scope.\n",
    "Require Import Arith.\n",
)
VERIFY = [sys.executable, "-c", "from leanfilter.cli import main; main()", "verify"]


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example candidates whose problems share the three commonest headers (few sessions
    to start, so a run takes seconds), plus some repeated lines; and an uninterrupted run."""
    problems = EXAMPLES / "problems.jsonl"
    known = load_problems(problems)
    lines = [
        line
        for line in (EXAMPLES / "candidates.jsonl").read_text().splitlines()
        if known[json.loads(line)["name"]].header in HEADERS
    ]
    lines += lines[:: len(lines) // 10]  # repeats: answered once, reported for every line
    folder = tmp_path_factory.mktemp("workload")
    candidates = folder / "candidates.jsonl"
    candidates.write_text("".join(line + "\n" for line in lines))
    reference = folder / "reference.jsonl"
    done = _verify(candidates, problems, folder / "reference.db", reference)
    assert done.returncode == 0, done.stderr
    return {"candidates": candidates, "problems": problems, "reference": reference}


def _command(candidates: Path, problems: Path, db: Path, out: Path, workers: int) -> list[str]:
    return [*VERIFY, str(candidates), "--problems", str(problems), "--db", str(db), "-o", str(out),
            "--workers", str(workers), "--timeout", "60", "--no-progress"]  # fmt: skip


def _verify(
    candidates: Path, problems: Path, db: Path, out: Path, workers: int = 2
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(candidates, problems, db, out, workers),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _decided(verdict: dict) -> tuple:
    """What the prover and the policy decided, without what varies by run."""
    messages = tuple((m["severity"], m["text"], json.dumps(m["pos"])) for m in verdict["messages"])
    return verdict["name"], verdict["status"], verdict["reason"], verdict["detail"], messages


def _by_line(path: Path) -> dict[int, dict]:
    verdicts: dict[int, dict] = {}
    for raw in path.read_text().splitlines():
        verdict = json.loads(raw)
        assert verdict["line"] not in verdicts, f"line {verdict['line']} answered twice"
        verdicts[verdict["line"]] = verdict
    return verdicts


def _input_candidates(workload: dict[str, Path]) -> dict:
    problems = load_problems(workload["problems"])
    return dict(read_candidates(workload["candidates"], problems))


def _read(db: Path, sql: str, params: list[str] | None = None) -> list[tuple]:
    """Rows read over a read-only connection of our own, next to the running writers."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params or []).fetchall()
    finally:
        conn.close()


def _assert_run_is_complete(db: Path, run_id: str, candidates: dict) -> None:
    """The run holds exactly one verdict for each input line: its sample number is the line,
    and its candidate is that line's, repeated texts included."""
    rows = _read(db, "SELECT sample, candidate_id FROM verdicts WHERE run_id = ?", [run_id])
    assert sorted(rows) == sorted((line, candidate_id(c)) for line, c in candidates.items())


def test_a_run_killed_with_sigkill_resumes_to_the_uninterrupted_answers(workload, tmp_path):
    reference = _by_line(workload["reference"])
    db, killed_out = tmp_path / "proofs.db", tmp_path / "killed.jsonl"
    process = subprocess.Popen(
        _command(workload["candidates"], workload["problems"], db, killed_out, 2),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_rows(db, at_least=len(reference) // 3, process=process)
        assert process.poll() is None, "the run ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        _kill_group(process)
    with ProofDB(db) as store:  # the killed run left a usable database
        (killed_run,) = store.runs()
        assert killed_run.ended is None
        known_before = {r.verdict.key for r in store.results(run_id=killed_run.id)}
    assert 0 < len(known_before) < len({v["key"] for v in reference.values()})

    resumed_out = tmp_path / "resumed.jsonl"
    done = _verify(workload["candidates"], workload["problems"], db, resumed_out)
    assert done.returncode == 0, done.stderr
    resumed = _by_line(resumed_out)
    assert sorted(resumed) == sorted(reference)
    for line, verdict in resumed.items():
        assert _decided(verdict) == _decided(reference[line]), f"line {line}"
        if verdict["key"] in known_before and verdict["status"] in ("proved", "failed", "rejected"):
            assert verdict["cached"], f"line {line} was checked again though already known"
    with ProofDB(db) as store:
        resumed_run = next(r for r in store.runs() if r.id != killed_run.id)
        assert resumed_run.ended is not None
    _assert_run_is_complete(db, resumed_run.id, _input_candidates(workload))


def test_two_runs_write_one_database_at_once(workload, tmp_path):
    reference = _by_line(workload["reference"])
    lines = workload["candidates"].read_text().splitlines(keepends=True)
    third = len(lines) // 3
    halves = {"first": lines[: 2 * third], "second": lines[third:]}  # a third in common
    db = tmp_path / "shared.db"
    processes = {}
    for name, part in halves.items():
        (tmp_path / f"{name}.jsonl").write_text("".join(part))
        processes[name] = subprocess.Popen(
            _command(tmp_path / f"{name}.jsonl", workload["problems"], db,
                     tmp_path / f"{name}.out.jsonl", 1),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        for name, process in processes.items():
            _, err = process.communicate(timeout=600)  # a deadlock would end here
            assert process.returncode == 0, f"{name}: {err}"
    finally:
        for process in processes.values():
            _kill_group(process)

    offset = {"first": 0, "second": third}
    for name in halves:
        out = _by_line(tmp_path / f"{name}.out.jsonl")
        assert sorted(out) == list(range(1, len(halves[name]) + 1))
        for line, verdict in out.items():
            assert _decided(verdict) == _decided(reference[line + offset[name]])
    problems = load_problems(workload["problems"])
    with ProofDB(db) as store:
        runs = store.runs()
        assert len(runs) == 2 and all(r.ended is not None for r in runs)
        everything = {r.candidate_id for r in store.results()}
    for run in runs:
        source = tmp_path / ("first.jsonl" if "first.jsonl" in run.command else "second.jsonl")
        _assert_run_is_complete(db, run.id, dict(read_candidates(source, problems)))
    assert everything == {candidate_id(c) for c in _input_candidates(workload).values()}


@pytest.mark.parametrize("kind", ["text", "foreign sqlite", "damaged"])
def test_verify_refuses_a_database_that_is_not_its_own(workload, tmp_path, kind):
    db = tmp_path / "precious.db"
    if kind == "text":
        db.write_text("a file that happens to be called precious.db\n")
    elif kind == "foreign sqlite":
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        conn.commit()
        conn.close()
    else:
        ProofDB(db).close()
        data = bytearray(db.read_bytes())
        data[100:] = os.urandom(len(data) - 100)
        db.write_bytes(bytes(data))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    done = _verify(workload["candidates"], workload["problems"], db, tmp_path / "out.jsonl")
    assert done.returncode == 1
    error = done.stderr.strip()
    assert error.count("\n") == 0 and str(db) in error
    assert any(w in error for w in ("not a SQLite", "another application", "damaged"))
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not (tmp_path / "out.jsonl").exists() or not (tmp_path / "out.jsonl").read_text()


def _wait_for_rows(db: Path, at_least: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            count = _read(db, "SELECT COUNT(*) FROM verdicts WHERE candidate_id != ''")[0][0]
        except sqlite3.OperationalError:  # not created yet
            count = 0
        if count >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"the run recorded fewer than {at_least} verdicts before it ended")


def _kill_group(process: subprocess.Popen) -> None:
    """Reap whatever the run left behind (its provers), so no test leaks processes."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def test_every_line_is_recorded_when_its_twin_is_in_flight(tmp_path):
    header = "Require Import Lia."
    proofs = ["intros n. lia.", "intros n.  lia.", "intros n.\n  lia."]  # one key, three texts
    lines = [
        {"name": "t", "header": header, "formal_statement": "Theorem t : forall n, n + 1 = 1 + n.",
         "proof": proof}
        for proof in proofs
    ]  # fmt: skip
    candidates = tmp_path / "twins.jsonl"
    candidates.write_text("".join(json.dumps(line) + "\n" for line in lines))
    db = tmp_path / "twins.db"
    done = subprocess.run(
        [*VERIFY, str(candidates), "--db", str(db), "-o", str(tmp_path / "out.jsonl"),
         "--workers", "1", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with ProofDB(db) as store:
        (run,) = store.runs()
    _assert_run_is_complete(db, run.id, dict(read_candidates(candidates)))


def _arith(path: Path, count: int) -> Path:
    """`count` distinct quick Coq candidates, one header: seconds of work."""
    header = "Require Import Arith Lia.\n"
    path.write_text(
        "".join(
            json.dumps({"name": f"t{i}", "header": header, "proof": "intros; lia.",
                        "formal_statement": f"Theorem t{i} : forall n : nat, n + {i} = {i} + n."})
            + "\n"
            for i in range(count)
        )
    )  # fmt: skip
    return path


def _run_until_full(source: Path, db: Path, out: Path, full: Path) -> tuple[int, str]:
    """Start a run, let it write a few verdicts, then fill the filesystem at `full`."""
    argv = [
        *VERIFY,
        str(source),
        "--db",
        str(db),
        "-o",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    ]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            if out.exists() and out.read_text().count("\n") >= 3:
                break
            time.sleep(0.05)
        fill(full)
        _, err = process.communicate(timeout=120)
    finally:
        _kill_group(process)
    return process.returncode, err


def _whole_lines(out: Path) -> list[dict]:
    text = out.read_text()
    assert not text or text.endswith("\n"), "a line was cut in half"
    return [json.loads(x) for x in text.splitlines()]


def _one_error(err: str) -> str:
    """The one line the run ended with; never a traceback."""
    errors = [x for x in err.splitlines() if x.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_a_database_whose_disk_fills_up_ends_the_run_in_one_line(tmp_path):
    source, out = _arith(tmp_path / "in.jsonl", 400), tmp_path / "out.jsonl"
    with tmpfs(tmp_path / "small", 8192) as small:
        db = small / "proofs.db"
        code, err = _run_until_full(source, db, out, small)
        error = _one_error(err)
        assert code == 1 and str(db) in error and "full" in error
        written = _whole_lines(out)
        assert 0 < len(written) < 400
        (small / "filler").unlink()
        with ProofDB(db) as reopened:  # as SQLite left it: opens, passes its check
            recorded = {s.name for s in reopened.problem_stats()}
        assert {v["name"] for v in written} <= recorded  # recorded before written out


def test_an_output_whose_disk_fills_up_ends_the_run_and_keeps_whole_lines(tmp_path):
    source, db = _arith(tmp_path / "in.jsonl", 400), tmp_path / "proofs.db"
    with tmpfs(tmp_path / "small", 64) as small:
        out = small / "out.jsonl"
        code, err = _run_until_full(source, db, out, small)
        assert code == 1
        assert f"{out}: cannot write: No space left on device" in _one_error(err)
        written = _whole_lines(out)
    assert 0 < len(written) < 400
    outcome = _read(db, "SELECT outcome FROM runs")
    assert outcome == [("failed",)]
