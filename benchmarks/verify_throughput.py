"""Coq verification throughput, three ways, in one run, on the same candidates and cores:

- engine: leanfilter's Verifier (warm sandboxed coqtop sessions, policy, integrity check, audit);
- naive: one `coqc` process per proof, with `Print Assumptions` (what a script would do);
- raw: bare `coqtop` processes, header loaded once, `BackTo` between proofs, no sandbox, no
  integrity check, no audit: the prover's own speed, the ceiling for any driver.

    python3 benchmarks/verify_throughput.py [--workers 2] [--repeat 1] [--short N] [--mixed]

Prints proofs/s and the ratios, and checks that the three agree on which proofs are correct.
The shipped candidates include a few long computations that cost every way the same seconds;
a second round runs the three ways on the cheap proofs alone (under LIGHT_S seconds each for raw
coqtop, measured in the first round), where what the driver costs shows. A third round is the
flood an RL trainer sends: N one-tactic proofs of distinct statements under one header
(`--short N`, 0 to skip), where the driver's own protocol is most of the time; `--mixed` adds
the same flood with every other proof wrong, as most of a trainer's are.

Latency is read from `leanfilter verify` itself, run as a user runs it, on the shipped examples
and on the short flood: the time to its first output line and the largest gap between two
lines; and a cold start: one candidate, from process start to its verdict line. `--scaling`
runs the short flood with 1 and 2 workers (efficiency: throughput ratio / worker ratio). The
last lines are one table of every figure.
"""

from __future__ import annotations

import argparse
import itertools
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
NAIVE_SAMPLE = 80  # one coqc per proof is slow: timed on this many, its rate scaled to all
SHORT_STATEMENT = "Theorem short_{c} : forall n m : nat, n + m + {c} = {c} + m + n."
raw_seconds: dict[int, float] = {}  # candidate index -> raw coqtop's time for it
summary: dict[str, float] = {}  # the closing table's rows


def load_candidates() -> list[Candidate]:
    problems = load_problems(EXAMPLES / "problems.jsonl")
    records = [json.loads(x) for x in (EXAMPLES / "candidates.jsonl").read_text().splitlines()]
    return [candidate_from_record(r, problems) for r in records if r["name"] not in SLOW]


def short_candidates(count: int, failing: bool = False) -> list[Candidate]:
    """Distinct one-tactic proofs under one header: each statement differs, so no cache hit.
    With `failing`, every other proof is wrong, as most of an RL trainer's are."""
    records = short_records(count)
    for record in records[1::2] if failing else []:
        record["proof"] = "intros; exact I."
    return [candidate_from_record(r, {}) for r in records]


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


def compare(label: str, candidates: list[Candidate], workers: int, repeat: int) -> None:
    """Raw and engine run `repeat` times each, alternated, and the fastest run of each counts:
    on a shared machine, the others measure the neighbours. Naive runs once."""
    print(f"{label}: {len(candidates)} candidates, {workers} workers, {os.cpu_count()} cores")
    runs: dict[str, list[float]] = {}
    verdicts: dict[str, list[bool]] = {}
    ways = [("raw", raw), ("engine", engine)] * repeat + [("naive", naive)]
    for name, method in ways:
        chosen = candidates[:NAIVE_SAMPLE] if name == "naive" else candidates
        started = time.perf_counter()
        verdicts[name] = method(chosen, workers)
        elapsed = (time.perf_counter() - started) * len(candidates) / len(chosen)
        runs.setdefault(name, []).append(elapsed)
    timings = {name: min(seconds) for name, seconds in runs.items()}
    for name, seconds in runs.items():
        rate = len(candidates) / timings[name]
        each = f" (runs: {', '.join(f'{x:.1f}' for x in seconds)} s)" if len(seconds) > 1 else ""
        scaled = len(candidates) > NAIVE_SAMPLE and name == "naive"
        print(
            f"{name:>9}: {timings[name]:7.1f} s  {rate:7.1f} proofs/s  {sum(verdicts[name])} proved"
            + (f" (of the first {NAIVE_SAMPLE}, time scaled)" if scaled else each)
        )
    naive_ratio = timings["naive"] / timings["engine"]
    raw_ratio = timings["raw"] / timings["engine"]
    summary[f"{label}: engine / bare warm coqtop (time)"] = 1 / raw_ratio
    summary[f"{label}: one coqc per proof / engine (time)"] = naive_ratio
    print(f"  engine vs naive (one coqc per proof): {naive_ratio:.1f}x faster")
    print(f"  engine vs raw coqtop: {raw_ratio:.2f}x (engine's extra share: {1 - raw_ratio:.0%})")
    for other in ("raw", "naive"):
        differ = sum(a != b for a, b in zip(verdicts["engine"], verdicts[other], strict=False))
        print(f"  verdicts that differ, engine vs {other}: {differ}")


