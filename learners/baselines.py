"""The RL baselines of docs/learners.md, each only its advantage over the shared surrogate.

Rewards are v ∈ {0, 1} (NaN: unknown, left out). All use the constant normaliser L_max except GRPO,
which keeps its per-sequence 1/|y_i|.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from learners.base import (
    AdvantageLearner,
    LearnerConfig,
    ScoredBatch,
    group_centred,
    leave_one_out,
)


class GRPO(AdvantageLearner):
    """GRPO: A_i = (v_i - mean v) / std v over the group; loss per sample divided by |y_i|."""

    name = "grpo"

    def advantages(self, batch: ScoredBatch) -> Tensor:
        return group_centred(batch.v, scale=True)

    def normaliser(self, batch: ScoredBatch) -> Tensor:
        return batch.lengths.clamp(min=1.0)


class DrGRPO(AdvantageLearner):
    """Dr.GRPO: A_i = v_i - mean v (no std scaling), constant length normalisation L_max."""

    name = "dr_grpo"

    def advantages(self, batch: ScoredBatch) -> Tensor:
        return group_centred(batch.v, scale=False)


class RLOO(AdvantageLearner):
    """RLOO: A_i = v_i - mean_{j≠i} v_j."""

    name = "rloo"

    def advantages(self, batch: ScoredBatch) -> Tensor:
        return leave_one_out(batch.v)


class Reinforce(AdvantageLearner):
    """REINFORCE without a baseline: A_i = v_i."""

    name = "reinforce"

    def advantages(self, batch: ScoredBatch) -> Tensor:
        return batch.v.clone()


class KLRLConfig(LearnerConfig):
    beta: float = Field(default=0.1, gt=0.0, description="weight of KL(π_θ‖π_base)")


class KLRegularisedRL(AdvantageLearner):
    """Reverse KL to π_base·e^{v/β}: r_i = v_i - β(log π_θ(y_i) - log π_base(y_i)), leave-one-out.

    E[r ∇log π_θ] = -∇_θ (β·KL(π_θ‖π_base) - E_π_θ[v]), the KL-regularised RL objective.
    """

    name = "kl_rl"
    Config = KLRLConfig
    config: KLRLConfig

    def advantages(self, batch: ScoredBatch) -> Tensor:
        rewards = batch.v - self.config.beta * (batch.logp_rollout - batch.logp_base)
        return leave_one_out(rewards)


class PassAtK(AdvantageLearner):
    """The pass@k advantage: the group's best sample gets r_max - r_2nd, every other one 0."""

    name = "pass_at_k"

    def advantages(self, batch: ScoredBatch) -> Tensor:
        rewards = torch.nan_to_num(batch.v, nan=float("-inf"))
        top = torch.topk(rewards, k=2, dim=-1)
        gap = (top.values[:, 0] - top.values[:, 1]).nan_to_num(nan=0.0, posinf=0.0)
        advantage = torch.zeros_like(batch.v)
        advantage.scatter_(-1, top.indices[:, :1], gap[:, None])
        return torch.where(batch.answered, advantage, torch.full_like(advantage, float("nan")))


class UnlikelinessConfig(LearnerConfig):
    beta_rank: float = Field(default=0.25, ge=0.0, le=1.0, description="strength of the rank term")


class Unlikeliness(GRPO):
    """He et al. 2025: r_i = v_i·(1 - β_rank·(G - rank_i)/G), then GRPO's advantage and length.

    rank_i orders the group by π_θ likelihood, the most likely sample 0, so a correct proof the
    policy finds unlikely is rewarded more than one it would produce anyway.
    """

    name = "unlikeliness"
    Config = UnlikelinessConfig
    config: UnlikelinessConfig

    def advantages(self, batch: ScoredBatch) -> Tensor:
        size = batch.group_size
        order = torch.argsort(batch.logp_rollout, dim=-1, descending=True)
        rank = torch.argsort(order, dim=-1).to(batch.v.dtype)
        rewards = batch.v * (1.0 - self.config.beta_rank * (size - rank) / size)
        return group_centred(rewards, scale=True)


class RejectionSamplingSFT(AdvantageLearner):
    """RS-SFT: maximum likelihood on verified samples of π_base, the forward-KL (alpha → 0) limit.

    With A_i = v_i on samples of π_base the surrogate is -mean_i v_i·log π_θ(y_i)/L_max, whose
    expectation is -Z_x·E_p[log π_θ]/L_max: the forward KL KL(p_x‖π_θ) up to constants.
    """

    name = "rs_sft"
    samples_from_base = True

    def advantages(self, batch: ScoredBatch) -> Tensor:
        return batch.v.clone()
