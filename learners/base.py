"""What every learner shares: the scored batch, the protocol, and the advantage machinery once.

A learner is its advantage (disco's "a divergence is its f'"): `AdvantageLearner.loss` is the one
policy-gradient surrogate, mean_i(-A_i · Σ_t log π_θ(y_{i,t})) / L, and a learner only says what A_i
and the length normaliser L are. Samples whose verdict is unknown (v = NaN) get no advantage and
take no part in the mean, so a NaN never reaches a loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor


@dataclass
class ScoredBatch:
    """B prompts x G samples each, scored by the oracle. Per-sample values have shape [B, G].

    `input_ids`, `attention_mask` and `completion_mask` are [B·G, T] (prompt then completion, row
    b·G + g); `completion_mask` marks the completion tokens whose log-probs count. `logp_rollout`
    and `logp_base` are Σ_t log-probs of π_θ (at sampling time) and π_base; `v` is 1, 0, or NaN
    (unknown); `log_z` [B] is the oracle's clamped log Ẑ_x. `max_length` is the constant L_max.
    """

    input_ids: Tensor
    attention_mask: Tensor
    completion_mask: Tensor
    logp_rollout: Tensor
    logp_base: Tensor
    v: Tensor
    log_z: Tensor
    max_length: int

    @property
    def group_size(self) -> int:
        return int(self.v.shape[1])

    @property
    def lengths(self) -> Tensor:
        """Completion lengths |y_i| as [B, G] floats."""
        return self.completion_mask.sum(-1).to(torch.float64).reshape(self.v.shape)

    @property
    def answered(self) -> Tensor:
        return ~torch.isnan(self.v)

    def log_target(self) -> Tensor:
        """log p_x(y) = log π_base + log v - log Ẑ_x: -inf for rejected, NaN for unknown."""
        return self.logp_base + torch.log(self.v) - self.log_z[:, None]


@runtime_checkable
class Policy(Protocol):
    """What a loss needs of a policy: Σ_t log π_θ over completion tokens, [B, G], with gradient."""

    def sequence_logp(self, batch: ScoredBatch) -> Tensor: ...


class LearnerConfig(BaseModel):
    """A learner's own settings; each learner subclasses it with its fields."""

    model_config = ConfigDict(extra="forbid")


@runtime_checkable
class Learner(Protocol):
    name: ClassVar[str]
    config: LearnerConfig
    samples_from_base: ClassVar[bool]
    """True when the learner trains on samples of π_base (RS-SFT), not of π_θ."""

    def loss(self, batch: ScoredBatch, policy: Policy) -> Tensor: ...


class AdvantageLearner:
    """The shared surrogate; subclasses give `advantages` (and, rarely, `normaliser`)."""

    name: ClassVar[str]
    Config: ClassVar[type[LearnerConfig]] = LearnerConfig
    samples_from_base: ClassVar[bool] = False

    def __init__(self, config: LearnerConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def advantages(self, batch: ScoredBatch) -> Tensor:
        """A_i per sample, [B, G], float64, no gradient; NaN where the sample must not count."""
        raise NotImplementedError

    def normaliser(self, batch: ScoredBatch) -> Tensor:
        """L per sample: the constant L_max by default (Dr.GRPO, the paper)."""
        return torch.full_like(batch.lengths, float(batch.max_length))

    def clipped_fraction(self, batch: ScoredBatch) -> float | None:
        """Share of answered samples whose pseudo-reward hit a clip; None for unclipped learners."""
        return None

    def loss(self, batch: ScoredBatch, policy: Policy) -> Tensor:
        advantages = self.advantages(batch).detach()
        counted = batch.answered & ~torch.isnan(advantages)
        logp = policy.sequence_logp(batch)
        if not bool(counted.any()):
            return (logp * 0.0).sum()
        terms = -advantages[counted] * logp[counted].to(torch.float64)
        return (terms / self.normaliser(batch)[counted]).mean()


# -- the advantage machinery, over [B, G] tensors whose NaN entries are left out ----------------


def leave_one_out(rewards: Tensor) -> Tensor:
    """A_i = R_i - mean_{j≠i} R_j over the answered samples; 0 where i has no answered peer."""
    valid = ~torch.isnan(rewards)
    filled = torch.where(valid, rewards, torch.zeros_like(rewards))
    peers = valid.sum(-1, keepdim=True) - 1
    baseline = (filled.sum(-1, keepdim=True) - filled) / peers.clamp(min=1)
    advantage = torch.where(peers > 0, filled - baseline, torch.zeros_like(filled))
    return torch.where(valid, advantage, torch.full_like(rewards, float("nan")))


def group_centred(rewards: Tensor, scale: bool) -> Tensor:
    """R_i - mean_j R_j over answered samples, divided by their std (+1e-4) when `scale` (GRPO)."""
    valid = ~torch.isnan(rewards)
    count = valid.sum(-1, keepdim=True).clamp(min=1)
    filled = torch.where(valid, rewards, torch.zeros_like(rewards))
    mean = filled.sum(-1, keepdim=True) / count
    centred = torch.where(valid, rewards - mean, torch.full_like(rewards, float("nan")))
    if not scale:
        return centred
    squares = torch.where(valid, centred**2, torch.zeros_like(rewards)).sum(-1, keepdim=True)
    std = torch.sqrt(squares / (count - 1).clamp(min=1))
    return centred / (std + 1e-4)
