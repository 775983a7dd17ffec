"""The Coq adversarial suite, run for real: prover layer, both layers, and the twins (the text
layer alone is in test_text_layer.py).

Every case is checked through the Verifier with real coqtop sessions twice: with the strict
policy as configured by default, and with its text rules switched off, so that each layer is
shown to do what the case says on its own. The twins go through the full policy and must stay
`proved`, so the rules do not reject honest proofs; and again with replay, which must not
reject them either.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adversarial.cases import PROBLEMS, AdversarialCase, load_cases, outcome_matches
from leanfilter.backends.coq import CoqBackend, CoqSettings
from leanfilter.inputs import load_problems
from leanfilter.records import BackendName, Problem, Status, Verdict
from leanfilter.sandbox import SandboxConfig

SUITE_BACKEND = BackendName.COQ
SUITE = load_cases(SUITE_BACKEND)
CASES = SUITE.cases
IDS = SUITE.ids
TIMEOUT = 20.0  # the time bomb must end as a timeout, not stall the suite
# Half the default address space: the memory bomb then runs out of it well before the deadline,
# however loaded the machine.
COQ = CoqBackend(CoqSettings(sandbox=SandboxConfig(memory_mb=1536, nproc=1)))


@pytest.fixture(scope="module")
def problems(benchmark_data: Path) -> dict[str, Problem]:
    return load_problems(benchmark_data / PROBLEMS[SUITE_BACKEND])


@pytest.fixture(scope="module")
def verdicts(problems: dict[str, Problem]) -> dict[str, dict[str, Verdict]]:
    backends = {BackendName.COQ: COQ}
    return SUITE.verdicts_by_layer(
        problems, workers=2, timeout=TIMEOUT, backends=backends, replay=True
    )


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
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_twin_survives_replay(case: AdversarialCase, verdicts: dict) -> None:
    """coqc in a fresh jail and coqchk confirm every honest proof: replay rejects none."""
    verdict = verdicts["twin_replayed"][case.id]
    assert verdict.status is Status.PROVED, (verdict.reason, verdict.detail)


@pytest.mark.coq
@pytest.mark.slow
def test_no_write_escaped_the_jail(verdicts: dict) -> None:
    assert any(c.must_not_exist for c in CASES)
    assert SUITE.escaped_writes() == []
