"""What soundness costs per proof, measured in one run on the same Coq candidates and cores.

Three ways through the same Verifier, pool and warm sandboxed coqtop sessions:

- raw: the session checks `Theorem … Proof. <tactics> Qed.` and closes the module, nothing
  else: no trusted-statement definition, no integrity definition, no `Print Assumptions`
  (a subclass of the real session that skips exactly those commands);
- audit: the real session (integrity against the statement elaborated first, existence, batched
  `Print Assumptions`, full axiom paths) with the strict policy's text rules switched off;
- full: the same plus the strict policy's text rules (`screen`) and judgement;
- replay: full, and every proof found compiled again by coqc in a fresh jail and re-checked by
  coqchk (`verify --replay`), batched per header as the replay stage does.

`vm_compute` is allowed in all three so that every way checks the same candidates (the strict
default would refuse those before any prover runs, which is cheaper still). The text rules'
own cost is also timed alone, on these Coq candidates and on the 67 few-shot Lean proofs.

    python3 benchmarks/policy_cost.py [--workers 1] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from leanfilter.backends.base import CheckRequest
from leanfilter.backends.coq import CoqBackend, CoqSession
from leanfilter.cache import MemoryCache
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import candidate_from_record, load_problems
from leanfilter.policy import PolicyConfig, StrictPolicy
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Status

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "minif2f_rocq"
FEW_SHOT = REPO / "data" / "minif2f_lean" / "minif2f_valid_few_shot.jsonl"
SLOW = {"mathd_numbertheory_198", "mathd_numbertheory_517", "mathd_numbertheory_640"}
ALLOW_VM = {"coq": {"allow": ["vm"]}}


class UnauditedSession(CoqSession):
    """The real session minus the audit: `Print Assumptions` is never sent."""

    def _assumptions(self, term: str, deadline: float) -> list[str]:
        return []


class UnauditedBackend(CoqBackend):
    """No trusted statement (so no integrity definitions) and the session above."""

    def assemble(self, candidate: Candidate, tag: int) -> CheckRequest:
        return super().assemble(candidate, tag).model_copy(update={"statement": None})

    def open_session(self, header: str, slot: int) -> CoqSession:
        self.toolchain()
        return UnauditedSession(self.settings, header, slot)


def load_candidates() -> list[Candidate]:
    """The shipped miniF2F-rocq sample, grouped by header so sessions are rarely restarted."""
    problems = load_problems(EXAMPLES / "problems.jsonl")
    records = [json.loads(x) for x in (EXAMPLES / "candidates.jsonl").read_text().splitlines()]
    candidates = [candidate_from_record(r, problems) for r in records if r["name"] not in SLOW]
    return sorted(candidates, key=lambda c: c.header)


def run(
    candidates: list[Candidate],
    workers: int,
    backend: CoqBackend,
    policy: StrictPolicy,
    replay: bool = False,
) -> tuple[float, list[Status]]:
    config = VerifierConfig(pool=PoolConfig(workers=workers), replay=replay)
    started = time.perf_counter()
    with Verifier(
        config, backends={BackendName.COQ: backend}, policy=policy, cache=MemoryCache()
    ) as verifier:
        statuses = [v.status for v in verifier.verify(candidates)]
    return time.perf_counter() - started, statuses


def screen_cost(candidates: list[Candidate], repeat: int = 20) -> float:
    """Seconds per candidate for the text rules alone."""
    policy = StrictPolicy()
    started = time.perf_counter()
    for _ in range(repeat):
        for candidate in candidates:
            policy.screen(candidate)
    return (time.perf_counter() - started) / (repeat * len(candidates))


def lean_few_shot() -> list[Candidate]:
    rows = [json.loads(x) for x in FEW_SHOT.read_text().splitlines()]
    return [
        Candidate(
            name=r["name"],
            backend=BackendName.LEAN,
            statement=r["formal_statement"],
            proof=r["formal_proof"],
        )
        for r in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each way; best is kept")
    args = parser.parse_args()
    candidates = load_candidates()
    ways = {
        "raw": (
            UnauditedBackend(),
            StrictPolicy(PolicyConfig(text_rules=False, require_integrity=False)),
        ),
        "audit": (
            CoqBackend(),
            StrictPolicy(PolicyConfig.model_validate({**ALLOW_VM, "text_rules": False})),
        ),
        "full": (CoqBackend(), StrictPolicy(PolicyConfig.model_validate(ALLOW_VM))),
        "replay": (CoqBackend(), StrictPolicy(PolicyConfig.model_validate(ALLOW_VM))),
    }
    seconds: dict[str, float] = {}
    statuses: dict[str, list[Status]] = {}
    for _ in range(args.repeat):
        for name, (backend, policy) in ways.items():
            replay = name == "replay"
            took, statuses[name] = run(candidates, args.workers, backend, policy, replay)
            seconds[name] = min(took, seconds.get(name, took))
    n = len(candidates)
    proved = sum(s is Status.PROVED for s in statuses["full"])
    print(f"candidates: {n} Coq ({proved} proved), workers: {args.workers}, best of {args.repeat}")
    for name in ways:
        rate, per_proof = n / seconds[name], 1000 * seconds[name] / n
        print(f"{name:>6}: {rate:7.1f} proofs/s  {per_proof:7.1f} ms/proof")
    print(f"audit / raw time: {seconds['audit'] / seconds['raw']:.2f}x")
    print(f"full  / raw time: {seconds['full'] / seconds['raw']:.2f}x")
    print(f"full  / audit time: {seconds['full'] / seconds['audit']:.3f}x")
    print(f"replay / full time: {seconds['replay'] / seconds['full']:.2f}x")
    print(f"replay / raw time: {seconds['replay'] / seconds['raw']:.2f}x")
    added = 1000 * (seconds["full"] - seconds["raw"]) / n
    print(f"policy + audit, added per proof: {added:.1f} ms")
    agree = statuses["raw"] == statuses["audit"] == statuses["full"] == statuses["replay"]
    print(f"verdicts agree across the four ways: {agree}")
    coq_screen = screen_cost(candidates)
    lean = lean_few_shot()
    lean_screen = screen_cost(lean)
    print(f"text rules alone: Coq {1e6 * coq_screen:.0f} us/proof, ", end="")
    print(f"Lean {1e6 * lean_screen:.0f} us/proof ({len(lean)} few-shot proofs with comments)")


if __name__ == "__main__":
    main()
