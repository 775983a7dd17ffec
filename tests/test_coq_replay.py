"""Replay (`verify --replay`): accepted Coq proofs compiled again by real coqc in a fresh jail and
re-checked by real coqchk. The session that lies (tests/doubles/lying_prover.py) is fault
injection: it shows what replay catches when the checking session is wrong."""

from __future__ import annotations

import threading
import time

import pytest
from doubles.lying_prover import LyingCoqBackend

from leanfilter.backends import coq_replay
from leanfilter.backends.base import ProverCrashed, ReplayResult
from leanfilter.backends.coq import CoqBackend
from leanfilter.backends.coq_replay import judge_output, summary_sections
from leanfilter.cache import MemoryCache
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.policy import PolicyConfig, StrictPolicy
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Status, Verdict

pytestmark = pytest.mark.coq

ARITH = "Require Import Arith.\n"
STATEMENT = "Theorem plus_zero : forall n : nat, n + 0 = n."
HONEST = "intros n. induction n; simpl; auto."
SLOW = "do 1000000000 idtac. intros n. induction n; simpl; auto."


def cand(proof: str, statement: str | None = STATEMENT, whole_file: bool = False) -> Candidate:
    return Candidate(
        name="plus_zero",
        backend=BackendName.COQ,
        header=ARITH,
        statement=statement,
        proof=proof,
        whole_file=whole_file,
    )


def replayed_together(candidates: list[Candidate], timeout: float = 60) -> list[ReplayResult]:
    backend = CoqBackend()
    requests = [backend.assemble(c, i) for i, c in enumerate(candidates)]
    return backend.replay(ARITH, requests, timeout, slot=7)


def replayed(candidate: Candidate, timeout: float = 60) -> ReplayResult:
    (result,) = replayed_together([candidate], timeout)
    return result


def verify(
    proofs: list[str], *, replay: bool = True, lying: bool = True, timeout: float = 60
) -> list[Verdict]:
    backend = LyingCoqBackend() if lying else CoqBackend()
    config = VerifierConfig(pool=PoolConfig(workers=2), timeout=timeout, replay=replay)
    bare = StrictPolicy(PolicyConfig(text_rules=False))  # the prover layer alone
    with Verifier(config, backends={BackendName.COQ: backend}, policy=bare) as verifier:
        return verifier.verify_all(cand(p) for p in proofs)


# -- the replay itself, with real coqc and coqchk --------------------------------------------


def test_an_honest_proof_replays() -> None:
    result = replayed(cand(HONEST))
    assert result.outcome == "confirmed", result.detail
    assert result.time_s > 0


FILE_STATEMENT = "Theorem plus_zero : forall n : nat, n + 0 = n"
FILE_DEFINITION = "Definition plus_zero : forall n : nat, n + 0 = n"


@pytest.mark.parametrize(
    ("candidate", "why"),
    [
        (cand("intros n. reflexivity."), "coqc rejects"),  # does not check at all
        (cand(f"{FILE_STATEMENT}.\nAdmitted.", whole_file=True), "declares axioms"),
        (
            cand(
                "Unset Guard Checking.\nFixpoint f (n : nat) : n + 0 = n := f n.\n"
                f"Set Guard Checking.\n{FILE_DEFINITION} := f.",
                whole_file=True,
            ),
            "unsafe (co)fixpoints",
        ),
        (
            cand(
                f"Axiom cheat : forall n : nat, n + 0 = n.\n{FILE_DEFINITION} := cheat.", None, True
            ),
            "declares axioms",
        ),
    ],
    ids=["wrong", "admitted", "unguarded", "axiom"],
)
def test_what_the_kernel_checker_refuses(candidate: Candidate, why: str) -> None:
    result = replayed(candidate)
    assert result.outcome == "rejected"
    assert why in result.detail


def test_coqc_elaborates_with_the_sessions_flags() -> None:
    """The sessions run with the native compiler off (native_compute falls back to the VM);
    so does the replay, or coqc would try to start the OCaml compiler inside the jail."""
    native = SQUARES[3].model_copy(update={"proof": "native_compute. reflexivity."})
    result = replayed(native)
    assert result.outcome == "confirmed", result.detail


def test_a_theorem_of_another_type_fails_the_integrity_definition() -> None:
    other = "Theorem plus_zero : forall n : nat, 0 + n = n.\nProof. reflexivity. Qed."
    result = replayed(cand(other, whole_file=True))
    assert result.outcome == "rejected" and "coqc rejects" in result.detail


def test_a_whole_file_without_its_theorem_fails() -> None:
    result = replayed(cand("Lemma other : True. Proof. exact I. Qed.", None, whole_file=True))
    assert result.outcome == "rejected" and "plus_zero" in result.detail


