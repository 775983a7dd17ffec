"""LeanReplBackend against the REPL replay double (tests/lean_replay/replay_repl.py).

The double is not Lean: it replays answers the real REPL recorded in its own test suite, plus
hand-written answers for the audit commands (labelled in tests/lean_replay/handwritten.json).
What runs for real is the backend: its processes in the sandbox, framing, parsing, deadlines
and kills. Tests against real Lean are in test_lean_real.py.
"""

from __future__ import annotations

import time

import pytest
from lean_replay.world import (
    EXISTS,
    HEADER,
    HEADER_TEXT,
    INTEGRITY,
    PROVED,
    REFERENCE,
    STATEMENT,
    ReplayWorld,
    answer,
    fault,
    foo_candidate,
    recorded,
)

from leanfilter.backends.base import (
    CheckRequest,
    HeaderError,
    ProverCrashed,
    ProverTimeout,
    Session,
)
from leanfilter.backends.lean_repl import LeanReplBackend
from leanfilter.records import Severity


@pytest.fixture
def world() -> ReplayWorld:
    return ReplayWorld()


def request(proof: str = "\n  norm_num", statement: str | None = STATEMENT) -> CheckRequest:
    return LeanReplBackend().assemble(foo_candidate(proof, statement), tag=7)


def open_session(world: ReplayWorld, rules: list[dict], **sandbox: object) -> Session:
    backend = LeanReplBackend(world.repl_settings(rules, **sandbox))
    return backend.open_session(HEADER_TEXT, slot=0)


def check_one(session: Session, req: CheckRequest, timeout: float = 30.0):
    outcomes = session.check(req, timeout)
    assert [r.tag for r, _ in outcomes] == [req.tag]
    return outcomes[0][1]


def test_a_proof_that_passes_every_check(world):
    session = open_session(world, [HEADER, REFERENCE, EXISTS, INTEGRITY, PROVED])
    try:
        assert isinstance(session, Session)
        raw = check_one(session, request())
        assert raw.declared is True
        assert raw.integrity is True
        assert raw.axioms == ["Classical.choice", "Quot.sound", "propext"]
        assert raw.sorries == 0
        assert raw.messages == []
        assert raw.time_s > 0
        assert raw.peak_rss_mb is not None and raw.peak_rss_mb > 0
        assert session.checks == 1
        assert session.rss_mb() > 0
        assert session.flush(1.0) == [] and session.pending() == []
    finally:
        session.close()


def test_recorded_sorry_answer_is_reported(world):
    rules = [HEADER, REFERENCE, EXISTS, INTEGRITY, recorded(r"\Atheorem foo", "tactic_sorry#0")]
    session = open_session(world, rules)
    try:
        raw = check_one(session, request("\n  sorry"))
        assert raw.sorries == 1
        [warning] = raw.messages
        assert warning.severity is Severity.WARNING
        assert "declaration uses" in warning.text
        assert (warning.pos.line, warning.pos.column) == (1, 4)
    finally:
        session.close()


def test_recorded_errors_keep_severity_and_positions(world):
    rules = [HEADER, REFERENCE, EXISTS, INTEGRITY, recorded(r"\Atheorem foo", "incomplete#1")]
    session = open_session(world, rules)
    try:
        raw = check_one(session, request("\n  by_cases x"))
        assert [m.severity for m in raw.messages] == [Severity.ERROR, Severity.ERROR]
        assert raw.messages[0].text.startswith("unsolved goals\ncase pos")
        assert (raw.messages[1].end_pos.line, raw.messages[1].end_pos.column) == (3, 20)
    finally:
        session.close()


def test_a_theorem_that_never_reached_the_environment_is_not_declared(world):
    missing = answer(r"\A#print axioms _root_\.(\S+)\Z", "unknown_constant")
    rules = [HEADER, REFERENCE, missing, fault(r"lf_chk_", "crash"), PROVED]
    session = open_session(world, rules)
    try:
        raw = check_one(session, request())
        assert raw.declared is False
        assert raw.integrity is False
        assert raw.axioms is None
    finally:
        session.close()


def test_a_statement_mismatch_fails_integrity(world):
    mismatch = answer(r"theorem _root_\.(lf_chk_[0-9a-f]+) :", "integrity_mismatch")
    session = open_session(world, [HEADER, REFERENCE, EXISTS, mismatch, PROVED])
    try:
        raw = check_one(session, request())
        assert raw.declared is True
        assert raw.integrity is False
        assert "sorryAx" in raw.axioms
    finally:
        session.close()


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("axioms_none", []),
        ("axioms_sorry", ["sorryAx"]),
        ("axioms_native", ["Lean.ofReduceBool", "propext"]),
        (
            "axioms_wrapped",
            [
                "Classical.choice",
                "Lean.ofReduceBool",
                "Lean.trustCompiler",
                "Quot.sound",
                "leanfilter_test_axiom_with_a_rather_long_name",
                "propext",
                "sorryAx",
            ],
        ),
    ],
)
def test_axiom_audit_answers_are_read_whole(world, key, expected):
    exists = answer(r"\A#print axioms _root_\.(\S+)\Z", key)
    session = open_session(world, [HEADER, exists, PROVED])
    try:
        raw = check_one(session, request(statement=None))
        assert raw.declared is True
        assert raw.integrity is None
        assert raw.axioms == expected
    finally:
        session.close()


