"""Expected loss gradients, by enumeration of every group, against the analytic gradients.

Three policies whose support is enumerated: a softmax over four whole sequences, a tiny
transformer over all nine two-token completions of its three-token vocabulary, and one whose
completions end at a stop string, so its support holds sequences of one and two tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from learners.alpha_dpg import AlphaDPG, AlphaDPGConfig
from learners.baselines import GRPO, RLOO, DrGRPO, KLRegularisedRL, KLRLConfig, Reinforce
from tests.learners.toy import (
    SoftmaxPolicy,
    StoppedTransformerPolicy,
    TransformerPolicy,
    expected_gradient,
)


@dataclass
class Setting:
    """A policy family, π_base over its support, and verdicts with a rejection and without."""

    make_policy: Callable[[], SoftmaxPolicy | TransformerPolicy | StoppedTransformerPolicy]
    base: torch.Tensor
    v_mixed: torch.Tensor
    v_all: torch.Tensor
    atol: float
    """Llama's RMSNorm computes in float32 whatever the model's dtype, so its gradients carry
    float32 rounding (about 1e-7 relative); the softmax is float64 throughout."""

    def close(self, got: torch.Tensor, expected: torch.Tensor) -> bool:
        return torch.allclose(got, expected, rtol=0.0, atol=self.atol)

    def target(self, v: torch.Tensor) -> tuple[torch.Tensor, float]:
        z = float((self.base * v).sum())
        return self.base * v / z, math.log(z)

    def analytic_gradient(self, objective: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """∇_θ objective(π_θ) as one flat vector over the policy's parameters."""
        policy = self.make_policy()
        grads = torch.autograd.grad(objective(policy.log_probs().exp()), list(policy.parameters()))
        return torch.cat([g.flatten() for g in grads])

    def expected(self, learner, v: torch.Tensor, group_size: int = 2) -> torch.Tensor:
        _, log_z = self.target(v)
        policy = self.make_policy()
        return expected_gradient(learner, policy, self.base.log(), v, log_z, group_size)


def _distribution(weights: list[float]) -> torch.Tensor:
    w = torch.tensor(weights, dtype=torch.float64)
    return w / w.sum()


SOFTMAX = Setting(
    make_policy=lambda: SoftmaxPolicy([0.3, -0.2, 0.9, -1.1]),
    base=_distribution([0.4, 0.3, 0.2, 0.1]),
    v_mixed=torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64),
    v_all=torch.ones(4, dtype=torch.float64),
    atol=1e-12,
)
TRANSFORMER = Setting(
    make_policy=lambda: TransformerPolicy(length=2, seed=3),
    base=_distribution([3.0, 1.0, 2.0, 1.0, 4.0, 1.0, 2.0, 3.0, 1.0]),
    v_mixed=torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0], dtype=torch.float64),
    v_all=torch.ones(9, dtype=torch.float64),
    atol=1e-6,
)


STOPPED = Setting(  # ten completions: EOS, "b" (stopped), and the eight of two tokens after pad/unk
    make_policy=lambda: StoppedTransformerPolicy(["b"], ["b"], length=2, seed=3),
    base=_distribution([3.0, 1.0, 2.0, 1.0, 4.0, 1.0, 2.0, 3.0, 1.0, 2.0]),
    v_mixed=torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0], dtype=torch.float64),
    v_all=torch.ones(10, dtype=torch.float64),
    atol=1e-6,
)


@pytest.fixture(
    params=[SOFTMAX, TRANSFORMER, STOPPED], ids=["softmax", "transformer", "stop-string"]
)
def setting(request) -> Setting:
    return request.param


@pytest.mark.parametrize("setting", [TRANSFORMER, STOPPED], ids=["transformer", "stop-string"])
def test_the_transformer_support_is_the_whole_distribution(setting):
    # the enumeration is exact only if the sequences carry all of π_θ's mass
    with torch.no_grad():
        probabilities = setting.make_policy().log_probs().exp()
    assert probabilities.shape == setting.base.shape
    assert float(probabilities.sum()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75, 0.9])
