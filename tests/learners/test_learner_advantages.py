"""Properties of every advantage formula, over random groups (hypothesis)."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learners.alpha_dpg import AlphaDPG, AlphaDPGConfig
from learners.base import group_centred, leave_one_out
from learners.registry import available, make_learner
from tests.learners.toy import SoftmaxPolicy, toy_batch

rewards = st.lists(st.floats(-5, 5), min_size=2, max_size=6)
verdicts = st.lists(st.sampled_from([0.0, 1.0, math.nan]), min_size=4, max_size=4)


def as_group(values: list[float]) -> torch.Tensor:
    return torch.tensor([values], dtype=torch.float64)


@given(rewards, st.floats(-100, 100))
def test_leave_one_out_and_centring_ignore_a_shift(values, shift):
    r = as_group(values)
    assert torch.allclose(leave_one_out(r + shift), leave_one_out(r), atol=1e-9)
    assert torch.allclose(group_centred(r + shift, False), group_centred(r, False), atol=1e-9)


@given(st.floats(-5, 5), st.integers(2, 6))
def test_a_group_of_equal_rewards_has_zero_advantage(value, size):
    r = as_group([value] * size)
    for advantage in (leave_one_out(r), group_centred(r, True), group_centred(r, False)):
        assert torch.all(advantage.abs() < 1e-9)


@given(rewards)
def test_leave_one_out_sums_to_zero_times_g_over_g_minus_one(values):
    # Σ_i (R_i - mean_{j≠i} R_j) = Σ R - Σ R = 0
    assert abs(float(leave_one_out(as_group(values)).sum())) < 1e-9


@settings(deadline=None, max_examples=40)
@given(verdicts, st.sampled_from(sorted(["alpha_dpg", "grpo", "rloo", "kl_rl", "pass_at_k"])))
def test_unknown_verdicts_never_reach_a_loss(v, name):
    policy = SoftmaxPolicy([0.1, 0.2, -0.3, 0.0])
    base = torch.log(torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=torch.float64))
    batch = toy_batch(policy, [[0, 1, 2, 3]], base, torch.tensor(v, dtype=torch.float64), -1.0)
    loss = make_learner(name).loss(batch, policy)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.all(torch.isfinite(policy.logits.grad))


def test_every_registered_learner_is_found():
    assert {"alpha_dpg", "grpo", "dr_grpo", "rloo", "reinforce", "kl_rl"} <= set(available())
    assert {"pass_at_k", "unlikeliness", "rs_sft"} <= set(available())


def pseudo_rewards(alpha: float, log_ratio: float) -> float:
    """R for one accepted sample with log p - log π_θ = log_ratio."""
    policy = SoftmaxPolicy([0.0, 0.0])
    base = torch.tensor([log_ratio - math.log(2), 0.0], dtype=torch.float64)
    batch = toy_batch(policy, [[0, 1]], base, torch.ones(2, dtype=torch.float64), 0.0)
    return float(AlphaDPG(AlphaDPGConfig(alpha=alpha)).pseudo_rewards(batch)[0, 0])


@given(st.floats(-3, 2))
def test_alpha_to_zero_tends_to_the_alpha_zero_reward(log_ratio):
    assert math.isclose(pseudo_rewards(1e-7, log_ratio), math.expm1(log_ratio), abs_tol=1e-5)


@given(st.floats(-3, 2))
def test_alpha_to_one_scaled_tends_to_the_log_ratio_of_alpha_one(log_ratio):
    # R_alpha/(1-alpha) → r, and R_1 = 1 + r: the same direction once the baseline removes the 1
    eps = 1e-6
    assert math.isclose(pseudo_rewards(1 - eps, log_ratio) / eps, log_ratio, abs_tol=1e-4)
    assert math.isclose(pseudo_rewards(1.0, log_ratio), 1 + log_ratio, abs_tol=1e-9)


@given(st.floats(3, 20))
def test_the_pseudo_reward_is_clipped_at_m(log_ratio):
    assert pseudo_rewards(0.0, log_ratio) <= 10.0


def test_rejected_samples_get_minus_one_below_alpha_one():
    policy = SoftmaxPolicy([0.0, 0.0])
    base = torch.log(torch.tensor([0.5, 0.5], dtype=torch.float64))
    batch = toy_batch(policy, [[0, 1]], base, torch.tensor([0.0, 1.0], dtype=torch.float64), 0.0)
    for alpha in (0.0, 0.5, 0.999):
        assert float(AlphaDPG(AlphaDPGConfig(alpha=alpha)).pseudo_rewards(batch)[0, 0]) == -1.0
