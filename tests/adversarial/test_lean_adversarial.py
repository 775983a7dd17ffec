"""The Lean adversarial suite at the prover level, where Lean exists (the text layer runs
everywhere, in test_text_layer.py).

With a toolchain, every attack goes through the Verifier and the real REPL twice:
with the text rules on (nothing may be proved) and off (each case says what the prover-level
checks alone conclude). Cases marked `hole` describe a gap in the prover-level checks that only
the text layer closes today; their prover-layer test fails until the gap is fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adversarial.cases import PROBLEMS, AdversarialCase, load_cases, outcome_matches
from leanfilter.backends import create_backend
from leanfilter.backends.base import ProverUnavailable
from leanfilter.inputs import load_problems
from leanfilter.records import BackendName, Problem, Status, Verdict

SUITE_BACKEND = BackendName.LEAN
SUITE = load_cases(SUITE_BACKEND)
CASES = SUITE.cases
IDS = SUITE.ids
TIMEOUT = 120.0


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
def problems(benchmark_data: Path) -> dict[str, Problem]:
    return load_problems(benchmark_data / PROBLEMS[SUITE_BACKEND])


@pytest.fixture(scope="module")
def verdicts(problems: dict[str, Problem]) -> dict[str, dict[str, Verdict]]:
    return SUITE.verdicts_by_layer(problems, workers=1, timeout=TIMEOUT)


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
