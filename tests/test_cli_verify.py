"""`leanfilter verify` as a user runs it: real processes, real files, real signals."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from filesystems import tmpfs

pytestmark = pytest.mark.coq

HEADER = "Require Import Arith Lia.\n"
STATEMENT = "Theorem add_comm' : forall n m : nat, n + m = m + n."


def line(**fields: object) -> str:
    return json.dumps(fields)


def write_lines(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leanfilter", "verify", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def verdicts(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def good(proof: str = "intros; lia.", name: str = "add_comm'") -> str:
    return line(name=name, header=HEADER, formal_statement=STATEMENT, proof=proof)


def test_every_bad_line_gets_an_error_verdict_and_the_run_goes_on(tmp_path: Path) -> None:
    problems = write_lines(
        tmp_path / "problems.jsonl",
        [line(name="add_comm'", backend="coq", header=HEADER, statement=STATEMENT)],
    )
    source = write_lines(
        tmp_path / "in.jsonl",
        [
            good(),
            '{"name": "x", "proof": ',  # malformed JSON
            line(name="add_comm'"),  # no proof
            line(name="nobody", proof="intros; lia."),  # unknown problem
            line(name="add_comm'", proof="   "),  # empty proof
            b"\xff\xfe binary \x00",  # not UTF-8
            line(name="add_comm'", proof="bad\x00"),  # binary inside valid JSON
            "[1, 2]",  # not an object
            "",  # empty line
            line(name="add_comm'", proof="intros. reflexivity."),
            line(name="add_comm'", proof=123),  # wrong type
            good(),
        ],
    )
    out = tmp_path / "out.jsonl"
    result = run_cli(str(source), "--problems", str(problems), "-o", str(out))
    assert result.returncode == 0, result.stderr
    got = verdicts(out)
    assert [v["line"] for v in got] == list(range(1, 13))
    statuses = [v["status"] for v in got]
    assert statuses == ["proved"] + ["error"] * 8 + ["failed", "error", "proved"]
    details = [v["detail"] for v in got]
    assert "line 2: malformed JSON" in details[1]
    assert "'proof' is missing" in details[2]
    assert "unknown problem 'nobody'" in details[3]
    assert "'proof' is empty" in details[4]
    assert "not UTF-8" in details[5]
    assert "binary" in details[6]
    assert "JSON object" in details[7]
    assert "empty" in details[8]
    assert "must be a string" in details[10]
    for v in got:
        assert {"line", "name", "status", "messages", "time_s", "cached"} <= v.keys()
    assert "proved 2" in result.stderr and "problems solved 1/" in result.stderr


def test_output_follows_input_order_with_two_workers(tmp_path: Path) -> None:
    proofs = ["intros. do 2000000 idtac. lia.", "intros. reflexivity.", "intros; lia."] * 4
    source = write_lines(tmp_path / "in.jsonl", [good(p) for p in proofs])
    out = tmp_path / "out.jsonl"
    result = run_cli(str(source), "--workers", "2", "-o", str(out))
    assert result.returncode == 0, result.stderr
    got = verdicts(out)
    assert [v["line"] for v in got] == list(range(1, len(proofs) + 1))
    assert [v["status"] for v in got] == ["proved", "failed", "proved"] * 4


def test_stdout_is_the_default_output(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [good()])
    result = run_cli(str(source))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "proved"


def test_a_missing_prover_is_one_clear_line(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [good(), good("intros. reflexivity.")])
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    result = run_cli(str(source), "-o", str(out), env=env)
    assert result.returncode == 3
    notices = [x for x in result.stderr.splitlines() if "not installed" in x]
    assert len(notices) == 1
    assert notices[0].startswith("leanfilter: Coq is not installed: run `apt-get install coq`")
    assert [v["reason"] for v in verdicts(out)] == ["prover.unavailable"] * 2


def test_a_bad_problems_file_names_file_and_line(tmp_path: Path) -> None:
    problems = write_lines(
        tmp_path / "p.jsonl", [line(name="a", statement="Theorem a : True."), "{oops"]
    )
    source = write_lines(tmp_path / "in.jsonl", [good()])
    result = run_cli(str(source), "--problems", str(problems))
    assert result.returncode == 1
    assert f"{problems}:2: malformed JSON" in result.stderr


def test_ctrl_c_stops_at_once_kills_the_provers_and_leaves_whole_lines(tmp_path: Path) -> None:
    proofs = ["intros; lia."] * 3 + ["intros. do 1000000000 idtac."] + ["intros; lia."] * 3
    source = write_lines(tmp_path / "in.jsonl", [good(p) for p in proofs])
    out, db = tmp_path / "out.jsonl", tmp_path / "proofs.db"
    argv = [sys.executable, "-m", "leanfilter", "verify", str(source), "-o", str(out)]
    proc = subprocess.Popen([*argv, "--db", str(db)], stderr=subprocess.PIPE, text=True)
    provers: list[psutil.Process] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.name() == "coqtop" for p in provers):
        time.sleep(0.2)
        provers = psutil.Process(proc.pid).children(recursive=True)
    time.sleep(3)  # the looping candidate is running now
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err
    for verdict in verdicts(out):  # each written line parses: none was cut in half
        assert verdict["status"] == "proved"
    assert not [p for p in provers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    # Lines never checked are no verdicts: the database holds the answers found, no `error`,
    # and says the run was interrupted.
    with contextlib.closing(sqlite3.connect(db)) as conn:
        statuses = [r[0] for r in conn.execute("SELECT status FROM verdicts WHERE run_id != ''")]
        outcomes = [r[0] for r in conn.execute("SELECT outcome FROM runs")]
    assert set(statuses) <= {"proved"} and len(statuses) >= len(verdicts(out))
    assert outcomes == ["interrupted"]


def test_replay_confirms_each_proof_found(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [good(), good("intros. reflexivity.")])
    out = tmp_path / "out.jsonl"
    result = run_cli(str(source), "-o", str(out), "--replay")
    assert result.returncode == 0, result.stderr
    proved, wrong = verdicts(out)
    assert proved["status"] == "proved" and proved["policy_version"].endswith("+replay")
    assert wrong["status"] == "failed"


def test_replay_is_refused_at_once_for_lean(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [good()])
    result = run_cli(str(source), "--backend", "lean", "--replay")
    assert result.returncode == 2
    assert "Lean has no replay yet" in result.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("ray") is not None, reason="ray is installed: tests/cluster run it"
)
def test_ray_without_its_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [good()])
    result = run_cli(str(source), "--ray", "local", "-o", str(tmp_path / "out.jsonl"))
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: --ray needs its extra: pip install 'leanfilter[ray]'"
    assert not (tmp_path / "out.jsonl").exists()


def test_replay_without_coqchk_proves_nothing_and_says_why_once(tmp_path: Path) -> None:
    only_coqtop = Path(tempfile.mkdtemp())  # the jail's uid must reach it: not under tmp_path
    only_coqtop.chmod(0o755)
    (only_coqtop / "coqtop").symlink_to(shutil.which("coqtop") or "/usr/bin/coqtop")
    source = write_lines(tmp_path / "in.jsonl", [good(), good("intros; lia. (* again *)")])
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "PATH": str(only_coqtop)}
    result = run_cli(str(source), "-o", str(out), "--replay", env=env)
    assert result.returncode == 3
    assert [v["reason"] for v in verdicts(out)] == ["replay.unavailable"] * 2
    notices = [x for x in result.stderr.splitlines() if "replay needs coqc and coqchk" in x]
    assert len(notices) == 1


def test_an_output_path_that_cannot_be_written_is_one_line_before_any_work(
    tmp_path: Path,
) -> None:
    source = write_lines(tmp_path / "in.jsonl", [good()])
    db = tmp_path / "proofs.db"
    result = run_cli(str(source), "-o", "/nonexistent_dir/out.jsonl", "--db", str(db))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: /nonexistent_dir/out.jsonl: cannot write: No such file or directory"
    ]
    assert not db.exists()  # no run record, no database: nothing was done


def test_a_read_only_output_is_one_line_before_any_work(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [good()])
    with tmpfs(tmp_path / "ro", 64, read_only=True) as read_only:
        target = read_only / "out.jsonl"
        result = run_cli(str(source), "-o", str(target))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {target}: cannot write: Read-only file system"
    ]


@pytest.mark.parametrize("content", [b"", b"\n", b"  \n\n"])
def test_empty_input_says_there_were_no_candidates(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(content)
    result = run_cli(str(source))
    if content:  # blank lines are lines: each gets its error verdict
        assert result.returncode == 0 and result.stdout.count("the line is empty") >= 1
        return
    assert result.returncode == 1
    assert f"{source}: the input had no candidates" in result.stderr


def test_dash_reads_candidates_from_standard_input(tmp_path: Path) -> None:
    text = "\n".join([good(), good("intros. reflexivity.")]) + "\n"
    result = subprocess.run(
        [sys.executable, "-m", "leanfilter", "verify", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    statuses = [json.loads(x)["status"] for x in result.stdout.splitlines()]
    assert statuses == ["proved", "failed"]
    empty = subprocess.run(
        [sys.executable, "-m", "leanfilter", "verify", "-"],
        input="",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert empty.returncode == 1 and "standard input: the input had no candidates" in empty.stderr
