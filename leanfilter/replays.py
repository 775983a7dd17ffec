"""The replay stage (`verify --replay`): proofs found, checked again from scratch by the backend,
on threads of their own so that the provers go on.

A thread takes the oldest waiting proof and every other one waiting with the same backend and
header, up to `batch`, and hands them to the backend together: under load, replays batch
themselves; alone, a proof waits for nobody.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from leanfilter.backends.base import Backend, CheckRequest, Replayer, ReplayResult
from leanfilter.records import BackendName, Candidate, Status, Verdict

_STATUS = {
    "rejected": (Status.REJECTED, "replay.rejected"),
    "timeout": (Status.TIMEOUT, "replay.timeout"),
    "crashed": (Status.ERROR, "replay.crashed"),
    "unavailable": (Status.ERROR, "replay.unavailable"),
}


@dataclass
class ReplayJob:
    candidate: Candidate
    request: CheckRequest
    verdict: Verdict  # proved, before its replay
    done: Callable[[Verdict], None]

    def joins(self, first: ReplayJob) -> bool:
        return (
            self.request.batch_audit
            and first.request.batch_audit
            and self.candidate.backend is first.candidate.backend
            and self.candidate.header == first.candidate.header
        )


class ReplayStage:
    def __init__(
        self,
        backends: Mapping[BackendName, Backend],
        timeout: Callable[[Backend], float],
        slots: list[int],
        batch: int = 16,
    ) -> None:
        self._backends = backends
        self._timeout = timeout
        self._batch = batch
        self._queue: deque[ReplayJob] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._cancelled = False
        self._threads = [
            threading.Thread(target=self._work, args=(slot,), daemon=True, name=f"replay-{slot}")
            for slot in slots
        ]
        for t in self._threads:
            t.start()

    def submit(self, job: ReplayJob) -> None:
        with self._cond:
            if self._cancelled:
                return  # the run is being cancelled: nobody waits for this verdict
            self._queue.append(job)
            self._cond.notify()

    def close(self, cancel: bool = False) -> None:
        """Replay what is queued, then stop; with `cancel`, drop it and kill running replays."""
        with self._cond:
            self._closing = True
            self._cancelled |= cancel
            if cancel:
                self._queue.clear()
            self._cond.notify_all()
        if cancel:
            for backend in self._backends.values():
                if isinstance(backend, Replayer):
                    backend.abort_replays()
        for t in self._threads:
            t.join()

    def _work(self, slot: int) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                group = [self._queue.popleft()]
                for job in list(self._queue):
                    if len(group) >= self._batch:
                        break
                    if job.joins(group[0]):
                        group.append(job)
                        self._queue.remove(job)
            try:
                verdicts = self._replayed(group, slot)
            except Exception as e:  # every job must be answered, whatever happened
                verdicts = [
                    _confirm(j.verdict, ReplayResult(outcome="crashed", detail=repr(e)))
                    for j in group
                ]
            for job, verdict in zip(group, verdicts, strict=True):
                job.done(verdict)

    def _replayed(self, group: list[ReplayJob], slot: int) -> list[Verdict]:
        first = group[0].candidate
        backend = self._backends[first.backend]
        if not isinstance(backend, Replayer):
            none = ReplayResult(
                outcome="unavailable",
                detail=f"the {first.backend.value} backend cannot replay proofs",
            )
            return [_confirm(j.verdict, none) for j in group]
        results = backend.replay(
            first.header, [j.request for j in group], self._timeout(backend), slot
        )
        return [_confirm(j.verdict, r) for j, r in zip(group, results, strict=True)]


def _confirm(verdict: Verdict, result: ReplayResult) -> Verdict:
    """The proved verdict, kept if its replay confirms it, else what the replay found."""
    if result.outcome == "confirmed":
        return verdict.model_copy(update={"time_s": (verdict.time_s or 0.0) + result.time_s})
    status, reason = _STATUS[result.outcome]
    return verdict.model_copy(update={"status": status, "reason": reason, "detail": result.detail})
