"""Cost of the verdict cache and the proof database, in one run.

1. Cache hits: look-ups per second of a stored verdict, in memory and in a database of N
   verdicts, and the cost of computing the key itself (normalizing a Coq proof, hashing).
2. Inserts: verdicts recorded per second, one durable commit each (fsync on, the default, and
   off), from 4 threads at once, and in batches (imports).
3. `leanfilter verify --db` on the example Coq candidates (examples/minif2f_rocq), then the same
   command again on the same database: the rerun's time as a ratio of the first run's (whole
   process, and the time the run itself reports, which leaves out Python's start-up).

Run: python3 benchmarks/cache_db.py [N]   (N verdicts for parts 1 and 2; default 20000)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from leanfilter.cache import MemoryCache, cache_key, candidate_key
from leanfilter.db import ProofDB
from leanfilter.records import BackendName, Candidate, Message, Severity, Status, Verdict

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "minif2f_rocq"


def candidate(i: int) -> Candidate:
    return Candidate(
        name=f"p{i % 500}",
        backend=BackendName.COQ,
        header="Require Import Arith Lia.",
        statement=f"Theorem p{i % 500} : forall n : nat, n + {i % 500} = {i % 500} + n.",
        proof=f"intros n.\n  (* attempt {i} *)\n  lia.\n  idtac {i}.",
    )


def verdict(c: Candidate) -> Verdict:
    return Verdict(
        name=c.name,
        status=Status.FAILED,
        reason="prover.error",
        messages=[Message(severity=Severity.ERROR, text="Tactic failure: Cannot find witness.")],
        time_s=0.004,
        backend=c.backend,
        toolchain="coq-8.16.1",
        policy_version="basic-1",
        key=candidate_key(c, toolchain="coq-8.16.1", policy_version="basic-1"),
    )


def rate(n: int, action: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for i in range(n):
        action(i)
    return n / (time.perf_counter() - started)


def cache_hits(n: int, folder: Path) -> None:
    pairs = [(c, verdict(c)) for c in map(candidate, range(n))]
    keys = [v.key for _, v in pairs]
    memory = MemoryCache()
    for _, v in pairs:
        memory.put(v.key, v)
    with ProofDB(folder / "hits.db", fsync=False) as db:
        db.record_many([(c, v, None) for c, v in pairs], "bench")
        db_rate = rate(n, lambda i: db.get(keys[i]))
    memory_rate = rate(n, lambda i: memory.get(keys[i]))
    key_rate = rate(
        n,
        lambda i: cache_key(
            backend=BackendName.COQ,
            toolchain="coq-8.16.1",
            header=pairs[i][0].header,
            statement=pairs[i][0].statement,
            proof=pairs[i][0].proof,
            whole_file=False,
            policy_version="basic-1",
        ),
    )
    print(f"cache hits, in memory:            {memory_rate:>9.0f} look-ups/s")
    print(f"cache hits, database of {n}:    {db_rate:>9.0f} look-ups/s")
    print(f"cache key (normalize + sha256):   {key_rate:>9.0f} keys/s")


def inserts(n: int, folder: Path) -> None:
    pairs = [(c, verdict(c)) for c in map(candidate, range(n))]
    count = min(n, 5000)
    for fsync in (True, False):
        with ProofDB(folder / f"insert-{fsync}.db", fsync=fsync) as db:
            one = rate(count, lambda i, db=db: db.record(*pairs[i], "bench"))
        print(
            f"inserts, one commit each, fsync {'on ' if fsync else 'off'}: {one:>8.0f} verdicts/s"
        )
    with ProofDB(folder / "threads.db") as db:
        started = time.perf_counter()
        threads = [
            threading.Thread(
                target=lambda t=t: [db.record(*pairs[i], "bench") for i in range(t, count, 4)]
            )
            for t in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        threaded = count / (time.perf_counter() - started)
    print(f"inserts, 4 threads, fsync on:      {threaded:>8.0f} verdicts/s")
    with ProofDB(folder / "batch.db") as db:
        started = time.perf_counter()
        for start in range(0, n, 1000):
            db.record_many([(c, v, None) for c, v in pairs[start : start + 1000]], "bench")
        batched = n / (time.perf_counter() - started)
    print(f"inserts, batches of 1000:          {batched:>8.0f} verdicts/s")


def rerun(folder: Path) -> None:
    command = [
        sys.executable, "-c", "from leanfilter.cli import main; main()", "verify",
        str(EXAMPLES / "candidates.jsonl"), "--problems", str(EXAMPLES / "problems.jsonl"),
        "--db", str(folder / "verify.db"), "-o", os.devnull, "--workers", "2", "--no-progress",
    ]  # fmt: skip
    times = []
    for _ in ("first", "rerun"):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        reported = float(re.search(r"candidates in ([\d.]+) s", done.stderr).group(1))
        times.append((wall, reported, done.stderr.strip().splitlines()[-1]))
    (first_wall, first_run, first_line), (again_wall, again_run, again_line) = times
    print("verify --db on examples/minif2f_rocq (Coq), 2 workers, then the same command again:")
    print(f"  first run: {first_wall:6.2f} s process, {first_run:6.2f} s run   [{first_line}]")
    print(f"  rerun:     {again_wall:6.2f} s process, {again_run:6.2f} s run   [{again_line}]")
    print(
        f"  rerun / first: {again_wall / first_wall:.3f} (process), "
        f"{again_run / max(first_run, 1e-9):.4f} (run)"
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cache_hits(n, folder)
        inserts(n, folder)
        rerun(folder)


if __name__ == "__main__":
    main()
