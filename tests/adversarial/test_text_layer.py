"""The text layer of both adversarial suites: the strict policy's `screen` on every attack and
every twin. It needs no prover, so it runs everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from adversarial.cases import PROBLEMS, REQUIRED_ATTACKS, AdversarialCase, load_cases
from leanfilter.inputs import load_problems
from leanfilter.policy import StrictPolicy
from leanfilter.records import BackendName, Problem

SUITES = {backend: load_cases(backend) for backend in BackendName}
CASES = [
    pytest.param(backend, case, id=f"{backend.value}-{case.id}")
    for backend, suite in SUITES.items()
    for case in suite.cases
]


@pytest.fixture(scope="module")
def problems(benchmark_data: Path) -> dict[BackendName, dict[str, Problem]]:
    return {backend: load_problems(benchmark_data / path) for backend, path in PROBLEMS.items()}


@pytest.mark.parametrize("backend", list(BackendName))
def test_each_suite_is_large_and_covers_every_attack_class(backend: BackendName) -> None:
    suite = SUITES[backend]
    assert len(suite.cases) >= 40
    assert len(set(suite.ids)) == len(suite.ids)
    assert not suite.missing_attacks(REQUIRED_ATTACKS[backend])


@pytest.mark.parametrize(("backend", "case"), CASES)
def test_text_layer(backend: BackendName, case: AdversarialCase, problems: dict) -> None:
    decision = StrictPolicy().screen(SUITES[backend].attack(case, problems[backend]))
    assert (decision.reason if decision else None) == case.policy, decision


@pytest.mark.parametrize(("backend", "case"), CASES)
def test_text_layer_passes_the_twin(
    backend: BackendName, case: AdversarialCase, problems: dict
) -> None:
    assert StrictPolicy().screen(SUITES[backend].twin(case, problems[backend])) is None
