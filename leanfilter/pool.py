"""Worker threads, each driving at most one warm prover session.

A worker keeps serving the header its session has loaded, so a header is elaborated once per
worker rather than once per proof. A session that times out or crashes is killed and replaced;
a crashed candidate is tried again (it may have been the prover's fault), a timed-out one is not.
Sessions are recycled after `max_checks` checks or when their memory passes `max_rss_mb`, so a
night of checking does not grow without bound. The pool knows nothing of soundness rules.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from leanfilter.backends.base import (
    Backend,
    CheckRequest,
    HeaderError,
    Outcome,
    ProverCrashed,
    ProverError,
    ProverTimeout,
    RawResult,
    Session,
)

SLOTS_PER_ENGINE = 32


def engine_slot(index: int) -> int:
    """Sandbox slot `index` of this process: engines running at once get distinct uids."""
    return (os.getpid() % 2000) * SLOTS_PER_ENGINE + index % SLOTS_PER_ENGINE


class PoolConfig(BaseModel):
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    max_checks: int = Field(default=2000, ge=1, description="recycle a session after this many")
    max_rss_mb: float = Field(default=6144, description="recycle a session above this memory")
    retries: int = Field(default=1, ge=0, description="retries of a candidate whose prover crashed")


@dataclass
class _Task:
    header: str
    request: CheckRequest
    timeout: float
    future: Future[RawResult] = field(default_factory=Future)
    crashes: int = 0


class ProverPool:
    def __init__(self, backend: Backend, config: PoolConfig | None = None) -> None:
        self.backend = backend
        self.config = config or PoolConfig()
        self._queues: dict[str, deque[_Task]] = {}
        self._cond = threading.Condition()
        self._closing = False
        self._cancelled = False
        self._live: set[Session] = set()
        self._tags = itertools.count(1)
        self._bad_headers: dict[str, HeaderError] = {}
        self._threads = [
            threading.Thread(
                target=self._work, args=(engine_slot(i),), daemon=True, name=f"prover-{i}"
            )
            for i in range(self.config.workers)
        ]
        for t in self._threads:
            t.start()

    def new_tag(self) -> int:
        return next(self._tags)

    def submit(self, header: str, request: CheckRequest, timeout: float) -> Future[RawResult]:
        task = _Task(header, request, timeout)
        self._enqueue(task)
        return task.future

    def close(self, cancel: bool = False) -> None:
        """Stop the workers once the queue is done; with `cancel`, now: queued candidates are
        dropped and running provers killed."""
        with self._cond:
            self._closing = True
            if cancel:
                self._cancelled = True
                dropped = [task for queue in self._queues.values() for task in queue]
                self._queues.clear()
                live = list(self._live)
            self._cond.notify_all()
        if cancel:
            for task in dropped:
                task.future.set_exception(ProverError("the engine was closed"))
            for session in live:
                session.abort()
        for t in self._threads:
            t.join()

    # -- queue ---------------------------------------------------------------------------

    def _enqueue(self, task: _Task, front: bool = False) -> None:
        with self._cond:
            if self._cancelled:
                task.future.set_exception(ProverError("the engine was closed"))
                return
            queue = self._queues.setdefault(task.header, deque())
            queue.appendleft(task) if front else queue.append(task)
            self._cond.notify()

    def _take(self, header: str | None, block: bool) -> _Task | None:
        """Next task, preferring the header already loaded; the fullest queue otherwise."""
        with self._cond:
            while True:
                if header is not None and self._queues.get(header):
                    return self._queues[header].popleft()
                busiest = max(self._queues.items(), key=lambda kv: len(kv[1]), default=None)
                if busiest and busiest[1]:
                    return busiest[1].popleft()
                if self._closing or not block:
                    return None
                self._cond.wait()

    # -- worker --------------------------------------------------------------------------

    def _work(self, slot: int) -> None:
        session: Session | None = None
        waiting: dict[int, _Task] = {}  # tag -> task whose outcome the session still owes
        while True:
            task = self._take(session.header if session else None, block=False)
            if task is None and session is not None and waiting:
                session = self._flush(session, waiting)  # idle: finish deferred audits first
                continue
            task = task or self._take(None, block=True)
            if task is None:
                self._retire(session, waiting)
                return
            if session is not None and session.header != task.header:
                session = self._retire(session, waiting)
            session = session or self._open(task, slot)
            if session is None:
                continue
            session = self._check(session, task, waiting)
            if session is not None and self._worn(session):
                session = self._retire(session, waiting)

    def _check(self, session: Session, task: _Task, waiting: dict[int, _Task]) -> Session | None:
        waiting[task.request.tag] = task
        try:
            self._deliver(session.check(task.request, task.timeout), waiting)
        except HeaderError as e:  # this statement does not elaborate; the session is fine
            waiting.pop(task.request.tag)
            task.future.set_exception(e)
        except ProverError as e:
            self._lost(session, waiting, task, e)
            return None
        return session

    def _worn(self, session: Session) -> bool:
        return session.checks >= self.config.max_checks or session.rss_mb() > self.config.max_rss_mb

    def _retire(self, session: Session | None, waiting: dict[int, _Task]) -> None:
        if session is not None and self._flush(session, waiting) is not None:
            self._discard(session)

    def _discard(self, session: Session) -> None:
        with self._cond:
            self._live.discard(session)
        session.close()

    def _open(self, task: _Task, slot: int) -> Session | None:
        bad = self._bad_headers.get(task.header)
        if bad is None:
            try:
                session = self.backend.open_session(task.header, slot)
                with self._cond:
                    self._live.add(session)
                return session
            except HeaderError as e:
                self._bad_headers[task.header] = bad = e
            except (ProverCrashed, ProverTimeout) as e:
                self._retry_or_fail(task, e)
                return None
            except ProverError as e:
                task.future.set_exception(e)
                return None
        task.future.set_exception(bad)
        return None

    def _flush(self, session: Session, waiting: dict[int, _Task]) -> Session | None:
        """Deliver every deferred outcome; returns the session, or None if it died doing so."""
        if not waiting:
            return session
        timeout = max(t.timeout for t in waiting.values())
        try:
            self._deliver(session.flush(timeout), waiting)
        except ProverError as e:
            for task in waiting.values():  # so that a batch too slow to audit cannot come back
                task.request = task.request.model_copy(update={"batch_audit": False})
            self._lost(session, waiting, None, e)
            return None
        return session

    def _lost(
        self, session: Session, waiting: dict[int, _Task], culprit: _Task | None, error: ProverError
    ) -> None:
        """The session died: fail or retry the culprit, and requeue the innocent."""
        self._discard(session)
        if culprit is not None:
            waiting.pop(culprit.request.tag, None)
            self._retry_or_fail(culprit, error)
        for task in waiting.values():
            self._enqueue(task, front=True)
        waiting.clear()

    def _retry_or_fail(self, task: _Task, error: ProverError) -> None:
        """A crash may be the prover's fault: one more try. A timeout is the candidate's."""
        if isinstance(error, ProverCrashed) and task.crashes < self.config.retries:
            task.crashes += 1
            self._enqueue(task, front=True)
        else:
            task.future.set_exception(error)

    @staticmethod
    def _deliver(outcomes: list[Outcome], waiting: dict[int, _Task]) -> None:
        for request, result in outcomes:
            task = waiting.pop(request.tag)
            task.future.set_result(result)
