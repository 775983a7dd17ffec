"""Evaluation of a run: unbiased pass@k, precision and coverage with bootstrap intervals, paired
comparison of two runs, difficulty buckets, and a summary of the diversity of its proofs.

A run is reduced to, per problem, how many samples got an answer and how many of those were proved.
Samples whose verdict is `error` carry no answer; they are counted apart and left out of n, so a
flaky engine shrinks the sample but never moves pass@k up or down by itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict

from leanfilter.diversity import DiversityStats
from leanfilter.records import Status

FloatArray = NDArray[np.float64]

BOOTSTRAP_RESAMPLES = 2000
_RESAMPLE_CHUNK = 256


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from c correct among n samples: 1 - C(n-c, k)/C(n, k).

    The ratio is the product Π_{i=n-c+1}^{n} (1 - k/i), summed in log1p form so that n in the
    millions neither overflows nor loses the small tail.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if c == 0:
        return 0.0
    if n - c < k:
        return 1.0
    i = np.arange(n - c + 1, n + 1, dtype=np.float64)
    return float(-np.expm1(np.sum(np.log1p(-k / i))))


class ProblemTally(BaseModel):
    model_config = ConfigDict(frozen=True)

    answered: int
    proved: int
    errors: int = 0


class RunTally(BaseModel):
    """Per-problem counts of one run, the only thing the metrics need from it."""

    label: str
    problems: dict[str, ProblemTally]

    @classmethod
    def from_statuses(cls, label: str, statuses: Iterable[tuple[str, Status]]) -> RunTally:
        answered: Counter[str] = Counter()
        proved: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        for name, status in statuses:
            if status is Status.ERROR:
                errors[name] += 1
            else:
                answered[name] += 1
                proved[name] += status is Status.PROVED
        names = sorted(answered.keys() | errors.keys())
        problems = {
            name: ProblemTally(answered=answered[name], proved=proved[name], errors=errors[name])
            for name in names
        }
        return cls(label=label, problems=problems)

    @property
    def samples(self) -> int:
        return sum(t.answered for t in self.problems.values())

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.problems.values())

    def pass_at_k(self, k: int) -> dict[str, float]:
        """pass@k of each problem with at least k answered samples; the others have no estimate."""
        return {
            name: pass_at_k(t.answered, t.proved, k)
            for name, t in self.problems.items()
            if t.answered >= k
        }

    def solved(self) -> set[str]:
        return {name for name, t in self.problems.items() if t.proved > 0}

    def restricted(self, names: set[str]) -> RunTally:
        """The same run on the problems in `names` only, so that runs over different problem
        sets are measured on the same problems."""
        kept = {name: t for name, t in self.problems.items() if name in names}
        return RunTally(label=self.label, problems=kept)


class Interval(BaseModel):
    estimate: float
    low: float
    high: float
    confidence: float


def _bootstrap_means(values: FloatArray, n_resamples: int, seed: int) -> FloatArray:
    """Means of `values` resampled with replacement, in chunks so memory stays O(chunk · n)."""
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, _RESAMPLE_CHUNK):
        stop = min(start + _RESAMPLE_CHUNK, n_resamples)
        idx = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[idx].mean(axis=1)
    return means


def bootstrap_mean_ci(
    values: ArrayLike,
    *,
    confidence: float = 0.95,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval for the mean of per-problem values, resampling problems."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("a bootstrap interval needs at least one problem")
    means = _bootstrap_means(x, n_resamples, seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(
        estimate=float(x.mean()), low=float(low), high=float(high), confidence=confidence
    )


def paired_bootstrap_pvalue(
    a: ArrayLike, b: ArrayLike, *, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> float:
    """Two-sided p-value for mean(a) = mean(b), with a[i] and b[i] measured on the same problem.

    Resamples problems, keeping each pair together, and asks how often the resampled difference
    strays from the observed one by at least the observed one's distance from zero.
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if diff.size == 0:
        raise ValueError("a paired comparison needs at least one common problem")
    observed = diff.mean()
    means = _bootstrap_means(diff, n_resamples, seed)
    extreme = np.count_nonzero(np.abs(means - observed) >= abs(observed) - 1e-12)
    return float((1 + extreme) / (1 + n_resamples))


class MetricEstimate(BaseModel):
    """Mean pass@k over the problems that have at least k answered samples."""

    k: int
    interval: Interval
    problems: int


def run_metric(
    run: RunTally, k: int, *, confidence: float = 0.95, seed: int = 0
) -> MetricEstimate | None:
    """Precision for k = 1, coverage for larger k; None when no problem has k answered samples."""
    per_problem = run.pass_at_k(k)
    if not per_problem:
        return None
    values = np.fromiter(per_problem.values(), dtype=np.float64)
    interval = bootstrap_mean_ci(values, confidence=confidence, seed=seed)
    return MetricEstimate(k=k, interval=interval, problems=len(per_problem))