SHORT_HEADER = "Require Import Arith Lia."


def short_records(count: int) -> list[dict]:
    return [
        {
            "name": f"short_{c}",
            "header": SHORT_HEADER,
            "formal_statement": SHORT_STATEMENT.format(c=c),
            "proof": "intros; lia.",
        }
        for c in range(count)
    ]


def cli_lines(records: list[dict], workers: int, problems: Path | None = None) -> list[float]:
    """Seconds from `leanfilter verify`'s start to each output line, as they arrive."""
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "in.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in records))
        argv = [
            sys.executable,
            "-m",
            "leanfilter",
            "verify",
            str(source),
            "--workers",
            str(workers),
        ]
        argv += ["--problems", str(problems)] if problems else []
        argv += ["--db", str(Path(scratch) / "proofs.db"), "--no-progress"]
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=scratch
        )
        times = [time.perf_counter() - started for _ in iter(proc.stdout.readline, b"")]  # type: ignore[union-attr]
        proc.wait()
    return times


def largest_gap(times: list[float]) -> float:
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def latency(label: str, records: list[dict], workers: int, problems: Path | None = None) -> None:
    times = cli_lines(records, workers, problems)
    summary[f"{label}: first line (s)"] = times[0]
    summary[f"{label}: largest gap between lines (s)"] = largest_gap(times)
    summary[f"{label}: whole CLI run (s)"] = times[-1]
    print(
        f"{label}: {len(times)} lines, first {times[0]:.2f} s, largest gap "
        f"{largest_gap(times):.2f} s, last {times[-1]:.1f} s"
    )


def scaling(candidates: list[Candidate], repeat: int) -> None:
    runs: dict[int, list[float]] = {1: [], 2: []}
    for workers in [1, 2] * repeat:  # alternated; the fastest run of each counts
        started = time.perf_counter()
        engine(candidates, workers)
        runs[workers].append(time.perf_counter() - started)
    seconds = {workers: min(times) for workers, times in runs.items()}
    for workers, times in runs.items():
        print(
            f"  {workers} worker(s): {seconds[workers]:.1f} s (runs: "
            + ", ".join(f"{x:.1f}" for x in times)
            + " s)"
        )
    efficiency = seconds[1] / seconds[2] / 2
    summary["scaling 1 -> 2 workers, efficiency"] = efficiency
    print(
        f"  efficiency (throughput ratio / worker ratio): {efficiency:.0%}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )


def table() -> None:
    print("\n| measure | figure |\n|---|---|")
    for name, value in summary.items():
        print(f"| {name} | {value:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--short", type=int, default=600, help="one-tactic proofs (0: skip)")
    parser.add_argument("--only-short", action="store_true", help="run the short round alone")
    parser.add_argument("--scaling", action="store_true", help="1 and 2 workers, short flood")
    parser.add_argument("--mixed", action="store_true", help="the short flood, every other failing")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each timed way, alternated; the fastest counts",
    )
    args = parser.parse_args()
    latency("cold start, one candidate", short_records(1), 1)
    if args.short:
        compare("short", short_candidates(args.short), 1, args.repeat)
        latency("short, CLI", short_records(args.short), 1)
        if args.mixed:
            compare(
                "short, every other failing", short_candidates(args.short, True), 1, args.repeat
            )
    if args.scaling and args.short:
        print(f"scaling on {args.short} one-tactic proofs")
        scaling(short_candidates(args.short), args.repeat)
    if not args.only_short:
        candidates = load_candidates()
        compare("shipped", candidates, args.workers, args.repeat)
        light = [c for i, c in enumerate(candidates) if raw_seconds[i] < LIGHT_S]
        compare(f"cheap (raw < {LIGHT_S} s)", light, args.workers, args.repeat)
        latency("shipped, CLI", shipped_records(), args.workers, EXAMPLES / "problems.jsonl")
    table()


def shipped_records() -> list[dict]:
    return [json.loads(x) for x in (EXAMPLES / "candidates.jsonl").read_text().splitlines()]


if __name__ == "__main__":
    main()
