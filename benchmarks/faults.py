"""Fault injection on `leanfilter verify`, as an operator meets it: each scenario is a real fault
(a tmpfs that fills up, a damaged database file, a memory cap, SIGINT, a bad path) and one run
of the command line. Prints scenario -> held / ended cleanly / broken:

- held: the fault was refused or absorbed, and nothing was harmed (file untouched, no record of
  work not done);
- ended cleanly: the run stopped promptly with one line naming the file or limit and a non-zero
  exit; every output line written is whole; the database opens and passes its check;
- broken: a traceback, a hang (past the scenario's limit), a zero exit, or harm.

Needs root (mount, setpriv) and Coq.

    python3 benchmarks/faults.py [--candidates 300]
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from leanfilter.db import DamagedProofDB, ProofDB
from leanfilter.records import BackendName, Candidate, Status, Verdict

VERIFY = [sys.executable, "-m", "leanfilter", "verify", "--workers", "2", "--no-progress"]
HEADER = "Require Import Arith Lia.\n"
LIMIT_S = 180


def candidates(path: Path, count: int, slow_from: int | None = None) -> Path:
    lines = []
    for i in range(count):
        slow = slow_from is not None and i >= slow_from
        statement = f"Theorem t{i} : forall n : nat, n + {i} = {i} + n."
        proof = "do 1000000000 idtac." if slow else "intros; lia."
        record = {"name": f"t{i}", "header": HEADER, "formal_statement": statement, "proof": proof}
        lines.append(json.dumps(record))
    path.write_text("".join(x + "\n" for x in lines))
    return path


@contextlib.contextmanager
def tmpfs(path: Path, size_kib: int, options: str = "") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k{options}", "tmpfs", str(path)]
    subprocess.run(mount, check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> None:
    with (directory / "filler").open("wb", buffering=0) as f:
        while True:
            try:
                f.write(b"\0" * 4096)
            except OSError as e:
                if e.errno == errno.ENOSPC:
                    return
                raise


def lines_of(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def whole(path: Path) -> bool:
    text = path.read_text() if path.exists() else ""
    try:
        [json.loads(x) for x in text.splitlines()]
    except json.JSONDecodeError:
        return False
    return not text or text.endswith("\n")


def sound(db: Path) -> bool:
    try:
        ProofDB(db).close()
    except DamagedProofDB:
        return False
    return True


def run(argv: list[str], during: Callable[[subprocess.Popen], None] | None = None,
        prefix: list[str] | None = None) -> tuple[int | None, str, float]:  # fmt: skip
    started = time.monotonic()
    argv = [*(prefix or []), *VERIFY, *argv]
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        if during:
            during(process)
        _, err = process.communicate(timeout=LIMIT_S)
        code = process.returncode
    except subprocess.TimeoutExpired:
        err, code = "hung", None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return code, err, time.monotonic() - started


def wait_for_lines(out: Path, count: int) -> Callable[[subprocess.Popen], None]:
    def waiting(process: subprocess.Popen) -> None:
        deadline = time.monotonic() + LIMIT_S
        while process.poll() is None and time.monotonic() < deadline and lines_of(out) < count:
            time.sleep(0.05)

    return waiting


def one_line(err: str, *needles: str) -> bool:
    said = [x for x in err.splitlines() if x.startswith(("Error:", "leanfilter sandbox:"))]
    return "Traceback" not in err and len(said) == 1 and all(n in said[0] for n in needles)


def ended_cleanly(ok: bool) -> str:
    return "ended cleanly" if ok else "broken"


def held(ok: bool) -> str:
    return "held" if ok else "broken"


def run_filling(source: Path, db: Path, out: Path, small: Path) -> tuple[int | None, str, float]:
    """A run that sees the filesystem at `small` fill up once it has written 5 lines."""
    return run(
        [str(source), "--db", str(db), "-o", str(out)],
        lambda p: (wait_for_lines(out, 5)(p), fill(small)),
    )


def disk_full_under_db(work: Path, n: int) -> tuple[str, str]:
    source, out = candidates(work / "in.jsonl", n), work / "out.jsonl"
    with tmpfs(work / "small", 8192) as small:
        db = small / "p.db"
        code, err, s = run_filling(source, db, out, small)
        (small / "filler").unlink()
        ok = code == 1 and one_line(err, str(db), "full") and whole(out) and sound(db)
    return ended_cleanly(ok), f"exit {code} after {s:.1f} s, {lines_of(out)}/{n} lines whole"


def disk_full_under_output(work: Path, n: int) -> tuple[str, str]:
    source, db = candidates(work / "in.jsonl", n), work / "p.db"
    with tmpfs(work / "small", 64) as small:
        out = small / "out.jsonl"
        code, err, s = run_filling(source, db, out, small)
        ok = code == 1 and one_line(err, str(out), "No space left") and whole(out)
        written = lines_of(out)
    outcome = sqlite3.connect(db).execute("SELECT outcome FROM runs").fetchall()
    ok = ok and outcome == [("failed",)] and sound(db)
    return ended_cleanly(
        ok
    ), f"exit {code} after {s:.1f} s, {written}/{n} lines whole, run {outcome[0][0]}"


def db_full_from_start(work: Path, n: int) -> tuple[str, str]:
    source, out = candidates(work / "in.jsonl", n), work / "out.jsonl"
    with tmpfs(work / "small", 256) as small:
        fill(small)
        db = small / "p.db"
        code, err, s = run([str(source), "--db", str(db), "-o", str(out)])
        ok = code == 1 and one_line(err, str(db)) and lines_of(out) == 0
    return ended_cleanly(ok), f"exit {code} after {s:.1f} s: {err.strip().splitlines()[0][:70]}"


def damaged_middle(work: Path, n: int, junk: bytes) -> tuple[str, str]:
    db = work / "p.db"
    with ProofDB(db) as proofs:
        for i in range(400):
            statement, proof = f"Theorem t{i} : True.", f"exact I. (* {i} *)"
            c = Candidate(
                name=f"t{i}",
                backend=BackendName.COQ,
                header=HEADER,
                statement=statement,
                proof=proof,
            )
            proofs.record(c, Verdict(name=c.name, status=Status.PROVED, detail="x" * 300), "r")
    data = bytearray(db.read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle : middle + len(junk)] = junk
    db.write_bytes(bytes(data))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    source, out = candidates(work / "in.jsonl", n), work / "out.jsonl"
    code, err, s = run([str(source), "--db", str(db), "-o", str(out)])
    untouched = hashlib.sha256(db.read_bytes()).hexdigest() == before
    ok = code == 1 and one_line(err, str(db), "damaged") and untouched and lines_of(out) == 0
    return held(ok), f"exit {code} after {s:.1f} s, file untouched: {untouched}"


def memory_cap(work: Path, n: int) -> tuple[str, str]:
    source, out, db = candidates(work / "in.jsonl", n), work / "out.jsonl", work / "p.db"
    cap = ["prlimit", f"--as={2 * 1024**3}", "setpriv", "--bounding-set", "-sys_resource",
           "--inh-caps", "-sys_resource"]  # fmt: skip
    code, err, s = run([str(source), "--db", str(db), "-o", str(out)], prefix=cap)
    rows = sqlite3.connect(db).execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
    ok = code == 3 and one_line(err, "RLIMIT_AS") and lines_of(out) == 0 and rows == 0
    return ended_cleanly(ok), f"exit {code} after {s:.1f} s, {rows} verdicts recorded"


def ctrl_c(work: Path, n: int) -> tuple[str, str]:
    source, out, db = (
        candidates(work / "in.jsonl", n, slow_from=5),
        work / "out.jsonl",
        work / "p.db",
    )

    def interrupt(process: subprocess.Popen) -> None:
        wait_for_lines(out, 1)(process)
        time.sleep(2)
        process.send_signal(signal.SIGINT)

    argv = [str(source), "--db", str(db), "-o", str(out), "--timeout", "10"]
    code, _, s = run(argv, interrupt)
    conn = sqlite3.connect(db)
    rows = [r[0] for r in conn.execute("SELECT status FROM verdicts WHERE run_id != ''")]
    outcome = conn.execute("SELECT outcome FROM runs").fetchall()
    answers = set(rows) <= {"proved", "failed", "timeout"}  # no `error` for lines never checked
    ok = code == 130 and answers and outcome == [("interrupted",)] and whole(out)
    counts = {status: rows.count(status) for status in sorted(set(rows))}
    return held(ok), f"exit {code} after {s:.1f} s, recorded {counts} of {n}, run {outcome[0][0]}"


def bad_output_path(work: Path, n: int) -> tuple[str, str]:
    source, db = candidates(work / "in.jsonl", n), work / "p.db"
    code, err, s = run([str(source), "--db", str(db), "-o", "/nonexistent_dir/out.jsonl"])
    ok = code == 1 and one_line(err, "/nonexistent_dir/out.jsonl") and not db.exists()
    return held(ok), f"exit {code} after {s:.1f} s, database created: {db.exists()}"


def read_only_output(work: Path, n: int) -> tuple[str, str]:
    source, db = candidates(work / "in.jsonl", n), work / "p.db"
    with tmpfs(work / "ro", 64, ",ro") as ro:
        code, err, s = run([str(source), "--db", str(db), "-o", str(ro / "out.jsonl")])
    ok = code == 1 and one_line(err, "Read-only") and not db.exists()
    return held(ok), f"exit {code} after {s:.1f} s, database created: {db.exists()}"


def empty_input(work: Path, n: int) -> tuple[str, str]:
    source, db = work / "in.jsonl", work / "p.db"
    source.write_text("")
    code, err, _ = run([str(source), "--db", str(db)])
    ok = code == 1 and one_line(err, "no candidates") and not db.exists()
    return held(ok), f"exit {code}: {err.strip()[:60]}"


SCENARIOS: dict[str, Callable[[Path, int], tuple[str, str]]] = {
    "disk fills up under --db mid-run": disk_full_under_db,
    "disk fills up under -o mid-run": disk_full_under_output,
    "--db on a full disk from the start": db_full_from_start,
    "database: one page of 0xFF in its middle": lambda w, n: damaged_middle(w, n, b"\xff" * 4096),
    "database: 64 KiB of junk in its middle": lambda w, n: damaged_middle(w, n, os.urandom(65536)),
    "memory cap (2 GiB) below the jail's 3 GiB": memory_cap,
    "Ctrl-C mid-run with --db": ctrl_c,
    "-o in a folder that does not exist": bad_output_path,
    "-o on a read-only filesystem": read_only_output,
    "empty input": empty_input,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=300)
    args = parser.parse_args()
    print(f"| scenario ({args.candidates} candidates) | result | what happened |")
    print("|---|---|---|")
    for name, scenario in SCENARIOS.items():
        with tempfile.TemporaryDirectory(prefix="leanfilter-faults-") as work:
            try:
                result, detail = scenario(Path(work), args.candidates)
            except Exception as e:  # a scenario that cannot even be judged
                result, detail = "broken", f"{type(e).__name__}: {e}"
        print(f"| {name} | {result} | {detail} |", flush=True)


if __name__ == "__main__":
    main()
