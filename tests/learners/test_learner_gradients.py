"""Expected loss gradients, by enumeration of every group, against the analytic gradients."""

from __future__ import annotations

import math

import pytest
import torch

from learners.alpha_dpg import AlphaDPG, AlphaDPGConfig
from learners.baselines import GRPO, RLOO, DrGRPO, KLRegularisedRL, KLRLConfig, Reinforce
from tests.learners.toy import SoftmaxPolicy, expected_gradient

LOGITS = [0.3, -0.2, 0.9, -1.1]
BASE = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
V_MIXED = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
V_ALL = torch.ones(4, dtype=torch.float64)


def target(v: torch.Tensor) -> tuple[torch.Tensor, float]:
    z = float((BASE * v).sum())
    return BASE * v / z, math.log(z)


def analytic_gradient(objective) -> torch.Tensor:
    policy = SoftmaxPolicy(LOGITS)
    objective(policy.log_probs().exp()).backward()
    return policy.logits.grad


def dpg_gradient(alpha: float, v: torch.Tensor, group_size: int = 2) -> torch.Tensor:
    _, log_z = target(v)
    learner = AlphaDPG(AlphaDPGConfig(alpha=alpha))
    return expected_gradient(learner, SoftmaxPolicy(LOGITS), BASE.log(), v, log_z, group_size)


@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75, 0.9])
def test_alpha_dpg_expected_gradient_is_the_amari_divergence_gradient(alpha):
    p, _ = target(V_MIXED)

    def amari(pi):  # D_alpha(π‖p) = (1 - Σ π^alpha p^{1-alpha}) / (alpha(1-alpha))
        return (1 - (pi**alpha * p ** (1 - alpha)).sum()) / (alpha * (1 - alpha))

    expected = (1 - alpha) * analytic_gradient(amari)
    got = dpg_gradient(alpha, V_MIXED)
    assert torch.allclose(got, expected, atol=1e-12)
    assert torch.dot(got, expected) > 0


def test_alpha_zero_is_the_forward_kl_gradient():
    p, _ = target(V_MIXED)
    expected = analytic_gradient(lambda pi: (p[p > 0] * (p[p > 0] / pi[p > 0]).log()).sum())
    assert torch.allclose(dpg_gradient(0.0, V_MIXED), expected, atol=1e-12)


def test_alpha_one_is_the_reverse_kl_gradient():
    p, _ = target(V_ALL)
    expected = analytic_gradient(lambda pi: (pi * (pi / p).log()).sum())
    assert torch.allclose(dpg_gradient(1.0, V_ALL), expected, atol=1e-12)


def test_the_leave_one_out_baseline_leaves_the_expectation_unchanged():
    # with a group of 3 the baseline is the mean of two others, yet the expectation is the same
    assert torch.allclose(dpg_gradient(0.5, V_MIXED, 3), dpg_gradient(0.5, V_MIXED, 2), atol=1e-12)


def reward_gradient() -> torch.Tensor:
    """∇_θ E_π[v], the textbook policy gradient."""
    return analytic_gradient(lambda pi: (pi * V_MIXED).sum())


def rl_gradient(learner, group_size: int = 2) -> torch.Tensor:
    _, log_z = target(V_MIXED)
    return expected_gradient(learner, SoftmaxPolicy(LOGITS), BASE.log(), V_MIXED, log_z, group_size)


@pytest.mark.parametrize("group_size", [2, 3])
def test_rloo_and_reinforce_descend_the_expected_reward(group_size):
    assert torch.allclose(rl_gradient(RLOO(), group_size), -reward_gradient(), atol=1e-12)
    assert torch.allclose(rl_gradient(Reinforce(), group_size), -reward_gradient(), atol=1e-12)


def test_dr_grpo_is_the_policy_gradient_scaled_by_one_minus_one_over_g():
    # v_i - mean_j v_j includes v_i itself: E = (1 - 1/G) ∇E[v]
    assert torch.allclose(rl_gradient(DrGRPO(), 3), -(2 / 3) * reward_gradient(), atol=1e-12)


def test_grpo_on_pairs_of_binary_rewards_by_hand():
    # G = 2: a split pair has std 1/√2, so A = ±(1/2)/(1/√2 + 1e-4); equal pairs have A = 0.
    # v_i - v_j is then the same sign, so E[∇loss] = -(1/2)/(1/√2 + 1e-4) · ∇E[v].
    scale = 0.5 / (1 / math.sqrt(2) + 1e-4)
    assert torch.allclose(rl_gradient(GRPO(), 2), -scale * reward_gradient(), atol=1e-12)


def test_kl_regularised_rl_descends_beta_kl_minus_reward():
    beta = 0.3

    def objective(pi):
        return beta * (pi * (pi / BASE).log()).sum() - (pi * V_MIXED).sum()

    learner = KLRegularisedRL(KLRLConfig(beta=beta))
    assert torch.allclose(rl_gradient(learner, 2), analytic_gradient(objective), atol=1e-12)
