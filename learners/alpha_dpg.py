"""alpha-DPG: fit π_θ to the verified target by minimising the Amari divergence D_alpha(π_θ‖p_x).

docs/learners.md, "The mathematics", alpha-DPG: with r = log p_x(y) - log π_θ(y|x),

    R = min(exp((1-alpha)·r) - 1, M),  M = 10    (alpha < 1; alpha = 0 gives R = p/π_θ - 1)
    R = min(1 + r, M)                            (alpha = 1, reverse KL)
    A_i = R_i - mean_{j≠i} R_j,   loss = mean_i(-A_i · Σ_t log π_θ(y_{i,t})) / L_max,

with log p_x = log π_base + log v - log Ẑ_x and Ẑ_x clamped to [1e-4, 1] by the oracle. A rejected
sample has p = 0, so for alpha < 1 its R is exactly -1; for alpha = 1 the formula gives -∞ and
we use -M, the clip's own bound. Without the clip,
E[A_i ∇log π_θ(y_i)] = -(1-alpha)·∇_θ D_alpha(π_θ‖p_x).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from learners.base import AdvantageLearner, LearnerConfig, ScoredBatch, leave_one_out


class AlphaDPGConfig(LearnerConfig):
    alpha: float = Field(default=0.5, ge=0.0, le=1.0, description="0: forward KL, 1: reverse KL")
    clip: float = Field(default=10.0, gt=0.0, description="M, the cap on the pseudo-reward")


class AlphaDPG(AdvantageLearner):
    name = "alpha_dpg"
    Config = AlphaDPGConfig
    config: AlphaDPGConfig

    def pseudo_rewards(self, batch: ScoredBatch) -> Tensor:
        alpha, clip = self.config.alpha, self.config.clip
        log_ratio = batch.log_target() - batch.logp_rollout
        if alpha == 1.0:
            rewards = torch.clamp(1.0 + log_ratio, max=clip)
            return torch.where(batch.v == 0.0, torch.full_like(rewards, -clip), rewards)
        return torch.clamp(torch.expm1((1.0 - alpha) * log_ratio), max=clip)

    def advantages(self, batch: ScoredBatch) -> Tensor:
        return leave_one_out(self.pseudo_rewards(batch))

    def clipped_fraction(self, batch: ScoredBatch) -> float | None:
        rewards = self.pseudo_rewards(batch)[batch.answered]
        return float((rewards >= self.config.clip).double().mean()) if rewards.numel() else None
