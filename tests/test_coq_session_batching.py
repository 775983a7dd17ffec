"""One real coqtop session: when the audit batch is flushed, and the opening that shares the
candidate's write (its answers are read before anything the candidate prints)."""

from __future__ import annotations

import pytest

from leanfilter.backends.base import CheckRequest, HeaderError
from leanfilter.backends.coq import CoqBackend, CoqSession, CoqSettings
from leanfilter.records import BackendName, Candidate

pytestmark = pytest.mark.coq

HEADER = "Require Import Arith Lia."


def session(**settings: object) -> tuple[CoqBackend, CoqSession]:
    backend = CoqBackend(CoqSettings(**settings))
    return backend, backend.open_session(HEADER, 0)


def candidate(c: int, proof: str = "intros; lia.") -> Candidate:
    statement = f"Theorem t_{c} : forall n m : nat, n + m + {c} = {c} + m + n."
    return Candidate(
        name=f"t_{c}", backend=BackendName.COQ, header=HEADER, statement=statement, proof=proof
    )


def test_a_proof_waits_in_the_batch_until_its_delay_has_passed() -> None:
    backend, s = session(audit_batch=100, audit_delay_s=3600)
    try:
        requests = [backend.assemble(candidate(c), c) for c in range(3)]
        assert [s.check(r, 60) for r in requests] == [[], [], []]
        assert s.pending() == requests
        settled = s.flush(60)
        assert [r.tag for r, _ in settled] == [0, 1, 2]
        assert all(raw.axioms == [] and raw.integrity and raw.declared for _, raw in settled)
    finally:
        s.close()


def test_with_no_delay_every_proof_is_audited_by_the_check_that_found_it() -> None:
    backend, s = session(audit_batch=100, audit_delay_s=0)
    try:
        for c in range(3):
            request = backend.assemble(candidate(c), c)
            ((settled, raw),) = s.check(request, 60)
            assert settled is request
            assert raw.axioms == [] and raw.integrity
            assert s.pending() == []
    finally:
        s.close()


def test_a_full_batch_is_audited_at_once_and_a_failure_is_answered_at_once() -> None:
    """A plain failure beside loaded proofs is answered at once, the batch left to wait: a flood
    of failures must not pay an audit each."""
    backend, s = session(audit_batch=2, audit_delay_s=3600)
    try:
        first, wrong, second = (
            backend.assemble(candidate(0), 0),
            backend.assemble(candidate(1, "intros; reflexivity."), 1),
            backend.assemble(candidate(2), 2),
        )
        assert s.check(first, 60) == []
        ((failed, raw),) = s.check(wrong, 60)
        assert failed is wrong and raw.declared is False
        assert s.pending() == [first]
        assert [r for r, _ in s.check(second, 60)] == [first, second]
    finally:
        s.close()


# The first proof's Qed adds `Coq.Init.Logic.10 < eq.u0` to the global graph; the second proof
# needs the other order, so beside the first it fails with a universe inconsistency.
SETS_AN_ORDER = "let T := type of (@eq_rect nat 0) in pose (c := @eq_rect T). reflexivity."
NEEDS_THE_OTHER = "let T := type of (@eq) in pose (d := @eq_rect nat 0 (fun _ => T)). reflexivity."


@pytest.mark.parametrize(("statement", "proved"), [("2 + 2 = 4", True), ("2 + 2 = 5", False)])
def test_a_universe_inconsistency_beside_loaded_proofs_is_checked_again_alone(
    statement: str, proved: bool
) -> None:
    """The verdict of such a failure is the one the candidate gets alone, after the loaded batch
    was audited: a proof when it is one, still a failure when it is not."""
    backend, s = session(audit_batch=100, audit_delay_s=3600)
    try:
        first = backend.assemble(
            Candidate(
                name="sab",
                backend=BackendName.COQ,
                header=HEADER,
                statement="Theorem sab : 1 + 1 = 2.",
                proof=SETS_AN_ORDER,
            ),
            0,
        )
        second = backend.assemble(
            Candidate(
                name="vic",
                backend=BackendName.COQ,
                header=HEADER,
                statement=f"Theorem vic : {statement}.",
                proof=NEEDS_THE_OTHER,
            ),
            1,
        )
        assert s.check(first, 60) == []
        outcomes = s.check(second, 60)
        assert [r for r, _ in outcomes] == [first, second]
        assert outcomes[0][1].axioms == []
        assert (outcomes[1][1].axioms == []) is proved
        assert s.pending() == []
    finally:
        s.close()


def test_a_statement_that_does_not_elaborate_is_a_header_error_and_the_session_goes_on() -> None:
    backend, s = session()
    try:
        bad = backend.assemble(
            candidate(0).model_copy(update={"statement": "Theorem u : nope."}), 0
        )
        with pytest.raises(HeaderError, match="does not elaborate"):
            s.check(bad, 60)
        good = backend.assemble(candidate(1), 1)
        s.check(good, 60)
        ((request, raw),) = s.flush(60)
        assert request is good and raw.integrity and raw.axioms == []
    finally:
        s.close()


def test_the_batch_audited_before_a_file_whose_statement_fails_is_still_given() -> None:
    backend, s = session(audit_batch=100, audit_delay_s=3600)
    try:
        first = backend.assemble(candidate(0), 0)
        assert s.check(first, 60) == []
        file = CheckRequest(
            tag=1,
            theorem="u",
            body="Theorem u : nope.\nAbort.\n",
            statement="nope",
            batch_audit=False,
        )
        with pytest.raises(HeaderError, match="does not elaborate"):
            s.check(file, 60)
        assert s.pending() == [first]
        ((request, raw),) = s.flush(60)
        assert request is first and raw.integrity and raw.axioms == []
    finally:
        s.close()


def test_a_failure_beside_proofs_whose_universes_order_nothing_new_is_answered_at_once() -> None:
    """A statement over `Type` gives the loaded proof fresh universes of its own (above `Set`,
    below `eq` and `list`), which order no two of the header's universes anew: a failure beside
    it owes it nothing and is answered at once, the batch left to wait."""

    def over_types(c: int, proof: str) -> Candidate:
        statement = f"Theorem ty_{c} : forall (A : Type) (l : list A), l = l /\\ {c} + 0 = {c}."
        return Candidate(
            name=f"ty_{c}", backend=BackendName.COQ, header=HEADER, statement=statement, proof=proof
        )

    backend, s = session(audit_batch=100, audit_delay_s=3600)
    try:
        first = backend.assemble(over_types(0, "intros; split; [reflexivity | lia]."), 0)
        wrong = backend.assemble(over_types(1, "intros; split; [reflexivity | exact I]."), 1)
        assert s.check(first, 60) == []
        ((failed, raw),) = s.check(wrong, 60)
        assert failed is wrong and raw.declared is False
        assert s.pending() == [first]
    finally:
        s.close()
