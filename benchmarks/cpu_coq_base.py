"""pass@1 and pass@k of a base model on the cpu-coq eval problems, every sample checked by Coq.

The model samples n proofs per eval problem (T = 1.0, top_p 0.99, the learners' prompt template),
the engine checks them, and pass@k is the unbiased estimator (leanfilter.metrics) averaged over
problems with a 95% bootstrap interval. Also per family, and the ratio pass@k_max / pass@1 that
the cpu-coq comparison needs to be at least 1.5 (with pass@1 between 5% and 60%).

Usage: python benchmarks/cpu_coq_base.py MODEL_DIR [n] [max_new_tokens] [seed]
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import torch

from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import load_problems
from leanfilter.metrics import RunTally, run_metric
from leanfilter.oracle import Oracle
from learners.config import TrainConfig
from learners.policy import CausalLMPolicy

EVAL = Path(__file__).parents[1] / "data" / "compare" / "eval.jsonl"
PROMPTS_PER_BATCH = 4


def main(model: str, n: int = 32, max_new_tokens: int = 64, seed: int = 0) -> None:
    torch.manual_seed(seed)
    problems = list(load_problems(EVAL).values())
    families = {r["name"]: r["family"] for r in map(json.loads, EVAL.read_text().splitlines())}
    policy = CausalLMPolicy.from_pretrained(model)
    template = TrainConfig.model_fields["prompt"].default
    samples: list[list[str]] = []
    clock = time.perf_counter()
    for start in range(0, len(problems), PROMPTS_PER_BATCH):
        chunk = problems[start : start + PROMPTS_PER_BATCH]
        prompts = [template.format(header=p.header, statement=p.statement) for p in chunk]
        samples += policy.sample(prompts, n, max_new_tokens, 1.0, 0.99).texts
    sample_s = time.perf_counter() - clock
    clock = time.perf_counter()
    with Verifier(VerifierConfig(timeout=20)) as engine:
        results = Oracle(engine).score_batch(list(zip(problems, samples, strict=True)))
    verify_s = time.perf_counter() - clock

    statuses = [(r.problem.name, v.status) for r in results for v in r.verdicts]
    reasons = Counter(v.reason or v.status.value for r in results for v in r.verdicts)
    distinct = [
        len({t for t, v in zip(s, r.verdicts, strict=True) if v.accepted})
        for s, r in zip(samples, results, strict=True)
    ]
    run = RunTally.from_statuses("base", statuses)
    print(
        f"{len(problems)} problems x {n} samples: sampling {sample_s:.0f} s, Coq {verify_s:.0f} s"
    )
    print("verdicts:", ", ".join(f"{k} {c}" for k, c in reasons.most_common(8)))
    print(f"distinct accepted proofs per problem: {sum(distinct) / len(distinct):.2f}")
    by_family: dict[str, list[float]] = defaultdict(list)
    for name, value in run.pass_at_k(1).items():
        by_family[families[name]].append(value)
    for family, values in sorted(by_family.items()):
        print(f"  {family:16s} pass@1 {sum(values) / len(values):.3f} ({len(values)} problems)")
    ks = [k for k in (1, 4, 8, 16, 32, 64) if k <= n]
    estimates = {k: run_metric(run, k) for k in ks}
    print("\n| k | pass@k | 95% interval |\n|---|---|---|")
    for k, m in estimates.items():
        i = m.interval
        print(f"| {k} | {i.estimate:.3f} | [{i.low:.3f}, {i.high:.3f}] |")
    one, top = estimates[1].interval.estimate, estimates[ks[-1]].interval.estimate
    print(f"pass@{ks[-1]} / pass@1 = {top / one if one else float('inf'):.2f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], *(int(a) for a in args[1:]))
