"""The oracle's mathematics checked by exact enumeration over small discrete distributions.

A "distribution" here is a handful of proofs y with known π_base(y), π_θ(y) and v(y); every
expectation is an exact sum over all samples of size n weighted by their probabilities, so the
tests compare estimators with the truth, not with a second estimate.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from leanfilter.oracle import (
    Z_FLOOR,
    ScoreResult,
    ZMode,
    ZTracker,
    clamp_log_z,
    importance_diagnostics,
    kish_ess,
    log_importance_weights,
    log_z_acceptance,
    log_z_importance,
    logsumexp,
    target_logp,
)
from leanfilter.records import BackendName, Problem, Status, Verdict


def probability_vectors(size: int) -> st.SearchStrategy[np.ndarray]:
    """Strictly positive probability vectors (a proposal must cover the whole support)."""
    return st.lists(st.floats(min_value=0.05, max_value=1.0), min_size=size, max_size=size).map(
        lambda w: np.array(w) / np.sum(w)
    )


@st.composite
def discrete_targets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(π_base, π_θ, v) over a support of 2 to 4 proofs."""
    size = draw(st.integers(min_value=2, max_value=4))
    base = draw(probability_vectors(size))
    policy = draw(probability_vectors(size))
    v = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)), dtype=float)
    return base, policy, v


def exact_expectation(proposal: np.ndarray, n: int, estimate: callable) -> float:
    """E[estimate(sample)] over all ordered samples of size n drawn i.i.d. from `proposal`."""
    total = 0.0
    for draw in itertools.product(range(proposal.size), repeat=n):
        idx = np.array(draw)
        total += float(np.prod(proposal[idx])) * estimate(idx)
    return total


