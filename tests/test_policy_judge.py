"""The strict policy's judgement after checking: BasicPolicy's rules are its floor, integrity
must have been checked, and DeepSeek-Prover's rule is counted beside every Lean verdict."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from leanfilter.backends.base import RawResult
from leanfilter.policy import BasicPolicy, PolicyConfig, StrictPolicy
from leanfilter.policy.deepseek import deepseek_accepts
from leanfilter.records import BackendName, Candidate, Message, Severity, Status

LEAN = Candidate(
    name="t", backend=BackendName.LEAN, statement="theorem t : 1 = 1 := by\n", proof="  rfl"
)
COQ = Candidate(
    name="t",
    backend=BackendName.COQ,
    header="Require Import Reals.\n",
    statement="Theorem t : True.",
    proof="exact I.",
)
TEXTS = [
    "declaration uses 'sorry'",
    "declaration uses `sorry`",
    "failed to synthesize",
    "unused variable `h`",
    "Out of memory.",
    "ok",
]
AXIOMS = [
    "propext",
    "Classical.choice",
    "sorryAx",
    "Lean.ofReduceBool",
    "Coq.Logic.Classical_Prop.classic",
    "unsafe:t is assumed to be guarded",
]

messages = st.lists(
    st.builds(Message, severity=st.sampled_from(list(Severity)), text=st.sampled_from(TEXTS)),
    max_size=3,
)
raw_results = st.builds(
    RawResult,
    messages=messages,
    declared=st.booleans(),
    integrity=st.sampled_from([None, True, False]),
    axioms=st.none() | st.lists(st.sampled_from(AXIOMS), max_size=3, unique=True),
    sorries=st.integers(0, 2),
    exhausted=st.sampled_from([None, "memory", "output"]),
    sentences_disagree=st.sampled_from([None, "Coq ran 3 sentences where the text has 2"]),
)


@given(st.sampled_from([LEAN, COQ]), raw_results)
def test_basic_policy_is_the_floor(candidate: Candidate, raw: RawResult) -> None:
    strict = StrictPolicy().judge(candidate, raw)
    if strict.status is Status.PROVED:
        assert BasicPolicy().judge(candidate, raw).status is Status.PROVED
        assert not any(m.severity is Severity.ERROR for m in raw.messages)
        assert raw.sorries == 0 and raw.declared and raw.integrity is True
        assert set(raw.axioms or []) <= StrictPolicy().allowed_axioms(candidate)
        assert raw.exhausted is None and raw.sentences_disagree is None
    else:
        assert strict.reason and strict.detail


def test_a_sentence_disagreement_is_a_rejection_unless_the_prover_reported_an_error() -> None:
    clean = RawResult(declared=True, integrity=True, axioms=[])
    odd = clean.model_copy(update={"sentences_disagree": "Coq ran 3 sentences, the text has 2"})
    syntax = Message(severity=Severity.ERROR, text="Syntax error: illegal begin of toplevel")
    resynced = odd.model_copy(update={"messages": [syntax]})  # Coq resumed at the next period
    for policy in (BasicPolicy(), StrictPolicy()):
        assert policy.judge(COQ, clean).status is Status.PROVED
        decision = policy.judge(COQ, odd)
        assert (decision.status, decision.reason) == (Status.REJECTED, "sentences.disagree")
        assert "Coq ran 3 sentences" in (decision.detail or "")
        decision = policy.judge(COQ, resynced)
        assert (decision.status, decision.reason) == (Status.FAILED, "prover.error")


def test_an_answer_too_large_fails_with_its_own_reason_and_other_limits_keep_theirs() -> None:
    flood = RawResult(messages=[Message(severity=Severity.ERROR, text="flood")], exhausted="output")
    decision = BasicPolicy().judge(COQ, flood)
    assert (decision.status, decision.reason) == (Status.FAILED, "output.too_large")
    oom = flood.model_copy(update={"exhausted": "memory"})
    assert BasicPolicy().judge(COQ, oom).reason == "resource.memory"


def test_a_statement_whose_integrity_was_not_checked_is_not_proved() -> None:
    raw = RawResult(declared=True, integrity=None, axioms=[])
    decision = StrictPolicy().judge(COQ, raw)
    assert (decision.status, decision.reason) == (Status.REJECTED, "integrity.unchecked")
    assert BasicPolicy().judge(COQ, raw).status is Status.PROVED
    relaxed = StrictPolicy(PolicyConfig(require_integrity=False))
    assert relaxed.judge(COQ, raw).status is Status.PROVED


def test_deepseek_rule_is_counted_never_deciding() -> None:
    policy = StrictPolicy()
    native = RawResult(declared=True, integrity=True, axioms=["Lean.ofReduceBool", "propext"])
    backticks = RawResult(
        declared=True,
        integrity=True,
        axioms=["sorryAx"],
        messages=[Message(severity=Severity.WARNING, text="declaration uses `sorry`")],
    )
    lint = RawResult(
        declared=True,
        integrity=True,
        axioms=["propext"],
        messages=[Message(severity=Severity.WARNING, text="linter failed to find a fix")],
    )
    verdicts = [policy.judge(LEAN, raw) for raw in (native, backticks, lint)]
    assert [deepseek_accepts(r) for r in (native, backticks, lint)] == [True, True, False]
    assert [v.status for v in verdicts] == [Status.REJECTED, Status.FAILED, Status.PROVED]
    tally = policy.deepseek.snapshot()
    assert (tally.only_deepseek_accepts, tally.only_policy_accepts, tally.total) == (2, 1, 3)


def test_the_deepseek_tally_counts_from_many_threads() -> None:
    policy = StrictPolicy()
    raw = RawResult(declared=True, integrity=True, axioms=[])

    def judge_many() -> None:
        for _ in range(300):
            policy.judge(LEAN, raw)

    threads = [threading.Thread(target=judge_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    policy.judge(COQ, raw)  # Coq verdicts are not DeepSeek's business
    assert policy.deepseek.snapshot().both_accept == 2400
    assert policy.deepseek.snapshot().total == 2400