def test_the_reference_statement_is_elaborated_once_per_session(world):
    once = {**REFERENCE, "limit": 1}
    rules = [HEADER, once, fault(r"\Atheorem lf_ref_", "crash"), EXISTS, INTEGRITY, PROVED]
    session = open_session(world, rules)
    try:
        for _ in range(3):
            assert check_one(session, request()).integrity is True
        assert session.checks == 3
    finally:
        session.close()


def test_a_statement_that_does_not_elaborate_never_runs_the_candidate(world):
    broken = recorded(r"\Atheorem lf_ref_", "dup_msg#2")
    rules = [HEADER, broken, fault(r"\Atheorem foo", "crash"), EXISTS, INTEGRITY]
    session = open_session(world, rules)
    try:
        raw = check_one(session, request())
        assert raw.declared is False and raw.integrity is False
        [message] = raw.messages
        assert message.severity is Severity.ERROR
        assert "trusted statement does not elaborate" in message.text
    finally:
        session.close()


def test_a_repl_level_error_answer_is_an_error_message(world):
    rules = [HEADER, recorded(r"\Atheorem foo", "self_proof_check#2")]
    session = open_session(world, rules)
    try:
        raw = check_one(session, request(statement=None))
        assert raw.declared is False
        assert raw.messages[0].severity is Severity.ERROR
        assert "exact?" in raw.messages[0].text
    finally:
        session.close()


def test_a_header_with_errors_raises_header_error(world):
    bad_header = answer(r"\Aimport", "header_error")
    with pytest.raises(HeaderError, match="unknown module prefix"):
        open_session(world, [bad_header])


def test_a_hanging_repl_times_out_and_a_new_session_serves(world):
    rules = [HEADER, REFERENCE, fault(r"\Atheorem foo", "hang")]
    session = open_session(world, rules)
    started = time.monotonic()
    with pytest.raises(ProverTimeout):
        session.check(request(), timeout=1.5)
    assert time.monotonic() - started < 10
    assert session.rss_mb() == 0  # the whole tree is gone
    replacement = open_session(world, [HEADER, REFERENCE, EXISTS, INTEGRITY, PROVED])
    try:
        assert check_one(replacement, request()).integrity is True
    finally:
        replacement.close()


@pytest.mark.parametrize("kind", ["crash", "garbage"])
def test_a_repl_that_dies_or_babbles_mid_proof_is_a_crash(world, kind):
    session = open_session(world, [HEADER, REFERENCE, fault(r"\Atheorem foo", kind)])
    with pytest.raises(ProverCrashed):
        session.check(request(), timeout=30)
    assert session.rss_mb() == 0


@pytest.mark.parametrize(("kind", "resource"), [("flood", "memory"), ("stack", "stack")])
def test_lean_dying_of_exhaustion_fails_the_candidate_and_the_session_restarts(
    world, kind, resource
):
    """The runtime's last words on stderr say the candidate exhausted memory or stack: a
    verdict, not a crash to retry. The session comes back with the header for the next one."""
    dying = fault(r"\Atheorem foo.*exhaust", kind)
    rules = [HEADER, REFERENCE, dying, EXISTS, INTEGRITY, PROVED]
    session = open_session(world, rules, memory_mb=512)
    try:
        raw = check_one(session, request("\n  exhaust"), timeout=60)
        assert raw.exhausted == resource
        assert raw.declared is False and raw.messages[0].severity is Severity.ERROR
        assert check_one(session, request()).integrity is True
    finally:
        session.close()


def test_a_death_without_lean_s_last_words_stays_a_crash(world):
    session = open_session(world, [HEADER, REFERENCE, fault(r"\Atheorem foo", "crash")])
    with pytest.raises(ProverCrashed):
        session.check(request(), timeout=30)


def test_endless_output_is_cut_at_the_output_limit(world):
    session = open_session(world, [HEADER, fault(r"\Atheorem foo", "spew")], output_mb=2)
    with pytest.raises(ProverCrashed, match="exceeded"):
        session.check(request(statement=None), timeout=60)


def test_a_forged_answer_puts_the_stream_out_of_step_and_is_caught(world):
    forged = {**PROVED, "prefix": '{"env": $ENV}\n\n'}
    session = open_session(world, [HEADER, REFERENCE, EXISTS, INTEGRITY, forged])
    with pytest.raises(ProverCrashed, match="out of step"):
        session.check(request(), timeout=30)
