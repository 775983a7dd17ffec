"""What `verify --replay` costs on an RL-like workload: many samples of each problem, measured in
one run on the same candidates and cores.

The workload: each proved miniF2F-rocq example candidate, sampled `--samples` times (the copies
start with a different `idtac`, so none is a cache hit or shares a check), in problem order as a
sampler produces them. Four ways through the same Verifier:

- check: the full policy and audit, no replay;
- replay, one by one: each proof replayed alone (`replay_batch=1`): one coqc and one coqchk per
  proof, the naive way;
- replay, batched: the replay stage's default, proofs with the same header waiting together
  replayed in one coqc and one coqchk run.

    python3 benchmarks/replay_cost.py [--workers 2] [--samples 8]
"""

from __future__ import annotations

import argparse
import time

from policy_cost import ALLOW_VM, load_candidates

from leanfilter.backends.coq import CoqBackend
from leanfilter.cache import MemoryCache
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.policy import PolicyConfig, StrictPolicy
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Status


def workload(samples: int) -> list[Candidate]:
    """The candidates the strict policy proves, each sampled `samples` times."""
    candidates = load_candidates()
    proved_flags, _ = _checked(candidates, 2, None)
    proved = [c for c, ok in zip(candidates, proved_flags, strict=True) if ok]
    return [
        c.model_copy(update={"proof": f'idtac "sample {i}". {c.proof}'})
        for c in proved
        for i in range(samples)
    ]


def _checked(
    candidates: list[Candidate], workers: int, replay_batch: int | None
) -> tuple[list[bool], float]:
    config = VerifierConfig(
        pool=PoolConfig(workers=workers),
        replay=replay_batch is not None,
        replay_batch=replay_batch or 1,
    )
    policy = StrictPolicy(PolicyConfig.model_validate(ALLOW_VM))
    backends = {BackendName.COQ: CoqBackend()}
    started = time.perf_counter()
    with Verifier(config, backends=backends, policy=policy, cache=MemoryCache()) as verifier:
        proved = [v.status is Status.PROVED for v in verifier.verify(candidates)]
    return proved, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    candidates = workload(args.samples)
    ways = {"check": None, "replay, one by one": 1, "replay, batched": 16}
    seconds: dict[str, float] = {}
    proved: dict[str, list[bool]] = {}
    for name, batch in ways.items():
        proved[name], seconds[name] = _checked(candidates, args.workers, batch)
    n = len(candidates)
    print(f"candidates: {n} proved Coq proofs, {args.samples} samples each", end="; ")
    print(f"workers: {args.workers}")
    for name in ways:
        rate, per_proof = n / seconds[name], 1000 * seconds[name] / n
        print(f"{name:>20}: {rate:6.1f} proofs/s  {per_proof:7.1f} ms/proof")
    one, batched, check = (seconds[k] for k in ("replay, one by one", "replay, batched", "check"))
    print(f"batched replay vs one by one: {one / batched:.2f}x faster")
    print(f"replay one by one / check time: {one / check:.2f}x")
    print(f"replay batched / check time: {batched / check:.2f}x")
    print(f"all proved in every way: {all(all(p) for p in proved.values())}")


if __name__ == "__main__":
    main()