@settings(max_examples=60, deadline=None)
@given(target=discrete_targets(), n=st.integers(min_value=1, max_value=3))
def test_importance_z_hat_is_unbiased(target, n):
    base, policy, v = target
    lb, lp = np.log(base), np.log(policy)
    expected = exact_expectation(
        policy, n, lambda idx: math.exp(log_z_importance(lb[idx], lp[idx], v[idx]))
    )
    assert expected == pytest.approx(float(np.sum(base * v)), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(target=discrete_targets(), n=st.integers(min_value=1, max_value=3))
def test_acceptance_rate_is_unbiased_under_the_base_model(target, n):
    base, _, v = target
    expected = exact_expectation(base, n, lambda idx: math.exp(log_z_acceptance(v[idx])))
    assert expected == pytest.approx(float(np.sum(base * v)), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(target=discrete_targets())
def test_target_logp_normalizes_when_z_hat_is_z(target):
    base, _, v = target
    assume(v.any())
    log_z = math.log(np.sum(base * v))
    log_p = target_logp(np.log(base), v, log_z)
    assert np.all(np.isneginf(log_p[v == 0]))
    assert float(np.sum(np.exp(log_p))) == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(target=discrete_targets(), second_policy=probability_vectors(4))
def test_running_estimate_pools_visits_without_bias(target, second_policy):
    """Two visits with one sample each, from two different policies: the pooled Ẑ is unbiased."""
    base, policy, v = target
    other = second_policy[: base.size] / np.sum(second_policy[: base.size])
    lb, lp, lo = np.log(base), np.log(policy), np.log(other)
    joint = np.outer(policy, other)

    def pooled(i: int, j: int) -> float:
        tracker = ZTracker(ZMode.RUNNING)
        tracker.update("x", lb[[i]], lp[[i]], v[[i]])
        tracker.update("x", lb[[j]], lo[[j]], v[[j]])
        return math.exp(tracker.raw_log_z("x"))

    expected = sum(joint[i, j] * pooled(i, j) for i in range(base.size) for j in range(base.size))
    assert expected == pytest.approx(float(np.sum(base * v)), abs=1e-12)


def test_running_mode_pools_and_reset_mode_forgets():
    lb = np.log([0.5, 0.25, 0.25])
    lp = np.log([0.25, 0.5, 0.25])
    first, second = np.array([1.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0])
    running, reset = ZTracker(ZMode.RUNNING), ZTracker(ZMode.RESET)
    for tracker in (running, reset):
        tracker.update("p", lb, lp, first)
        tracker.update("p", lb, lp, second)
    both = log_z_importance(np.tile(lb, 2), np.tile(lp, 2), np.concatenate([first, second]))
    assert running.log_z("p") == pytest.approx(both)
    assert reset.log_z("p") == pytest.approx(log_z_importance(lb, lp, second))
    assert running.samples_seen("p") == 6 and reset.samples_seen("p") == 3
    assert math.isnan(running.log_z("never seen"))


def test_tracker_clamps_and_keeps_the_estimate_through_a_visit_without_answers():
    tracker = ZTracker(ZMode.RESET)
    assert tracker.update("p", [0.0], [0.0], [0.0]) == pytest.approx(math.log(Z_FLOOR))
    assert tracker.update("p", [3.0], [0.0], [1.0]) == 0.0  # raw Ẑ = e³ is clamped to 1
    assert tracker.update("p", [0.0, 1.0], [0.0, 0.0], [np.nan, np.nan]) == 0.0
    assert tracker.samples_seen("p") == 1


unknown_samples = st.lists(st.tuples(st.floats(-30, 0), st.floats(-30, 0)), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(target=discrete_targets(), unknown=unknown_samples)
def test_error_samples_are_left_out_not_counted_as_zero_or_one(target, unknown):
    base, policy, v = target
    lb, lp = np.log(base), np.log(policy)
    extra_b, extra_p = (np.array(column) for column in zip(*unknown, strict=True))
    nan = np.full(len(unknown), np.nan)
    with_errors = (np.concatenate([lb, extra_b]), np.concatenate([lp, extra_p]))
    v_errors = np.concatenate([v, nan])

    assert log_z_importance(*with_errors, v_errors) == log_z_importance(lb, lp, v)
    assert log_z_acceptance(v_errors) == log_z_acceptance(v)
    assert np.all(np.isnan(log_importance_weights(extra_b, extra_p, nan)))
    assert np.all(np.isnan(target_logp(extra_b, nan, 0.0)))
    diag = importance_diagnostics(*with_errors, v_errors)
    assert diag == importance_diagnostics(lb, lp, v)
    assert diag.answered == base.size


def test_an_estimate_from_no_answered_sample_is_nan():
    assert math.isnan(log_z_importance([0.0], [0.0], [np.nan]))
    assert math.isnan(log_z_acceptance([]))
    assert math.isnan(clamp_log_z(float("nan")))


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_clamp_keeps_log_z_a_log_probability_above_the_floor(log_z):
    clamped = clamp_log_z(log_z)
    assert math.log(Z_FLOOR) <= clamped <= 0.0
    if math.log(Z_FLOOR) <= log_z <= 0.0:
        assert clamped == log_z


@given(st.lists(st.floats(min_value=-700, max_value=700), min_size=1, max_size=20))
def test_logsumexp_matches_the_direct_sum_after_shifting(values):
    shift = max(values)
    direct = shift + math.log(sum(math.exp(x - shift) for x in values))
    assert logsumexp(values) == pytest.approx(direct, rel=1e-12, abs=1e-12)


def test_logsumexp_edges():
    assert logsumexp([]) == float("-inf")
    assert logsumexp([float("-inf"), float("-inf")]) == float("-inf")
    assert math.isnan(logsumexp([0.0, float("nan")]))


@settings(max_examples=80)
@given(
    st.lists(st.floats(min_value=-50, max_value=50), min_size=1, max_size=30),
    st.floats(min_value=-500, max_value=500),
)
def test_kish_ess_is_between_one_and_n_and_ignores_scale(log_w, shift):
    ess = kish_ess(log_w)
    assert 1.0 - 1e-9 <= ess <= len(log_w) + 1e-9
    assert kish_ess(np.array(log_w) + shift) == pytest.approx(ess, rel=1e-9)


def test_kish_ess_of_equal_and_degenerate_weights():
    assert kish_ess(np.zeros(7)) == pytest.approx(7.0)
    assert kish_ess([0.0, -np.inf, -np.inf]) == pytest.approx(1.0)
    assert kish_ess([-np.inf, -np.inf]) == 0.0


@settings(max_examples=60, deadline=None)
@given(target=discrete_targets())
def test_diagnostics_on_base_samples_reduce_to_the_acceptance_rate(target):
    base, _, v = target
    lb = np.log(base)
    diag = importance_diagnostics(lb, lb, v)
    assert diag.accepted_weight == pytest.approx(float(np.mean(v)))
    assert diag.ess_base == pytest.approx(base.size)
    assert diag.ess == pytest.approx(float(v.sum()))
    assert diag.accepted == int(v.sum())


def test_diagnostics_weight_samples_by_base_over_policy():
    lb = np.log([0.6, 0.2, 0.2])
    lp = np.log([0.2, 0.4, 0.4])
    diag = importance_diagnostics(lb, lp, [1.0, 0.0, 0.0])
    # weights π_base/π_θ = 3, 0.5, 0.5: the accepted sample carries 3/4 of them
    assert diag.accepted_weight == pytest.approx(0.75)
    assert diag.ess_base == pytest.approx(16 / 9.5)
    assert diag.ess == pytest.approx(1.0)


def _verdict(status: Status) -> Verdict:
    return Verdict(name="t", status=status)


@given(st.lists(st.sampled_from(list(Status)), max_size=12))
def test_score_result_reads_v_and_reports_errors_apart(statuses):
    problem = Problem(name="t", backend=BackendName.COQ, statement="True")
    result = ScoreResult(problem=problem, verdicts=[_verdict(s) for s in statuses])
    v, valid = result.v, result.valid
    for status, value, ok in zip(statuses, v, valid, strict=True):
        assert ok == (status is not Status.ERROR)
        if status is Status.ERROR:
            assert math.isnan(value)
        else:
            assert value == (1.0 if status is Status.PROVED else 0.0)
    assert len(result.errors) == statuses.count(Status.ERROR)
