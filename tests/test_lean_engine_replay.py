"""The engine with the Lean REPL backend, wired to the REPL replay double (never to real Lean):
the policy's verdicts from the prover-level answers, end to end through the pool."""

from __future__ import annotations

import pytest
from lean_replay.world import (
    DEFINITION,
    EXISTS,
    HEADER,
    INTEGRITY,
    NOT_A_PROPOSITION,
    PROPOSITION,
    PROVED,
    REFERENCE,
    ReplayWorld,
    answer,
    definition_candidate,
    fault,
    foo_candidate,
    recorded,
)

from leanfilter.backends.lean_repl import LeanReplBackend
from leanfilter.cache import MemoryCache
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Status, Verdict


def verify(rules: list[dict], proof: str) -> Verdict:
    return verify_file(rules, foo_candidate(proof))


def verify_file(rules: list[dict], candidate: Candidate) -> Verdict:
    backend = LeanReplBackend(ReplayWorld().repl_settings(rules))
    config = VerifierConfig(pool=PoolConfig(workers=1), timeout=30)
    with Verifier(config, backends={BackendName.LEAN: backend}) as verifier:
        (verdict,) = verifier.verify_all([candidate])
    return verdict


def test_a_proof_that_passes_every_check_is_proved() -> None:
    verdict = verify([HEADER, REFERENCE, EXISTS, INTEGRITY, PROVED], "\n  norm_num")
    assert verdict.status is Status.PROVED
    assert verdict.axioms == ["Classical.choice", "Quot.sound", "propext"]
    assert verdict.toolchain and verdict.backend is BackendName.LEAN


@pytest.mark.parametrize(
    ("audit", "reason"),
    [("axioms_sorry", "axiom.disallowed"), ("axioms_native", "axiom.disallowed")],
)
def test_an_axiom_outside_the_allowed_set_is_rejected(audit: str, reason: str) -> None:
    exists = answer(r"\A#print axioms _root_\.(\S+)\Z", audit)
    verdict = verify([HEADER, REFERENCE, exists, INTEGRITY, PROVED], "\n  norm_num")
    assert verdict.status is not Status.PROVED
    assert verdict.reason == reason


def test_a_sorry_the_prover_reports_fails_even_if_the_text_hides_it() -> None:
    sorry = recorded(r"\Atheorem foo", "tactic_sorry#0")
    verdict = verify([HEADER, REFERENCE, EXISTS, INTEGRITY, sorry], "\n  exact?")
    assert verdict.status is not Status.PROVED


def test_a_type_that_is_not_the_statement_is_rejected() -> None:
    mismatch = answer(r"theorem _root_\.(lf_chk_[0-9a-f]+) :", "integrity_mismatch")
    verdict = verify([HEADER, REFERENCE, EXISTS, mismatch, PROVED], "\n  norm_num")
    assert verdict.status is not Status.PROVED


def test_a_proof_that_exhausts_memory_fails_for_resources_and_is_never_cached() -> None:
    flood = fault(r"\Atheorem foo.*exhaust", "flood")
    backend = LeanReplBackend(
        ReplayWorld().repl_settings([HEADER, REFERENCE, flood, EXISTS, INTEGRITY, PROVED])
    )
    config = VerifierConfig(pool=PoolConfig(workers=1), timeout=60)
    with Verifier(config, backends={BackendName.LEAN: backend}, cache=MemoryCache()) as verifier:
        first, again, honest = (
            verifier.verify_all([foo_candidate(proof)])[0]
            for proof in ("\n  exhaust", "\n  exhaust", "\n  norm_num")
        )
    for verdict in (first, again):
        assert (verdict.status, verdict.reason) == (Status.FAILED, "resource.memory")
    assert not again.cached  # machine-dependent: checked again, never served from the cache
    assert honest.status is Status.PROVED  # on the session restarted after the death


def test_a_whole_file_naming_a_definition_fails_and_says_why() -> None:
    exists = answer(r"\A#print axioms _root_\.(\S+)\Z", "axioms_none")
    verdict = verify_file([HEADER, DEFINITION, exists, NOT_A_PROPOSITION], definition_candidate())
    assert (verdict.status, verdict.reason) == (Status.FAILED, "prover.error")
    assert verdict.detail.startswith(
        "`x` is no theorem: Lean refused it as a proof of a proposition: "
    )


def test_a_whole_file_naming_a_theorem_is_proved() -> None:
    verdict = verify_file([HEADER, EXISTS, PROPOSITION, PROVED], foo_candidate(statement=None))
    assert verdict.status is Status.PROVED
