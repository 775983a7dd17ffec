"""The target distribution p_x(y) = π_base(y|x)·v(x,y) / Z_x as an object learners can ask.

Learners never call a prover: they hand the oracle a problem and the proof texts they sampled, get
v ∈ {0, 1} back, and use the functions below for Ẑ_x, log p_x and importance diagnostics. Every
probability is carried as a log (sequence log-probs, summed over tokens), because π_base/π_θ ratios
of whole proofs overflow anything else.

An `error` verdict means the engine could not answer, so the sample's v is unknown: it is NaN in the
arrays here, never 0 or 1. Each estimator states how it treats NaN (it leaves those samples out),
and a NaN that reaches arithmetic it was not meant for stays NaN instead of passing as a rejection.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel

from leanfilter.records import Candidate, Problem, SamplerInfo, Status, Verdict

if TYPE_CHECKING:
    from leanfilter.engine import Verifier

Z_FLOOR = 1e-4
"""A smaller Ẑ is raised to this, so log p = log π_base - log Ẑ stays bounded (paper's value)."""

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class ScoreResult(BaseModel):
    """The verdicts for one problem's samples, in sample order, and v read off them."""

    problem: Problem
    verdicts: list[Verdict]

    @property
    def v(self) -> FloatArray:
        """1.0 for `proved`, 0.0 for any other answer, NaN where the engine gave no answer."""
        return np.array([_verdict_value(verdict) for verdict in self.verdicts], dtype=np.float64)

    @property
    def valid(self) -> BoolArray:
        """The samples whose v is known; estimators use only these."""
        return np.array([v.status is not Status.ERROR for v in self.verdicts], dtype=np.bool_)

    @property
    def errors(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status is Status.ERROR]


def _verdict_value(verdict: Verdict) -> float:
    if verdict.status is Status.ERROR:
        return float("nan")
    return 1.0 if verdict.accepted else 0.0


class Oracle:
    """The verifier seen as the indicator v(x, y): proof texts in, verdicts and v out.

    A sample is the proof that follows the problem's trusted statement: the oracle builds the
    candidate from the problem, so what is checked is always the problem's own statement. Verdicts
    go through the engine, so they are cached and recorded like any other.
    """

    def __init__(self, verifier: Verifier) -> None:
        self._verifier = verifier

    def score(self, problem: Problem, samples: Sequence[str]) -> ScoreResult:
        return self.score_batch([(problem, samples)])[0]

    def score_batch(
        self,
        groups: Sequence[tuple[Problem, Sequence[str]]],
        samplers: Sequence[Sequence[SamplerInfo]] | None = None,
    ) -> list[ScoreResult]:
        """Score several problems' groups in one engine call, so the pool works on all at once.

        `samplers`, one per sample, is where each came from (model, step, log-probs); it is
        recorded with the verdict and never read for checking.
        """
        infos = samplers or [[None] * len(samples) for _, samples in groups]
        candidates = [
            _candidate(problem, sample, info)
            for (problem, samples), group_infos in zip(groups, infos, strict=True)
            for sample, info in zip(samples, group_infos, strict=True)
        ]
        verdicts = iter(self._verifier.verify_all(candidates))
        return [
            ScoreResult(problem=problem, verdicts=[next(verdicts) for _ in samples])
            for problem, samples in groups
        ]


def _candidate(problem: Problem, sample: str, sampler: SamplerInfo | None = None) -> Candidate:
    return Candidate(
        name=problem.name,
        backend=problem.backend,
        header=problem.header,
        statement=problem.statement,
        proof=sample,
        sampler=sampler,
    )


def logsumexp(log_values: ArrayLike) -> float:
    """log Σ exp(x), exact for empty input and all -inf (both give -inf); NaN propagates."""
    x = np.asarray(log_values, dtype=np.float64)
    if x.size == 0:
        return float("-inf")
    top = np.max(x)
    if not np.isfinite(top):
        return float(top)
    return float(top + np.log(np.sum(np.exp(x - top))))


def log_v(v: ArrayLike) -> FloatArray:
    """log v: 0 for accepted, -inf for rejected, NaN for unknown."""
    values = np.asarray(v, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(values)


def log_importance_weights(
    logp_base: ArrayLike, logp_policy: ArrayLike, v: ArrayLike
) -> FloatArray:
    """log(π_base·v/π_θ) per sample: -inf for rejected samples, NaN for unknown ones.

    Its mean over samples from π_θ is an unbiased estimate of Z_x, and p_x(y)/π_θ(y) = weight/Z_x.
    """
    return np.asarray(logp_base, dtype=np.float64) - np.asarray(logp_policy) + log_v(v)


def log_z_importance(logp_base: ArrayLike, logp_policy: ArrayLike, v: ArrayLike) -> float:
    """log Ẑ_x = log mean(π_base·v/π_θ) over the answered samples drawn from π_θ.

    Unclamped, so unbiased in Ẑ (not in log Ẑ); pass it through `clamp_log_z` before dividing by it.
    -inf when no answered sample was accepted; NaN when no sample was answered at all.
    """
    log_w = log_importance_weights(logp_base, logp_policy, v)
    return _log_mean(log_w[~np.isnan(log_w)])


def log_z_acceptance(v: ArrayLike) -> float:
    """log Ẑ_x = log of the acceptance rate: the estimate when the samples come from π_base."""
    log_values = log_v(v)
    return _log_mean(log_values[~np.isnan(log_values)])


def _log_mean(log_values: FloatArray) -> float:
    if log_values.size == 0:
        return float("nan")
    return logsumexp(log_values) - float(np.log(log_values.size))


def clamp_log_z(log_z: float, floor: float = Z_FLOOR) -> float:
    """Clip log Ẑ to [log floor, 0]: Z is a probability, and a tiny Ẑ would blow up log p."""
    if np.isnan(log_z):
        return log_z
    return float(np.clip(log_z, np.log(floor), 0.0))


def target_logp(logp_base: ArrayLike, v: ArrayLike, log_z: ArrayLike) -> FloatArray:
    """log p_x(y) = log π_base(y) + log v - log Ẑ_x: -inf for rejected samples, NaN for unknown."""
    return np.asarray(logp_base, dtype=np.float64) + log_v(v) - np.asarray(log_z)


class ImportanceDiagnostics(BaseModel):
    """How well samples from π_θ represent the target; read these before trusting a Ẑ.

    `ess` is Kish's effective sample size of the target weights π_base·v/π_θ; `ess_base` that of
    π_base/π_θ, i.e. how well π_θ still covers the base model. `accepted_weight` is the share of
    π_base/π_θ weight carried by accepted samples (the self-normalised estimate of Z_x).
    """

    answered: int
    accepted: int
    ess: float
    ess_base: float
    accepted_weight: float


def kish_ess(log_weights: ArrayLike) -> float:
    """(Σw)² / Σw², computed from log weights; 0 when every weight is zero."""
    log_w = np.asarray(log_weights, dtype=np.float64)
    total = logsumexp(log_w)
    if total == float("-inf"):
        return 0.0
    return float(np.exp(2.0 * total - logsumexp(2.0 * log_w)))


def importance_diagnostics(
    logp_base: ArrayLike, logp_policy: ArrayLike, v: ArrayLike
) -> ImportanceDiagnostics:
    values = np.asarray(v, dtype=np.float64)
    answered = ~np.isnan(values)
    log_ratio = (np.asarray(logp_base, dtype=np.float64) - np.asarray(logp_policy))[answered]
    log_target = log_ratio + log_v(values[answered])
    accepted_weight = (
        float(np.exp(logsumexp(log_target) - logsumexp(log_ratio))) if log_ratio.size else 0.0
    )
    return ImportanceDiagnostics(
        answered=int(answered.sum()),
        accepted=int((values[answered] == 1.0).sum()),
        ess=kish_ess(log_target),
        ess_base=kish_ess(log_ratio),
        accepted_weight=accepted_weight,
    )


class ZMode(str, Enum):
    RESET = "reset"
    """Each visit's Ẑ uses only that visit's samples (the paper)."""
    RUNNING = "running"
    """Ẑ pools every sample seen for the problem so far, each one term of the mean."""


class ZTracker:
    """Per-problem Ẑ across training steps.

    In `running` mode the importance terms of every visit are pooled: each is unbiased for Z_x
    whatever π_θ was at the time, so the pooled mean is too, with less variance than one visit's.
    A visit with no answered sample leaves the estimate as it was.
    """

    def __init__(self, mode: ZMode = ZMode.RESET, floor: float = Z_FLOOR) -> None:
        self.mode = mode
        self.floor = floor
        self._log_sum: dict[Hashable, float] = {}
        self._count: dict[Hashable, int] = {}

    def update(
        self, key: Hashable, logp_base: ArrayLike, logp_policy: ArrayLike, v: ArrayLike
    ) -> float:
        """Add one visit's samples and return the clamped log Ẑ to use for them."""
        log_w = log_importance_weights(logp_base, logp_policy, v)
        log_w = log_w[~np.isnan(log_w)]
        if log_w.size:
            if self.mode is ZMode.RESET or key not in self._count:
                self._log_sum[key], self._count[key] = logsumexp(log_w), log_w.size
            else:
                self._log_sum[key] = float(np.logaddexp(self._log_sum[key], logsumexp(log_w)))
                self._count[key] += log_w.size
        return self.log_z(key)

    def log_z(self, key: Hashable) -> float:
        """The clamped log Ẑ for `key`; NaN when nothing answered has been seen for it."""
        return clamp_log_z(self.raw_log_z(key), self.floor)

    def raw_log_z(self, key: Hashable) -> float:
        """The unclamped estimate: unbiased in Ẑ, and the one to log when watching Ẑ drift."""
        if key not in self._count:
            return float("nan")
        return self._log_sum[key] - float(np.log(self._count[key]))

    def samples_seen(self, key: Hashable) -> int:
        return self._count.get(key, 0)
