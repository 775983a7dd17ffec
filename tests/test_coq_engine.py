"""The engine end to end against real coqtop processes: verdicts, timeouts, crashes, recycling."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from leanfilter.backends.coq import CoqBackend, CoqSettings
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.policy import BasicPolicy, Policy
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Status
from leanfilter.sandbox import SandboxConfig

pytestmark = pytest.mark.coq

ARITH = "Require Import Arith Lia.\n"
COMM = "Theorem add_comm' : forall n m : nat, n + m = m + n."
SLOW_TACTIC = "do 1000000000 idtac."  # minutes of work, no memory


def cand(proof: str, statement: str = COMM, header: str = ARITH, **kw: object) -> Candidate:
    name = statement.split()[1].rstrip(":")
    return Candidate(
        name=name, backend=BackendName.COQ, header=header, statement=statement, proof=proof, **kw
    )


def verifier(
    workers: int = 1, timeout: float | None = None, policy: Policy | None = None, **settings: object
) -> Verifier:
    backend = CoqBackend(CoqSettings(**settings))
    config = VerifierConfig(pool=PoolConfig(workers=workers), timeout=timeout)
    return Verifier(config, backends={BackendName.COQ: backend}, policy=policy)


def test_correct_and_wrong_proofs() -> None:
    with verifier() as v:
        good, wrong, partial = v.verify_all(
            [cand("intros. lia."), cand("intros. reflexivity."), cand("intros n m.")]
        )
    assert good.status is Status.PROVED
    assert good.axioms == []
    assert wrong.status is Status.FAILED
    assert "Unable to unify" in wrong.detail
    assert partial.status is Status.FAILED
    for verdict in (good, wrong):
        assert verdict.backend is BackendName.COQ
        assert verdict.toolchain and verdict.toolchain.startswith("coq-8.")
        assert verdict.header_hash and verdict.policy_version and verdict.key


def test_a_statement_with_implicit_binders_is_checked_against_its_whole_type() -> None:
    """With its implicit argument inserted, `refl` has type `forall x : ?A, x = x`."""
    implicit = "Theorem refl {A : Type} (x : A) : x = x."
    with verifier() as v:
        (verdict,) = v.verify_all([cand("reflexivity.", statement=implicit, header="")])
    assert verdict.status is Status.PROVED, verdict


def test_error_positions_point_into_the_checked_text() -> None:
    with verifier() as v:
        (verdict,) = v.verify_all([cand("intros.\n  simpl.\n  exact I.")])
    error = next(m for m in verdict.messages if m.severity.value == "error")
    assert error.pos is not None
    # lines: statement, Proof., intros., simpl., exact I. -- Coq points at the term `I`
    assert (error.pos.line, error.pos.column) == (5, 8)


def test_loop_times_out_and_the_pool_keeps_serving() -> None:
    with verifier(timeout=2) as v:
        looping, after = v.verify_all([cand(f"intros. {SLOW_TACTIC}"), cand("intros; lia.")])
    assert looping.status is Status.TIMEOUT
    assert after.status is Status.PROVED


def test_a_coqtop_killed_mid_proof_is_restarted_and_nothing_is_lost() -> None:
    slow = cand("intros. do 3000000 idtac. lia.")
    with verifier(timeout=60) as v:
        killer = threading.Thread(target=_kill_first_busy_coqtop, daemon=True)
        killer.start()
        verdicts = v.verify_all([slow, cand("intros; lia."), cand("intros. reflexivity.")])
        killer.join()
    assert _kill_first_busy_coqtop.killed, "the test did not manage to kill coqtop mid-proof"
    assert [x.status for x in verdicts] == [Status.PROVED, Status.PROVED, Status.FAILED]


def _kill_first_busy_coqtop() -> None:
    _kill_first_busy_coqtop.killed = False  # type: ignore[attr-defined]
    time.sleep(1.0)  # past the header: the slow tactic is running
    deadline = time.monotonic() + 30
    me = psutil.Process()
    while time.monotonic() < deadline:
        for p in me.children(recursive=True):
            try:
                if p.name() == "coqtop" and p.cpu_percent(interval=0.2) > 50:
                    p.kill()
                    _kill_first_busy_coqtop.killed = True  # type: ignore[attr-defined]
                    return
            except psutil.Error:
                continue


def test_header_that_does_not_load_is_an_error_not_a_failure() -> None:
    with verifier() as v:
        (verdict,) = v.verify_all([cand("intros; lia.", header="Require Import NoSuchLibrary.\n")])
    assert verdict.status is Status.ERROR
    assert verdict.reason == "input.header"


def test_a_disallowed_axiom_in_a_batch_is_found_and_the_rest_still_pass() -> None:
    header = ARITH + "Axiom cheat : forall P : Prop, P.\n"
    batch = [
        cand("intros; lia.", header=header),
        cand("intros. apply cheat.", header=header),
        cand("intros n m. lia.", header=header),
    ]
    with verifier(audit_batch=8) as v:
        verdicts = v.verify_all(batch)
    assert [x.status for x in verdicts] == [Status.PROVED, Status.REJECTED, Status.PROVED]
    assert verdicts[1].reason == "axiom.disallowed"
    assert any(a.endswith(".cheat") for a in verdicts[1].axioms)


def test_sessions_are_recycled_and_verdicts_do_not_change() -> None:
    proofs = ["intros; lia.", "intros. reflexivity.", "intros n m. lia."] * 3
    with verifier() as v:
        reference = [x.status for x in v.verify_all([cand(p) for p in proofs])]
    with Verifier(
        VerifierConfig(pool=PoolConfig(workers=1, max_checks=2)),
        backends={BackendName.COQ: CoqBackend()},
    ) as v:
        again = [x.status for x in v.verify_all([cand(p) for p in proofs])]
    assert again == reference


@pytest.mark.parametrize(
    "bomb",
    [
        # Coq reports "Out of memory" and survives (broken: the session restarts it)
        "intros. assert (Nat.pow 2 28 = 0) by (vm_compute; reflexivity). lia.",
        # OCaml dies with "Fatal error: out of memory"
        "intros. pose (l := List.repeat tt 100000000). vm_compute in l. lia.",
    ],
    ids=["reported", "fatal"],
)
def test_memory_exhaustion_fails_the_candidate_and_the_next_one_passes(bomb: str) -> None:
    # The basic policy lets the VM run: the point is what memory exhaustion does to the engine.
    limits = SandboxConfig(memory_mb=1536, nproc=1)
    with verifier(policy=BasicPolicy(), sandbox=limits) as v:
        blown, fine = v.verify_all([cand(bomb), cand("intros; lia.")])
        (again,) = v.verify_all([cand(bomb)])
    assert blown.status is Status.FAILED
    assert blown.reason == "resource.memory"
    assert "Out of memory" in blown.detail
    assert fine.status is Status.PROVED
    assert not again.cached  # the memory limit is not in the cache key: checked again


def test_identical_candidates_are_checked_once() -> None:
    with verifier() as v:
        first, second = v.verify_all([cand("intros; lia."), cand("intros;   lia.")])
    assert first.status is second.status is Status.PROVED
    assert not first.cached
    assert second.cached


FORGED_AXIOM = (
    "Axiom cheat : forall Closed under the global context : Prop,"
    " Closed -> under -> the -> global -> context -> False.\n"
)
USE_FORGED = "intros. exfalso. apply (cheat True True True True True); exact I."


def test_an_axiom_cannot_forge_its_own_audit() -> None:
    with verifier(policy=BasicPolicy()) as v:
        (verdict,) = v.verify_all([cand(USE_FORGED, header=ARITH + FORGED_AXIOM)])
    assert verdict.status is Status.REJECTED
    assert verdict.reason == "axiom.disallowed"
    assert any(a.endswith(".cheat") for a in verdict.axioms)


def test_a_forged_audit_in_a_batch_clears_no_other_member() -> None:
    header = ARITH + FORGED_AXIOM + "Axiom cheat2 : False.\n"
    batch = [
        cand(USE_FORGED, header=header),
        cand("intros. destruct cheat2.", header=header),
        cand("intros; lia.", header=header),
    ]
    with verifier(audit_batch=8, policy=BasicPolicy()) as v:
        verdicts = v.verify_all(batch)
    assert [x.status for x in verdicts] == [Status.REJECTED, Status.REJECTED, Status.PROVED]
    assert any(a.endswith(".cheat2") for a in verdicts[1].axioms)


def test_where_coq_and_the_splitter_end_sentences_differently_the_candidate_is_rejected() -> None:
    # A notation token ending in `.` swallows the sentence end the splitter sees.
    notation = "Notation \"x '+++.' y\" := (x + y) (at level 50).\n"
    proof = "intros. assert (H : 1 +++. 1 = 2) by reflexivity. lia."
    file = f"{notation}{COMM}\nProof. {proof} Qed."
    with verifier(policy=BasicPolicy()) as v:
        odd, honest = v.verify_all([cand(file, whole_file=True), cand("intros; lia.")])
    assert (odd.status, odd.reason) == (Status.REJECTED, "sentences.disagree")
    assert honest.status is Status.PROVED


def test_an_answer_above_the_output_cap_fails_the_candidate_and_the_next_one_passes() -> None:
    flood = 'intros. do 400 idtac "' + "x" * 50_000 + '". lia.'
    limits = SandboxConfig(memory_mb=3072, nproc=1, output_mb=4)
    with verifier(policy=BasicPolicy(), sandbox=limits) as v:
        blown, fine = v.verify_all([cand(flood), cand("intros; lia.")])
    assert (blown.status, blown.reason) == (Status.FAILED, "output.too_large")
    assert fine.status is Status.PROVED
