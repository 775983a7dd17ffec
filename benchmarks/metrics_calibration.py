"""Are the evaluation statistics calibrated, and what does `leanfilter stats` cost at paper scale?

1. Bootstrap intervals over problems: how often the nominal 90% and 95% intervals of mean pass@1
   and mean pass@8 cover the population value. Problems' pass rates are Beta(0.6, 1.2) and each
   problem gets 32 samples, so the population values are known in closed form:
   E[pass@1] = a/(a+b), E[pass@k] = 1 - B(a, b+k)/B(a, b).
2. The paired bootstrap test: how often it rejects at 0.05 when both runs share one distribution
   (should be about 0.05), and how often when one run's pass rates are 0.05 higher.
3. `leanfilter stats` on six synthetic runs of 244 problems x 256 samples (miniF2F-test at the
   paper's sample count), against only parsing the same files as JSON.

Run: python3 benchmarks/metrics_calibration.py [TRIALS]
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from leanfilter.cli import main
from leanfilter.metrics import bootstrap_mean_ci, paired_bootstrap_pvalue, pass_at_k

A, B, SAMPLES, K = 0.6, 1.2, 32, 8


def population_pass_at(k: int) -> float:
    log_ratio = math.lgamma(B + k) + math.lgamma(A + B) - math.lgamma(B) - math.lgamma(A + B + k)
    return 1.0 - math.exp(log_ratio)


def coverage(
    trials: int, problems: int, confidence: float, rng: np.random.Generator
) -> tuple[float, float]:
    truth = {1: population_pass_at(1), K: population_pass_at(K)}
    covered = dict.fromkeys(truth, 0)
    for trial in range(trials):
        counts = rng.binomial(SAMPLES, rng.beta(A, B, size=problems))
        for k in truth:
            values = [pass_at_k(SAMPLES, int(c), k) for c in counts]
            interval = bootstrap_mean_ci(values, confidence=confidence, seed=trial)
            covered[k] += interval.low <= truth[k] <= interval.high
    return covered[1] / trials, covered[K] / trials


def rejection_rate(trials: int, shift: float, rng: np.random.Generator) -> float:
    rejected = 0
    for trial in range(trials):
        rates = rng.beta(A, B, size=100)
        a = rng.binomial(SAMPLES, rates) / SAMPLES
        b = rng.binomial(SAMPLES, np.clip(rates + shift, 0, 1)) / SAMPLES
        rejected += paired_bootstrap_pvalue(a, b, seed=trial) < 0.05
    return rejected / trials


def write_runs(folder: Path, rng: np.random.Generator) -> list[Path]:
    rates = rng.beta(0.4, 1.0, size=244)
    paths = []
    for run in range(6):
        path = folder / f"run{run}.jsonl"
        with path.open("w") as out:
            line = 0
            for problem, rate in enumerate(rates):
                for proved in rng.uniform(size=256) < min(1.0, rate * (1 + 0.2 * run)):
                    line += 1
                    record = {
                        "line": line,
                        "name": f"p{problem}",
                        "status": "proved" if proved else "failed",
                        "messages": [],
                        "time_s": 0.1,
                        "cached": False,
                    }
                    out.write(json.dumps(record) + "\n")
        paths.append(path)
    return paths


def stats_cost(rng: np.random.Generator) -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = write_runs(Path(folder), rng)
        lines = sum(1 for path in paths for _ in path.open())
        started = time.perf_counter()
        for path in paths:
            for text in path.open():
                json.loads(text)
        parse = time.perf_counter() - started
        plot = Path(folder) / "pareto.png"
        started = time.perf_counter()
        result = CliRunner().invoke(main, ["stats", *map(str, paths), "--plot", str(plot)])
        whole = time.perf_counter() - started
        assert result.exit_code == 0, result.output
    print(f"stats on {len(paths)} runs, {lines} verdict lines: {whole:.2f} s")
    print(f"  {whole / lines * 1e5:.2f} s per 100k lines; {whole / parse:.1f}x JSON parsing alone")


def main_() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rng = np.random.default_rng(2024)
    print(f"bootstrap interval coverage, {trials} trials each (pass@1, pass@{K}):")
    for confidence in (0.90, 0.95):
        for problems in (50, 100, 244):
            c1, ck = coverage(trials, problems, confidence, rng)
            print(f"  nominal {confidence:.2f}, {problems:>3} problems: {c1:.3f}  {ck:.3f}")
    print(f"paired test at 0.05, 100 problems, {trials} trials:")
    print(f"  rejection rate under the null:  {rejection_rate(trials, 0.0, rng):.3f}")
    print(f"  rejection rate, shift +0.05:    {rejection_rate(trials, 0.05, rng):.3f}")
    stats_cost(rng)


if __name__ == "__main__":
    main_()