class Comparison(BaseModel):
    k: int
    difference: float
    p_value: float
    problems: int


def compare_runs(a: RunTally, b: RunTally, k: int, *, seed: int = 0) -> Comparison | None:
    """Paired comparison of pass@k on the problems both runs estimate; None if they share none."""
    pa, pb = a.pass_at_k(k), b.pass_at_k(k)
    common = sorted(pa.keys() & pb.keys())
    if not common:
        return None
    va = np.array([pa[name] for name in common])
    vb = np.array([pb[name] for name in common])
    return Comparison(
        k=k,
        difference=float(va.mean() - vb.mean()),
        p_value=paired_bootstrap_pvalue(va, vb, seed=seed),
        problems=len(common),
    )


class Bucket(str, Enum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"
    UNSOLVED = "unsolved"


BUCKET_FLOORS: tuple[tuple[Bucket, float], ...] = ((Bucket.EASY, 0.9), (Bucket.MEDIUM, 0.3))


def bucket_thresholds() -> str:
    """The bucket rule in words, as a report prints it: `easy ≥ 0.9, medium ≥ 0.3, …`."""
    floors = ", ".join(f"{bucket.value} ≥ {floor}" for bucket, floor in BUCKET_FLOORS)
    return f"{floors}, {Bucket.HARD.value} > 0, {Bucket.UNSOLVED.value} = 0"


def bucket_of(pass_at_1: float) -> Bucket:
    """easy ≥ 90% pass@1, medium ≥ 30%, hard > 0, unsolved otherwise."""
    for bucket, floor in BUCKET_FLOORS:
        if pass_at_1 >= floor:
            return bucket
    return Bucket.HARD if pass_at_1 > 0 else Bucket.UNSOLVED


def difficulty_buckets(reference: RunTally) -> dict[str, Bucket]:
    return {name: bucket_of(p) for name, p in reference.pass_at_k(1).items()}


class BucketRow(BaseModel):
    problems: int
    solved: int
    precision: float | None


def bucket_table(run: RunTally, buckets: dict[str, Bucket]) -> dict[Bucket, BucketRow]:
    """How `run` does on each difficulty bucket of a reference run (problems both answered)."""
    precision = run.pass_at_k(1)
    solved = run.solved()
    rows = {}
    for bucket in Bucket:
        names = [n for n, b in buckets.items() if b is bucket and n in precision]
        rows[bucket] = BucketRow(
            problems=len(names),
            solved=sum(n in solved for n in names),
            precision=float(np.mean([precision[n] for n in names])) if names else None,
        )
    return rows


class Transition(BaseModel):
    """Problems moving between difficulty buckets from one run to another.

    `counts[before][after]` is the number of problems in `before`'s bucket in the first run and
    `after`'s in the second; `gained` were unsolved and now are solved, `lost` the reverse.
    """

    counts: dict[Bucket, dict[Bucket, int]]
    gained: list[str]
    lost: list[str]


def transition_matrix(before: RunTally, after: RunTally) -> Transition:
    first, second = difficulty_buckets(before), difficulty_buckets(after)
    common = sorted(first.keys() & second.keys())
    counts = {b: dict.fromkeys(Bucket, 0) for b in Bucket}
    for name in common:
        counts[first[name]][second[name]] += 1
    solved_before, solved_after = before.solved(), after.solved()
    return Transition(
        counts=counts,
        gained=[n for n in common if n in solved_after and n not in solved_before],
        lost=[n for n in common if n in solved_before and n not in solved_after],
    )


class DiversitySummary(BaseModel):
    """A run's diversity of accepted proofs: totals, and indices averaged over solved problems."""

    problems: int
    distinct_proofs: int
    tactic_shannon: float
    tactic_simpson: float
    premise_shannon: float
    premise_simpson: float
    single_tactic: int
    """Problems whose proofs use fewer than two distinct tactics: both indices 0 by construction."""
    single_premise: int
    """Problems whose proofs name fewer than two distinct premises (none, for Coq proofs that close
    goals with decision procedures such as `lia`): both indices 0 by construction."""


def summarize_diversity(table: Mapping[str, DiversityStats]) -> DiversitySummary | None:
    """None when no problem has an accepted proof (there is no diversity to speak of)."""
    rows = list(table.values())
    if not rows:
        return None

    def mean(field: str) -> float:
        return float(np.mean([getattr(row, field) for row in rows]))

    return DiversitySummary(
        problems=len(rows),
        distinct_proofs=sum(row.distinct_proofs for row in rows),
        tactic_shannon=mean("tactic_shannon"),
        tactic_simpson=mean("tactic_simpson"),
        premise_shannon=mean("premise_shannon"),
        premise_simpson=mean("premise_simpson"),
        single_tactic=sum(row.tactics < 2 for row in rows),
        single_premise=sum(row.premises < 2 for row in rows),
    )
