"""Kimina's own client reads `valid` exactly for our `proved`, whatever else a verdict holds."""

from __future__ import annotations

import typing

import typing_extensions
from hypothesis import given
from hypothesis import strategies as st

from leanfilter.records import Message, Position, Severity, Status, Verdict
from leanfilter.serve.admission import Admission, QueueFull
from leanfilter.serve.kimina import check_result

typing.TypedDict = typing_extensions.TypedDict  # type: ignore[misc]  # kimina-client on 3.11
import pytest  # noqa: E402

kimina_models = pytest.importorskip("kimina_client.models")

messages = st.builds(
    Message,
    severity=st.sampled_from(Severity),
    text=st.text(max_size=20),
    pos=st.none() | st.builds(Position, line=st.integers(0, 9), column=st.integers(0, 9)),
)
verdicts = st.builds(
    Verdict,
    name=st.text(min_size=1, max_size=8),
    status=st.sampled_from(Status),
    reason=st.none() | st.sampled_from(["policy.sorry", "prover.error", "axiom.disallowed"]),
    detail=st.none() | st.text(max_size=20),
    messages=st.lists(messages, max_size=3),
    time_s=st.floats(0, 100),
)


@given(verdicts)
def test_valid_exactly_when_proved(verdict: Verdict) -> None:
    result = kimina_models.ReplResponse.model_validate(check_result("id", verdict))
    analysis = result.analyze().status.value
    assert (analysis == "valid") == (verdict.status is Status.PROVED)
    if verdict.status is Status.TIMEOUT:
        assert analysis == "timeout_error"


@given(st.integers(1, 20), st.lists(st.integers(1, 8), max_size=30))
def test_admission_never_holds_more_than_its_capacity(capacity: int, asks: list[int]) -> None:
    admission = Admission(capacity)
    for ask in asks:
        before = admission.depth
        try:
            admission.take(ask)
        except QueueFull:
            assert before + ask > capacity and admission.depth == before
        assert admission.depth <= capacity
