"""The replay stage's own logic, with fault-injection replayers (no prover): what waits together
is batched by backend and header, and every job is answered whatever the backend does."""

from __future__ import annotations

import threading

from leanfilter.backends.base import CheckRequest, ReplayResult
from leanfilter.records import BackendName, Candidate, Status, Verdict
from leanfilter.replays import ReplayJob, ReplayStage


class HeldReplayer:
    """Answers `confirmed` for all, but holds its first call until released."""

    name = BackendName.COQ
    default_timeout = 10.0

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def replay(
        self, header: str, requests: list[CheckRequest], timeout: float, slot: int
    ) -> list[ReplayResult]:
        if not self.calls:
            self.entered.set()
            self.release.wait(30)
        self.calls.append([r.tag for r in requests])
        return [ReplayResult(outcome="confirmed", detail="ok") for _ in requests]

    def abort_replays(self) -> None:
        self.release.set()


class BrokenReplayer(HeldReplayer):
    def replay(
        self, header: str, requests: list[CheckRequest], timeout: float, slot: int
    ) -> list[ReplayResult]:
        raise RuntimeError("replayer bug")


def job(tag: int, header: str, answers: dict[int, Verdict], whole_file: bool = False) -> ReplayJob:
    candidate = Candidate(
        name=f"t{tag}", backend=BackendName.COQ, header=header, statement=None, proof="x",
        whole_file=whole_file,
    )  # fmt: skip
    request = CheckRequest(tag=tag, theorem=f"t{tag}", body="x", batch_audit=not whole_file)
    proved = Verdict(name=f"t{tag}", status=Status.PROVED)

    def done(verdict: Verdict) -> None:
        answers[tag] = verdict

    return ReplayJob(candidate=candidate, request=request, verdict=proved, done=done)


def test_jobs_waiting_together_are_batched_by_header_and_whole_files_go_alone() -> None:
    replayer = HeldReplayer()
    answers: dict[int, Verdict] = {}
    stage = ReplayStage({BackendName.COQ: replayer}, lambda b: 10.0, slots=[0], batch=3)
    stage.submit(job(1, "A", answers))
    assert replayer.entered.wait(30)  # taken alone, and held while the rest queue up
    for tag, header in [(2, "A"), (3, "B"), (4, "A"), (5, "A"), (6, "A")]:
        stage.submit(job(tag, header, answers))
    stage.submit(job(7, "A", answers, whole_file=True))
    replayer.release.set()
    stage.close()
    assert replayer.calls == [[1], [2, 4, 5], [3], [6], [7]]
    assert sorted(answers) == list(range(1, 8))
    assert all(v.status is Status.PROVED for v in answers.values())


def test_a_replayer_that_raises_still_answers_every_job() -> None:
    answers: dict[int, Verdict] = {}
    stage = ReplayStage({BackendName.COQ: BrokenReplayer()}, lambda b: 10.0, slots=[0, 1])
    for tag in range(1, 6):
        stage.submit(job(tag, "A", answers))
    stage.close()
    assert sorted(answers) == [1, 2, 3, 4, 5]
    assert {(v.status, v.reason) for v in answers.values()} == {(Status.ERROR, "replay.crashed")}


def test_a_backend_that_cannot_replay_never_proves() -> None:
    answers: dict[int, Verdict] = {}
    stage = ReplayStage({BackendName.COQ: object()}, lambda b: 10.0, slots=[0])  # type: ignore[dict-item]
    stage.submit(job(1, "A", answers))
    stage.close()
    assert (answers[1].status, answers[1].reason) == (Status.ERROR, "replay.unavailable")


def test_cancel_drops_what_waits_and_aborts_what_runs() -> None:
    replayer = HeldReplayer()
    answers: dict[int, Verdict] = {}
    stage = ReplayStage({BackendName.COQ: replayer}, lambda b: 10.0, slots=[0])
    for tag in range(1, 4):
        stage.submit(job(tag, "A", answers))
    stage.close(cancel=True)  # releases the held call through abort_replays
    stage.submit(job(9, "A", answers))  # after a cancel: dropped
    assert len(replayer.calls) <= 1 and 9 not in answers
