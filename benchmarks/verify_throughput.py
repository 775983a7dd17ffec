"""Coq verification throughput, three ways, in one run, on the same candidates and cores:

- engine: leanfilter's Verifier (warm sandboxed coqtop sessions, policy, integrity check, audit);
- naive: one `coqc` process per proof, with `Print Assumptions` (what a script would do);
- raw: bare `coqtop` processes, header loaded once, `BackTo` between proofs, no sandbox, no
  integrity check, no audit: the prover's own speed, the ceiling for any driver.

    python3 benchmarks/verify_throughput.py [--workers 2] [--repeat 1]

Prints proofs/s and the ratios, and checks that the three agree on which proofs are correct.
The shipped candidates include a few long computations that cost every way the same seconds;
a second round runs the three ways on the cheap proofs alone (under LIGHT_S seconds each for raw
coqtop, measured in the first round), where what the driver costs shows. A third round is the
flood an RL trainer sends: N one-tactic proofs of distinct statements under one header
(`--short N`, 0 to skip), where the driver's own protocol is most of the time.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from coq_reference import COQC_FLAGS, coqc_accepts, coqc_file  # noqa: E402

from leanfilter.cache import MemoryCache  # noqa: E402
from leanfilter.engine import Verifier, VerifierConfig  # noqa: E402
from leanfilter.inputs import candidate_from_record, load_problems  # noqa: E402
from leanfilter.policy.config import PolicyConfig  # noqa: E402
from leanfilter.policy.strict import StrictPolicy  # noqa: E402
from leanfilter.pool import PoolConfig  # noqa: E402
from leanfilter.records import Candidate, Status  # noqa: E402

EXAMPLES = REPO / "examples" / "minif2f_rocq"
SLOW = {"mathd_numbertheory_198", "mathd_numbertheory_517", "mathd_numbertheory_640"}
REALS_AXIOMS = frozenset(
    {"sig_forall_dec", "sig_not_dec", "functional_extensionality_dep", "classic"}
)
LIGHT_S = 0.2
SHORT_STATEMENT = "Theorem short_{c} : forall n m : nat, n + m + {c} = {c} + m + n."
raw_seconds: dict[int, float] = {}  # candidate index -> raw coqtop's time for it


def load_candidates() -> list[Candidate]:
    problems = load_problems(EXAMPLES / "problems.jsonl")
    records = [json.loads(x) for x in (EXAMPLES / "candidates.jsonl").read_text().splitlines()]
    return [candidate_from_record(r, problems) for r in records if r["name"] not in SLOW]


def short_candidates(count: int) -> list[Candidate]:
    """Distinct one-tactic proofs under one header: each statement differs, so no cache hit."""
    return [
        candidate_from_record(
            {
                "name": f"short_{c}",
                "header": "Require Import Arith Lia.",
                "formal_statement": SHORT_STATEMENT.format(c=c),
                "proof": "intros; lia.",
            },
            {},
        )
        for c in range(count)
    ]


def engine(candidates: list[Candidate], workers: int) -> list[bool]:
    config = VerifierConfig(pool=PoolConfig(workers=workers))
    # The strict policy, with `vm_compute` allowed as coqc allows it, so verdicts can agree.
    policy = StrictPolicy(PolicyConfig.model_validate({"coq": {"allow": ["vm"]}}))
    with Verifier(config, cache=MemoryCache(), policy=policy) as verifier:
        return [v.status is Status.PROVED for v in verifier.verify(candidates)]


def naive(candidates: list[Candidate], workers: int) -> list[bool]:
    def one(c: Candidate) -> bool:
        return coqc_accepts(coqc_file(c.header, c.statement or "", c.proof), REALS_AXIOMS)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, candidates))


class RawCoqtop:
    """coqtop over pipes and nothing else."""

    def __init__(self, header: str) -> None:
        argv = ["coqtop", "-emacs", *COQC_FLAGS]
        self.proc = subprocess.Popen(  # in a scratch folder: nra and psatz write caches to cwd
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=tempfile.gettempdir(),
        )
        self.header = header
        self.base = int(re.findall(r"<prompt>\S+ < (\d+)", self.send(header))[-1])

    def send(self, text: str) -> str:
        mark = f"lf_raw_{secrets.token_hex(6)}"
        self.proc.stdin.write(f"{text}\nCheck {mark}.\n".encode())  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        out = b""
        pattern = re.compile(rf"{mark}.*?</prompt>".encode(), re.S)
        while not pattern.search(out):
            out += os.read(self.proc.stdout.fileno(), 65536)  # type: ignore[union-attr]
        return out[: out.find(mark.encode())].decode(errors="replace")

    def check(self, statement: str, tactics: str) -> bool:
        answer = self.send(f"{statement}\nProof.\n{tactics}\nQed.")
        ok = "Error" not in answer and re.findall(r"<prompt>\S+ < \d+ \|\|", answer)
        self.send(f"BackTo {self.base}.")
        return bool(ok)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def raw(candidates: list[Candidate], workers: int) -> list[bool]:
    order = sorted(range(len(candidates)), key=lambda i: candidates[i].header)
    todo: queue.Queue[int] = queue.Queue()
    for i in order:
        todo.put(i)
    results: list[bool] = [False] * len(candidates)

    def work() -> None:
        prover: RawCoqtop | None = None
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                break
            c = candidates[i]
            if prover is None or prover.header != c.header:
                if prover is not None:
                    prover.close()
                prover = RawCoqtop(c.header)
            started = time.perf_counter()
            results[i] = prover.check(c.statement or "", c.proof)
            raw_seconds[i] = time.perf_counter() - started
        if prover is not None:
            prover.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def compare(label: str, candidates: list[Candidate], workers: int) -> None:
    print(f"{label}: {len(candidates)} candidates, {workers} workers, {os.cpu_count()} cores")
    timings: dict[str, float] = {}
    verdicts: dict[str, list[bool]] = {}
    for name, method in (("raw", raw), ("engine", engine), ("naive", naive)):
        started = time.perf_counter()
        verdicts[name] = method(candidates, workers)
        timings[name] = time.perf_counter() - started
        rate = len(candidates) / timings[name]
        print(
            f"{name:>9}: {timings[name]:7.1f} s  {rate:7.1f} proofs/s  {sum(verdicts[name])} proved"
        )
    naive_ratio = timings["naive"] / timings["engine"]
    raw_ratio = timings["raw"] / timings["engine"]
    print(f"  engine vs naive (one coqc per proof): {naive_ratio:.1f}x faster")
    print(f"  engine vs raw coqtop: {raw_ratio:.2f}x (engine's extra share: {1 - raw_ratio:.0%})")
    for other in ("raw", "naive"):
        differ = sum(a != b for a, b in zip(verdicts["engine"], verdicts[other], strict=True))
        print(f"  verdicts that differ, engine vs {other}: {differ}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--short", type=int, default=600, help="one-tactic proofs (0: skip)")
    parser.add_argument("--only-short", action="store_true", help="run the short round alone")
    args = parser.parse_args()
    if args.short:
        compare(f"{args.short} one-tactic proofs, one header", short_candidates(args.short), 1)
    if args.only_short:
        return
    candidates = load_candidates()
    compare("all shipped candidates", candidates, args.workers)
    light = [c for i, c in enumerate(candidates) if raw_seconds[i] < LIGHT_S]
    compare(f"cheap proofs (raw < {LIGHT_S} s)", light, args.workers)


if __name__ == "__main__":
    main()