def test_alpha_dpg_expected_gradient_is_the_amari_divergence_gradient(setting, alpha):
    p, _ = setting.target(setting.v_mixed)

    def amari(pi):  # D_alpha(π‖p) = (1 - Σ π^alpha p^{1-alpha}) / (alpha(1-alpha))
        return (1 - (pi**alpha * p ** (1 - alpha)).sum()) / (alpha * (1 - alpha))

    expected = (1 - alpha) * setting.analytic_gradient(amari)
    got = setting.expected(AlphaDPG(AlphaDPGConfig(alpha=alpha)), setting.v_mixed)
    assert setting.close(got, expected)
    assert torch.dot(got, expected) > 0


def test_no_pseudo_reward_is_clipped_in_these_settings(setting):
    # the identities above hold without the clip M; check the settings never reach it
    policy = setting.make_policy()
    p, _ = setting.target(setting.v_mixed)
    with torch.no_grad():
        ratio = p / policy.log_probs().exp()
    assert float(ratio.max()) < 11.0


def test_alpha_zero_is_the_forward_kl_gradient(setting):
    p, _ = setting.target(setting.v_mixed)
    on = p > 0
    expected = setting.analytic_gradient(lambda pi: (p[on] * (p[on] / pi[on]).log()).sum())
    got = setting.expected(AlphaDPG(AlphaDPGConfig(alpha=0.0)), setting.v_mixed)
    assert setting.close(got, expected)


def test_alpha_one_is_the_reverse_kl_gradient(setting):
    p, _ = setting.target(setting.v_all)
    expected = setting.analytic_gradient(lambda pi: (pi * (pi / p).log()).sum())
    got = setting.expected(AlphaDPG(AlphaDPGConfig(alpha=1.0)), setting.v_all)
    assert setting.close(got, expected)


def test_the_leave_one_out_baseline_leaves_the_expectation_unchanged(setting):
    # with a group of 3 the baseline is the mean of two others, yet the expectation is the same
    learner = AlphaDPG(AlphaDPGConfig(alpha=0.5))
    three = setting.expected(learner, setting.v_mixed, 3)
    assert setting.close(three, setting.expected(learner, setting.v_mixed, 2))


def reward_gradient(setting: Setting) -> torch.Tensor:
    """∇_θ E_π[v], the textbook policy gradient."""
    return setting.analytic_gradient(lambda pi: (pi * setting.v_mixed).sum())


@pytest.mark.parametrize("group_size", [2, 3])
def test_rloo_and_reinforce_descend_the_expected_reward(setting, group_size):
    gradient = reward_gradient(setting)
    for learner in (RLOO(), Reinforce()):
        got = setting.expected(learner, setting.v_mixed, group_size)
        assert setting.close(got, -gradient)


def test_dr_grpo_is_the_policy_gradient_scaled_by_one_minus_one_over_g(setting):
    # v_i - mean_j v_j includes v_i itself: E = (1 - 1/G) ∇E[v]
    got = setting.expected(DrGRPO(), setting.v_mixed, 3)
    assert setting.close(got, -(2 / 3) * reward_gradient(setting))


def test_grpo_on_pairs_of_binary_rewards_by_hand(setting):
    # G = 2: a split pair has std 1/√2, so A = ±(1/2)/(1/√2 + 1e-4); equal pairs have A = 0.
    # v_i - v_j is then the same sign, so E[∇loss] = -(1/2)/(1/√2 + 1e-4) · ∇E[v].
    scale = 0.5 / (1 / math.sqrt(2) + 1e-4)
    got = setting.expected(GRPO(), setting.v_mixed, 2)
    assert setting.close(got, -scale * reward_gradient(setting))


def test_kl_regularised_rl_descends_beta_kl_minus_reward(setting):
    beta = 0.3

    def objective(pi):
        return beta * (pi * (pi / setting.base).log()).sum() - (pi * setting.v_mixed).sum()

    got = setting.expected(KLRegularisedRL(KLRLConfig(beta=beta)), setting.v_mixed)
    assert setting.close(got, setting.analytic_gradient(objective))
