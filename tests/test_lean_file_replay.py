"""LeanFileBackend against the `lean --json` replay double (tests/lean_replay/replay_lean_json.py).

The double is not Lean (its message format is hand-written after Lean's, see its docstring);
what runs for real is the backend: one sandboxed process per check fed on stdin, reading to
the end of output, exit codes, and attributing each message to the part of the file it is in.
"""

from __future__ import annotations

import pytest
from lean_replay.world import (
    EXISTS,
    HEADER,
    HEADER_TEXT,
    INTEGRITY,
    REFERENCE,
    STATEMENT,
    ReplayWorld,
    definition_candidate,
    foo_candidate,
)

from leanfilter.backends.base import CheckRequest, HeaderError, ProverCrashed, ProverTimeout
from leanfilter.backends.lean_file import FileLayout, LeanFileBackend
from leanfilter.backends.lean_repl import LeanReplBackend
from leanfilter.records import Position, Severity

AXIOMS = {
    "match": r"^#print axioms _root_\.(\S+)$",
    "severity": "information",
    "data": "'$1' depends on axioms: [propext, Classical.choice, Quot.sound]",
}
REFERENCE_SORRY = {
    "match": r"^theorem lf_ref_\w+",
    "severity": "warning",
    "kind": "hasSorry",
    "data": "declaration uses `sorry`",
}


@pytest.fixture
def world() -> ReplayWorld:
    return ReplayWorld()


def request(proof: str = "\n  norm_num", statement: str | None = STATEMENT) -> CheckRequest:
    return LeanFileBackend().assemble(foo_candidate(proof, statement), tag=3)


def check(world: ReplayWorld, rules: list[dict], req: CheckRequest, **sandbox: object):
    session = LeanFileBackend(world.file_settings(rules, **sandbox)).open_session(HEADER_TEXT, 0)
    try:
        [(echoed, raw)] = session.check(req, timeout=30)
        assert echoed is req
        assert session.rss_mb() == 0  # the process is gone after each check
        return raw
    finally:
        session.close()


def test_a_proof_that_passes_every_check(world):
    raw = check(world, [AXIOMS, REFERENCE_SORRY], request())
    assert raw.declared is True
    assert raw.integrity is True
    assert raw.axioms == ["Classical.choice", "Quot.sound", "propext"]
    assert raw.messages == [] and raw.sorries == 0  # the reference's own sorry is not the body's
    assert raw.time_s > 0


def test_a_sorry_in_the_body_is_counted_at_body_positions(world):
    sorry = {**REFERENCE_SORRY, "match": r"^theorem foo"}
    raw = check(world, [AXIOMS, REFERENCE_SORRY, sorry], request("\n  sorry"))
    assert raw.sorries == 1
    [warning] = raw.messages
    assert warning.severity is Severity.WARNING
    assert warning.pos == Position(line=1, column=0)


def test_an_integrity_error_fails_integrity(world):
    mismatch = {"match": r"^theorem _root_\.lf_chk_\w+", "severity": "error", "data": "mismatch"}
    raw = check(world, [AXIOMS, mismatch], request())
    assert raw.declared is True
    assert raw.integrity is False


def test_exit_in_the_candidate_hides_the_audit_so_nothing_is_declared(world):
    raw = check(world, [AXIOMS, REFERENCE_SORRY], request("\n  norm_num\n#exit"))
    assert raw.declared is False
    assert raw.integrity is False
    assert raw.axioms is None


def test_header_errors_raise_header_error(world):
    bad = {"match": r"^import Mathlib", "severity": "error", "data": "unknown module prefix"}
    with pytest.raises(HeaderError, match="unknown module prefix"):
        check(world, [bad, AXIOMS], request())


def test_a_broken_reference_statement_is_reported_not_blamed_on_the_proof(world):
    broken = {"match": r"^theorem lf_ref_\w+", "severity": "error", "data": "unknown identifier"}
    raw = check(world, [broken, AXIOMS], request())
    assert raw.integrity is False and raw.declared is False
    assert "trusted statement does not elaborate" in raw.messages[0].text


@pytest.mark.parametrize(
    ("kind", "error"),
    [("hang", ProverTimeout), ("abort", ProverCrashed), ("garbage", ProverCrashed)],
)
def test_faults_end_in_engine_errors(world, kind, error):
    session = LeanFileBackend(
        world.file_settings([{"match": r"^theorem foo", "fault": kind}])
    ).open_session(HEADER_TEXT, 0)
    with pytest.raises(error):
        session.check(request(), timeout=2)
    assert session.rss_mb() == 0


