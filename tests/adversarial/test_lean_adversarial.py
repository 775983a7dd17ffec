"""The Lean adversarial suite: the text layer everywhere, the prover layer where Lean exists.

Without a Lean toolchain only the text layer runs (the strict policy's `screen` on each attack
and each twin). With one, every attack also goes through the Verifier and the real REPL twice:
with the text rules on (nothing may be proved) and off (each case says what the prover-level
checks alone conclude). Cases marked `hole` describe a gap in the prover-level checks that only
the text layer closes today; their prover-layer test fails until the gap is fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adversarial.cases import AdversarialCase, load_cases, outcome_matches
from leanfilter.backends import create_backend
from leanfilter.backends.base import ProverUnavailable
from leanfilter.inputs import load_problems
from leanfilter.policy import StrictPolicy
from leanfilter.records import BackendName, Problem, Status, Verdict

SUITE = load_cases(BackendName.LEAN)
CASES = SUITE.cases
IDS = SUITE.ids
TIMEOUT = 120.0
REQUIRED_ATTACKS = {
    "sorry",
    "unicode look-alike",
    "statement substitution",
    "axiom",
    "axiom via instances",
    "native_decide",
    "exit",
    "forged messages",
    "file write",
    "process spawn",
    "memory/time bomb",
    "comment/string smuggling",
    "elaboration-time code",
    "syntax extension",
    "weakening option",
}


def _lean_missing() -> str | None:
    try:
        create_backend(BackendName.LEAN).toolchain()
    except ProverUnavailable as e:
        return str(e)
    return None


LEAN_MISSING = _lean_missing()
needs_lean = pytest.mark.skipif(
    LEAN_MISSING is not None, reason=f"prover-level Lean checks need Lean: {LEAN_MISSING}"
)


@pytest.fixture(scope="module")
def problems(shared_data: Path) -> dict[str, Problem]:
    return load_problems(shared_data / "minif2f_lean" / "minif2f.jsonl")


@pytest.fixture(scope="module")
def verdicts(problems: dict[str, Problem]) -> dict[str, dict[str, Verdict]]:
    return SUITE.verdicts_by_layer(problems, workers=1, timeout=TIMEOUT)


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


@pytest.mark.lean
@needs_lean
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_no_attack_is_proved(case: AdversarialCase, verdicts: dict) -> None:
    verdict = verdicts["full"][case.id]
    assert verdict.status is not Status.PROVED
    if case.policy is not None:
        assert verdict.reason == case.policy


@pytest.mark.lean
@needs_lean
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_prover_layer_alone(case: AdversarialCase, verdicts: dict) -> None:
    verdict = verdicts["prover"][case.id]
    assert outcome_matches(verdict, case.prover), (case.hole, verdict.reason, verdict.detail)


@pytest.mark.lean
@needs_lean
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_twin_stays_proved(case: AdversarialCase, verdicts: dict) -> None:
    verdict = verdicts["twin"][case.id]
    assert verdict.status is Status.PROVED, (verdict.reason, verdict.detail)


@pytest.mark.lean
@needs_lean
def test_no_write_escaped_the_jail(verdicts: dict) -> None:
    assert any(c.must_not_exist for c in CASES)
    assert SUITE.escaped_writes() == []
