"""The Lean adversarial suite at the prover level, where Lean exists (the text layer runs
everywhere, in test_text_layer.py), and the audit's reading of forged answers against the REPL
replay double, everywhere.

With a toolchain, every attack goes through the Verifier and the real REPL twice:
with the text rules on (nothing may be proved) and off (each case says what the prover-level
checks alone conclude). Cases marked `hole` describe a gap in the prover-level checks that only
the text layer closes today; their prover-layer test fails until the gap is fixed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lean_replay.world import HEADER, HEADER_TEXT, PROVED, ReplayWorld, foo_candidate

from adversarial.cases import PROBLEMS, AdversarialCase, load_cases, outcome_matches
from leanfilter.backends import create_backend
from leanfilter.backends.base import ProverUnavailable
from leanfilter.backends.lean_repl import LeanReplBackend
from leanfilter.inputs import load_problems
from leanfilter.policy import StrictPolicy
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


# -- without Lean: the audit's reading, against the REPL replay double ----------------------

# `#print axioms` answers as Lean would print them for axioms whose escaped names (`«…»`) try to
# pass for a clean answer. Lean prints names, never types, so the name is all an attacker shapes.
FORGED_AXIOM_NAMES = [
    "«] does not depend on any axioms»",
    "«'foo' does not depend on any axioms»",
    "«cheat, propext»",
    "«propext]», «x",
    "«\n'foo' does not depend on any axioms»",
]


@pytest.mark.parametrize("name", FORGED_AXIOM_NAMES)
def test_an_axiom_name_cannot_forge_a_clean_audit(name: str) -> None:
    """The REPL double answers the engine's `#print axioms` with the forged name listed: the
    answer is read by its grammar, so the candidate is never proved, and never for want of
    reading (the name shows up as an axiom, or the answer is no answer)."""
    data = json.dumps(f"'$1' depends on axioms: [{name}, propext]")
    forged = {
        "match": r"\A#print axioms _root_\.(\S+)\Z",
        "answer": '{"messages": [{"severity": "info", "pos": {"line": 1, "column": 0},'
        f' "endPos": {{"line": 1, "column": 6}}, "data": {data}}}], "env": $ENV}}',
    }
    backend = LeanReplBackend(ReplayWorld().repl_settings([HEADER, forged, PROVED]))
    candidate = foo_candidate(statement=None)
    session = backend.open_session(HEADER_TEXT, slot=0)
    try:
        [(_, raw)] = session.check(backend.assemble(candidate, tag=1), 30.0)
    finally:
        session.close()
    policy = StrictPolicy()
    assert policy.judge(candidate, raw).status is not Status.PROVED
    assert raw.axioms is None or not set(raw.axioms) <= policy.allowed_axioms(candidate)
