"""The Coq adversarial suite, run for real: text layer, prover layer, both, and the twins.

Every case is checked through the Verifier with real coqtop sessions twice: with the strict
policy as configured by default, and with its text rules switched off, so that each layer is
shown to do what the case says on its own. The twins go through the full policy and must stay
`proved`, so the rules do not reject honest proofs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adversarial.cases import AdversarialCase, load_cases, outcome_matches
from leanfilter.inputs import load_problems
from leanfilter.policy import StrictPolicy
from leanfilter.records import BackendName, Problem, Status, Verdict

SUITE = load_cases(BackendName.COQ)
CASES = SUITE.cases
IDS = SUITE.ids
TIMEOUT = 10.0  # the time bomb must end as a timeout, not stall the suite
REQUIRED_ATTACKS = {
    "sorry",
    "unicode look-alike",
    "statement substitution",
    "backtracking",
    "axiom",
    "axiom via instances",
    "axiom via obligations",
    "guard/positivity/universes",
    "vm_compute cast",
    "forged messages",
    "file write",
    "process spawn",
    "memory/time bomb",
    "comment/string smuggling",
}


@pytest.fixture(scope="module")
def problems(shared_data: Path) -> dict[str, Problem]:
    return load_problems(shared_data / "minif2f_rocq" / "minif2f_rocq.jsonl")


@pytest.fixture(scope="module")
def verdicts(problems: dict[str, Problem]) -> dict[str, dict[str, Verdict]]:
    return SUITE.verdicts_by_layer(problems, workers=2, timeout=TIMEOUT)


def test_the_suite_is_large_and_covers_every_attack_class() -> None:
    assert len(CASES) >= 40
    assert len(set(IDS)) == len(IDS)
    assert not SUITE.missing_attacks(REQUIRED_ATTACKS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_text_layer(case: AdversarialCase, problems: dict[str, Problem]) -> None:
    decision = StrictPolicy().screen(SUITE.attack(case, problems))
    assert (decision.reason if decision else None) == case.policy, decision


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_text_layer_passes_the_twin(case: AdversarialCase, problems: dict[str, Problem]) -> None:
    assert StrictPolicy().screen(SUITE.twin(case, problems)) is None


@pytest.mark.coq
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_no_attack_is_proved(case: AdversarialCase, verdicts: dict) -> None:
    verdict = verdicts["full"][case.id]
    assert verdict.status is not Status.PROVED
    assert verdict.reason == (case.policy or case.prover), verdict.detail


@pytest.mark.coq
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_prover_layer_alone(case: AdversarialCase, verdicts: dict) -> None:
    verdict = verdicts["prover"][case.id]
    assert outcome_matches(verdict, case.prover), (verdict.status, verdict.reason, verdict.detail)


@pytest.mark.coq
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_twin_stays_proved(case: AdversarialCase, verdicts: dict) -> None:
    verdict = verdicts["twin"][case.id]
    assert verdict.status is Status.PROVED, (verdict.reason, verdict.detail)


@pytest.mark.coq
@pytest.mark.slow
def test_no_write_escaped_the_jail(verdicts: dict) -> None:
    assert any(c.must_not_exist for c in CASES)
    assert SUITE.escaped_writes() == []