@pytest.mark.parametrize(("kind", "resource"), [("flood", "memory"), ("stack", "stack")])
def test_lean_dying_of_exhaustion_fails_the_candidate(world, kind, resource):
    rules = [REFERENCE_SORRY, {"match": r"^theorem foo", "fault": kind}, AXIOMS]
    raw = check(world, rules, request(), memory_mb=512)
    assert raw.exhausted == resource
    assert raw.declared is False and raw.messages[0].severity is Severity.ERROR


def test_layout_attributes_lines_to_parts():
    layout = (
        FileLayout()
        .add("header", "import Mathlib\n\nset_option maxHeartbeats 400\n")
        .add("body", "theorem foo : True := by\n  trivial")
        .add("exists", "#print axioms _root_.foo")
    )
    assert layout.text.splitlines()[layout.first_line("body") - 1] == "theorem foo : True := by"
    assert [layout.part_of(n) for n in (1, 3, 4, 5, 6, 7, 8, 99)] == [
        "header",
        "header",
        "header",
        "body",
        "body",
        "body",
        "exists",
        "exists",
    ]


def test_file_mode_and_repl_agree_on_positions_and_audit(world):
    """The cross-check: the same error, reported by each protocol, reads the same."""
    req = request("\n  norm_num\n  rfl")
    file_error = {"match": r"^  rfl$", "severity": "error", "data": "no goals to be proved"}
    file_raw = check(world, [AXIOMS, REFERENCE_SORRY, file_error], req)
    repl_error = {
        "match": r"\Atheorem foo",
        "answer": '{"messages":\n [{"severity": "error",\n   "pos": {"line": 3, "column": 0},\n'
        '   "endPos": {"line": 3, "column": 5},\n   "data": "no goals to be proved"}],\n'
        ' "env": $ENV}',
    }
    repl = LeanReplBackend(world.repl_settings([HEADER, REFERENCE, EXISTS, INTEGRITY, repl_error]))
    session = repl.open_session(HEADER_TEXT, 0)
    try:
        [(_, repl_raw)] = session.check(req, timeout=30)
    finally:
        session.close()
    assert [m.pos for m in file_raw.messages] == [m.pos for m in repl_raw.messages]
    assert [m.severity for m in file_raw.messages] == [m.severity for m in repl_raw.messages]
    for field in ("declared", "integrity", "axioms", "sorries"):
        assert getattr(file_raw, field) == getattr(repl_raw, field), field


# -- without a statement, the named constant must prove a proposition ------------------------

DEFINITION_ACCEPTED = {"match": r"^def x := 0$", "severity": "information", "data": "x : Nat"}
NOT_A_PROPOSITION = {
    "match": r"^theorem _root_\.(lf_chk_\w+) : type_of% @_root_\.x :=",
    "severity": "error",
    "data": "type of theorem '$1' is not a proposition\n  Nat",
}
EXISTS_ONLY = {**AXIOMS, "match": r"^#print axioms _root_\.(x)$"}


def definition_request() -> CheckRequest:
    return LeanFileBackend().assemble(definition_candidate(), tag=4)


def test_a_whole_file_naming_a_definition_is_not_declared_as_a_theorem(world):
    raw = check(world, [DEFINITION_ACCEPTED, AXIOMS, NOT_A_PROPOSITION], definition_request())
    assert raw.declared is False and raw.axioms is None
    refusal = raw.messages[-1]
    assert refusal.severity is Severity.ERROR
    assert refusal.text.startswith(
        "`x` is no theorem: Lean refused it as a proof of a proposition: "
    )
    assert "type of theorem 'lf_chk_" in refusal.text


def test_a_whole_file_naming_a_theorem_passes_the_proposition_check(world):
    raw = check(world, [AXIOMS], request(statement=None))
    assert raw.declared is True and raw.integrity is None
    assert raw.messages == []
    assert raw.axioms == ["Classical.choice", "Quot.sound", "propext"]


@pytest.mark.parametrize(
    "rules",
    [
        # the candidate's constant audited where the check's answer should be
        [EXISTS_ONLY, {**AXIOMS, "match": r"^theorem _root_\.lf_chk_\w+ : type_of% @_root_\.(x)"}],
        [EXISTS_ONLY],  # no answer about the check at all
    ],
    ids=["forged", "missing"],
)
def test_a_proposition_check_without_its_own_audit_answer_is_no_theorem(world, rules):
    raw = check(world, rules, definition_request())
    assert raw.declared is False
    assert "`x` is not shown to be a theorem" in raw.messages[-1].text
