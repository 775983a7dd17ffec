"""The judgement on Coq whole files whose statement is their own, and on `par:` in the jail.

`tests/test_coq_whole_files.py` runs the same cases through real coqtop; these pin the policy's
side: which verdict each field of a raw result leads to.
"""

from __future__ import annotations

import pytest

from leanfilter.backends.base import HeaderError, RawResult, StatementError
from leanfilter.inputs import UntrustedInput, candidate_from_record
from leanfilter.policy import StrictPolicy
from leanfilter.policy.basic import BasicPolicy, own_text_refused
from leanfilter.records import BackendName, Candidate, Status

CLEAN = RawResult(declared=True, integrity=True, axioms=[])


def coq_file(code: str, **fields: object) -> Candidate:
    record = {"name": "t", "code": code, **fields}
    return candidate_from_record(record, {}, BackendName.COQ)


def test_a_file_without_a_problem_is_stated_by_its_own_theorem_sentence() -> None:
    candidate = coq_file(
        "Require Import Arith.\n(* Theorem t : False. *)\nLemma u : True. Proof. exact I. Qed.\n"
        "#[local] Theorem t (n : nat) : n + 0 = n.\nProof. auto. Qed.\n"
    )
    assert candidate.self_stated
    assert candidate.header == "Require Import Arith.\n"
    assert candidate.statement == "Theorem t (n : nat) : n + 0 = n."


def test_a_line_that_states_its_theorem_is_not_self_stated() -> None:
    candidate = coq_file(
        "Theorem t : True. Proof. exact I. Qed.", formal_statement="Theorem t : True."
    )
    assert not candidate.self_stated


@pytest.mark.parametrize(
    "code",
    [
        "Definition t := 0.\n",
        "Fail Theorem t : 1 = 2.\nDefinition t : 1 = 1 := eq_refl.\n",
        "Theorem t' : True. Proof. exact I. Qed.\n",
    ],
)
def test_a_file_that_states_nothing_about_its_name_is_refused(code: str) -> None:
    with pytest.raises(UntrustedInput, match="states no"):
        coq_file(code)


@pytest.mark.parametrize("policy", [BasicPolicy(), StrictPolicy()])
def test_a_coq_file_judged_without_a_statement_is_never_proved(policy: BasicPolicy) -> None:
    built = Candidate(
        name="t", backend=BackendName.COQ, proof="Definition t := I.", whole_file=True
    )
    decision = policy.judge(built, CLEAN.model_copy(update={"integrity": None}))
    assert (decision.status, decision.reason) == (Status.REJECTED, "input.untrusted")


def test_par_stopped_by_the_jail_is_an_error_not_a_failure() -> None:
    candidate = coq_file("Theorem t : True. Proof. exact I. Qed.")
    decision = StrictPolicy().judge(candidate, RawResult(exhausted="threads"))
    assert (decision.status, decision.reason) == (Status.ERROR, "sandbox.threads")


def test_own_text_that_coq_will_not_take_is_a_verdict_about_the_candidate() -> None:
    candidate = coq_file("Theorem t : True. Proof. exact I. Qed.")
    header = own_text_refused(candidate, HeaderError("the header does not load: …"))
    statement = own_text_refused(candidate, StatementError("The reference two was not found"))
    assert (header.status, header.reason) == (Status.FAILED, "prover.header")
    assert (statement.status, statement.reason) == (Status.REJECTED, "statement.unreadable")
    assert "The reference two was not found" in (statement.detail or "")


def test_the_shadow_rule_is_lifted_only_where_the_statement_is_read_before_the_file() -> None:
    code = "Definition False := True.\nTheorem t : 1 + 1 = 2.\nProof. reflexivity. Qed.\n"
    stated = coq_file(code, formal_statement="Theorem t : 1 + 1 = 2.")
    assert [f.rule for f in StrictPolicy().findings(coq_file(code))] == []
    assert "shadow" in [f.rule for f in StrictPolicy().findings(stated)]