SQUARES = [
    Candidate(
        name=f"sq{k}",
        backend=BackendName.COQ,
        header=ARITH,
        statement=f"Theorem sq{k} : {k} * {k} = {k * k}.",
        proof="reflexivity.",
    )
    for k in range(6)
]


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the replay jails started."""
    started: list[int] = []

    class Counted(coq_replay.JailedProcess):
        def __init__(self, *args: object, **kwargs: object) -> None:
            started.append(1)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(coq_replay, "JailedProcess", Counted)
    return started


def test_proofs_replayed_together_share_one_compilation(launches: list[int]) -> None:
    together = replayed_together(SQUARES)
    assert [r.outcome for r in together] == ["confirmed"] * len(SQUARES)
    assert len(launches) == 1


def test_one_bad_proof_in_a_batch_is_found_alone_and_spares_the_others(
    launches: list[int],
) -> None:
    bad = SQUARES[2].model_copy(update={"proof": "exact I."})
    results = replayed_together([*SQUARES[:2], bad, *SQUARES[3:]])
    assert [r.outcome for r in results] == ["confirmed"] * 2 + ["rejected"] + ["confirmed"] * 3
    assert len(launches) == 1 + len(SQUARES)  # the batch, then each alone


# -- coqchk's report, read strictly ----------------------------------------------------------

REPORT_LINES = """
CONTEXT SUMMARY
===============

* Theory: Set is predicative

* Axioms:
    Coq.Logic.Classical_Prop.classic
    LfReplay.lf_replay.lf_m_1.cheat

* Constants/Inductives relying on type-in-type: <none>

* Constants/Inductives relying on unsafe (co)fixpoints: <none>

* Inductives whose positivity is assumed: <none>

"""
REPORT = REPORT_LINES.replace("\n\n", "\n  \n")  # coqchk indents its blank lines


def test_the_summary_is_read_section_by_section() -> None:
    sections = summary_sections(REPORT)
    assert sections is not None
    assert sections["Theory"] == ["Set is predicative"]
    assert sections["Axioms"] == [
        "Coq.Logic.Classical_Prop.classic",
        "LfReplay.lf_replay.lf_m_1.cheat",
    ]
    assert sections["Constants/Inductives relying on type-in-type"] == []


def test_only_the_script_s_own_last_marker_counts() -> None:
    forged = "m coqchk 0\n" + REPORT.replace("    LfReplay.lf_replay.lf_m_1.cheat\n", "")
    assert judge_output(forged + "m coqchk 0\n", "m").outcome == "confirmed"
    assert judge_output(REPORT + "m coqchk 0\n", "m").outcome == "rejected"  # its own axiom
    assert judge_output(forged + "m coqchk 1\n", "m").outcome == "rejected"
    impredicative = forged.replace("Set is predicative", "Set is impredicative")
    assert judge_output(impredicative + "m coqchk 0\n", "m").outcome == "rejected"
    with pytest.raises(ProverCrashed):
        judge_output(REPORT, "m")  # killed before its marker: no opinion
    assert judge_output("Killed\nm coqc 137\n", "m").outcome == "crashed"
    assert judge_output("Error: Out of memory.\nm coqc 1\n", "m").outcome == "crashed"
    assert judge_output("Error: no proof.\nm coqc 1\n", "m").outcome == "rejected"


# -- through the engine ----------------------------------------------------------------------

FALSE = "intros n. reflexivity."  # not a proof: the lying session accepts it anyway


def test_replay_catches_what_a_wrong_session_accepted() -> None:
    lied = verify([FALSE, HONEST], replay=False)
    assert [v.status for v in lied] == [Status.PROVED, Status.PROVED]  # the lie gets through
    false, honest = verify([FALSE, HONEST])
    assert (false.status, false.reason) == (Status.REJECTED, "replay.rejected")
    assert "coqc rejects" in (false.detail or "")
    assert honest.status is Status.PROVED
    assert honest.policy_version and honest.policy_version.endswith("+replay")


def test_real_sessions_and_replay_agree_on_honest_and_wrong_proofs() -> None:
    verdicts = verify([HONEST, FALSE, "intros n. lia."], lying=False)
    assert [v.status for v in verdicts] == [Status.PROVED, Status.FAILED, Status.FAILED]


def test_a_replay_past_the_deadline_is_a_timeout_not_a_proof() -> None:
    started = time.monotonic()
    (slow,) = verify([SLOW], timeout=3)
    assert (slow.status, slow.reason) == (Status.TIMEOUT, "replay.timeout")
    assert time.monotonic() - started < 30


def test_verdicts_with_and_without_replay_never_share_a_cache_entry() -> None:
    cache = MemoryCache()
    config = VerifierConfig(pool=PoolConfig(workers=1), timeout=60)
    for replay in (False, True):
        verifier = Verifier(
            config.model_copy(update={"replay": replay}),
            backends={BackendName.COQ: LyingCoqBackend()},
            policy=StrictPolicy(PolicyConfig(text_rules=False)),
            cache=cache,
        )
        with verifier:
            (verdict,) = verifier.verify_all([cand(FALSE)])
        assert not verdict.cached
    assert verdict.status is Status.REJECTED


def test_cancelling_kills_a_replay_in_progress() -> None:
    backend = LyingCoqBackend()
    config = VerifierConfig(pool=PoolConfig(workers=1), timeout=600, replay=True)
    verifier = Verifier(config, backends={BackendName.COQ: backend})
    verifier.submit(cand(SLOW))
    deadline = time.monotonic() + 60
    while not backend._replayer._live and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend._replayer._live, "the replay never started"
    started = time.monotonic()
    closer = threading.Thread(target=verifier.close, kwargs={"cancel": True})
    closer.start()
    closer.join(timeout=30)
    assert not closer.is_alive() and time.monotonic() - started < 30
