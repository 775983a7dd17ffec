"""No candidate text at all proves a false statement: a property over the grammar of attacks,
against real coqtop, in both input forms, under default settings (strict policy, no replay)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adversarial.grammar import texts, whole_files
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import candidate_from_record
from leanfilter.records import Candidate, Status

pytestmark = [pytest.mark.coq, pytest.mark.slow]

HEADER = "Require Import Arith Lia."
FALSE_STATEMENTS = [
    "Theorem t : False.",
    "Theorem t : 1 = 2.",
    "Theorem t : forall n : nat, n < 0.",
]
FEW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def verifier() -> Iterator[Verifier]:
    with Verifier(VerifierConfig()) as v:
        yield v


def not_proved(verifier: Verifier, records: list[dict]) -> None:
    candidates: list[Candidate] = []
    for record in records:
        try:
            candidates.append(candidate_from_record(record, {}))
        except ValueError:
            continue  # refused as input: not proved either
    for candidate, verdict in zip(candidates, verifier.verify_all(candidates), strict=True):
        assert verdict.status is not Status.PROVED, (candidate.proof, verdict)


@pytest.mark.parametrize("statement", FALSE_STATEMENTS)
@FEW
@given(data=st.data())
def test_no_proof_text_proves_a_false_statement(
    verifier: Verifier, statement: str, data: st.DataObject
) -> None:
    proofs = data.draw(st.lists(texts(statement), min_size=1, max_size=3))
    records = [
        {"name": "t", "header": HEADER, "formal_statement": statement, "proof": proof}
        for proof in proofs
    ]
    not_proved(verifier, records)


@pytest.mark.parametrize("statement", FALSE_STATEMENTS)
@FEW
@given(data=st.data())
def test_no_whole_file_proves_a_false_statement(
    verifier: Verifier, statement: str, data: st.DataObject
) -> None:
    files = data.draw(st.lists(whole_files(HEADER, statement), min_size=1, max_size=3))
    records = [{"name": "t", "code": code, "formal_statement": statement} for code in files]
    not_proved(verifier, records)
