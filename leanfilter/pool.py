"""Worker threads, each driving at most one warm prover session.

A worker keeps serving the header its session has loaded, so a header is elaborated once per
worker rather than once per proof. A session that times out or crashes is killed and replaced;
a crashed candidate is tried again (it may have been the prover's fault), a timed-out one is not.
Sessions are recycled after `max_checks` checks or when their memory passes `max_rss_mb`, so a
night of checking does not grow without bound. The pool knows nothing of soundness rules.

A watchdog guards every call into a prover with a bound derived from the candidate's own timeout
(a header load: one timeout; a check: three, as it may finish an earlier batch's audit first),
plus `watchdog_grace_s`. A worker stuck past it, for any reason (a parser that never returns, a
process that ignores its deadline), is given up: its candidate is answered `ProverTimeout`, the
candidates whose audit it still owed are queued again to be checked alone, a header whose load
hung is remembered as bad, its prover is killed, and a fresh worker takes its slot. The stuck
thread, if it ever returns, answers nothing.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVar

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
# timeouts a check may take: an overdue batch audit, the check, a full batch's; or the check,
# the batch's audit and the check again alone (a failure beside loaded proofs)
CHECK_BOUND = 3
T = TypeVar("T")


def engine_slot(index: int) -> int:
    """Sandbox slot `index` of this process: engines running at once get distinct uids."""
    return (os.getpid() % 2000) * SLOTS_PER_ENGINE + index % SLOTS_PER_ENGINE


class PoolConfig(BaseModel):
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    max_checks: int = Field(default=2000, ge=1, description="recycle a session after this many")
    max_rss_mb: float = Field(default=6144, description="recycle a session above this memory")
    retries: int = Field(default=1, ge=0, description="retries of a candidate whose prover crashed")
    watchdog_grace_s: float = Field(
        default=30.0, gt=0, description="a worker this long past its call's bound is stuck"
    )


@dataclass
class _Task:
    header: str
    request: CheckRequest
    timeout: float
    future: Future[RawResult] = field(default_factory=Future)
    crashes: int = 0


@dataclass
class _Call:
    """A call into a prover in progress, as the watchdog sees it."""

    deadline: float
    culprit: _Task | None  # the candidate answered if the call never returns
    header: str | None  # a header being loaded, remembered as bad if it hangs


@dataclass
class _Worker:
    slot: int
    session: Session | None = None
    waiting: dict[int, _Task] = field(default_factory=dict)  # tag -> task owed its outcome
    call: _Call | None = None
    stuck: bool = False


class _GivenUp(Exception):
    """Raised in a worker thread that the watchdog gave up on: it must answer nothing more."""


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
        self._bad_headers: dict[str, ProverError] = {}
        self._workers = [_Worker(engine_slot(i)) for i in range(self.config.workers)]
        self._threads = [self._thread(w) for w in self._workers]
        self._stopped = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True, name="prover-watchdog")
        self._watchdog.start()

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
        while True:  # the watchdog may replace a stuck thread meanwhile: join whoever is current
            with self._cond:
                alive = [t for t in self._threads if t.is_alive()]
            if not alive:
                break
            alive[0].join(0.2)
        self._stopped.set()
        self._watchdog.join()

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

    def _thread(self, worker: _Worker) -> threading.Thread:
        thread = threading.Thread(
            target=self._work, args=(worker,), daemon=True, name=f"prover-{worker.slot}"
        )
        thread.start()
        return thread

    def _work(self, worker: _Worker) -> None:
        try:
            self._serve(worker)
        except _GivenUp:  # the watchdog answered for this thread and killed its prover
            if worker.session is not None:
                worker.session.close()

    def _serve(self, w: _Worker) -> None:
        while True:
            task = self._take(w.session.header if w.session else None, block=False)
            if task is None and w.session is not None and w.waiting:
                w.session = self._flush(w, w.session)  # idle: finish deferred audits first
                continue
            task = task or self._take(None, block=True)
            if task is None:
                self._retire(w, w.session)
                return
            if w.session is not None and w.session.header != task.header:
                w.session = self._retire(w, w.session)
            w.session = w.session or self._open(w, task)
            if w.session is None:
                continue
            w.session = self._check(w, w.session, task)
            if w.session is not None and self._worn(w.session):
                w.session = self._retire(w, w.session)

    def _guarded(self, w: _Worker, call: _Call, work: Callable[[], T]) -> T:
        """`work()`, under the watchdog's eye; raises _GivenUp if it was given up meanwhile. An
        exception no prover raises (a bug of the engine's own) comes back as a ProverError, so it
        costs its call an `error` instead of ending the thread that owes the call an answer."""
        with self._cond:
            w.call = call
        try:
            return work()
        except ProverError:
            raise
        except Exception as e:
            raise ProverError(f"the engine failed: {type(e).__name__}: {e}") from e
        finally:
            with self._cond:
                w.call, given_up = None, w.stuck
            if given_up:
                raise _GivenUp

    def _check(self, w: _Worker, session: Session, task: _Task) -> Session | None:
        waiting = w.waiting
        waiting[task.request.tag] = task
        bound = time.monotonic() + CHECK_BOUND * task.timeout + self.config.watchdog_grace_s
        try:
            outcomes = self._guarded(
                w, _Call(bound, task, None), lambda: session.check(task.request, task.timeout)
            )
            self._deliver(outcomes, waiting)
        except HeaderError as e:  # this statement does not elaborate; the session is fine
            waiting.pop(task.request.tag)
            task.future.set_exception(e)
        except ProverError as e:
            self._lost(session, waiting, task, e)
            return None
        return session

    def _worn(self, session: Session) -> bool:
        return session.checks >= self.config.max_checks or session.rss_mb() > self.config.max_rss_mb

    def _retire(self, w: _Worker, session: Session | None) -> None:
        if session is not None and self._flush(w, session) is not None:
            self._discard(session)

    def _discard(self, session: Session) -> None:
        with self._cond:
            self._live.discard(session)
        session.close()

    def _open(self, w: _Worker, task: _Task) -> Session | None:
        bad = self._bad_headers.get(task.header)
        if bad is None:
            bound = time.monotonic() + task.timeout + self.config.watchdog_grace_s
            try:
                return self._guarded(
                    w, _Call(bound, task, task.header), lambda: self._start(w, task)
                )
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

    def _start(self, w: _Worker, task: _Task) -> Session:
        """A session for the task's header, held by the worker at once (so that a watchdog
        giving up on this load kills it)."""
        session = self.backend.open_session(task.header, w.slot)
        with self._cond:
            self._live.add(session)
            w.session = session
        return session

    def _flush(self, w: _Worker, session: Session) -> Session | None:
        """Deliver every deferred outcome; returns the session, or None if it died doing so."""
        waiting = w.waiting
        if not waiting:
            return session
        timeout = max(t.timeout for t in waiting.values())
        bound = time.monotonic() + timeout + self.config.watchdog_grace_s
        try:
            self._deliver(
                self._guarded(w, _Call(bound, None, None), lambda: session.flush(timeout)), waiting
            )
        except ProverError as e:
            _alone(waiting.values())  # so that a batch too slow to audit cannot come back
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

    # -- watchdog ------------------------------------------------------------------------

    def _watch(self) -> None:
        period = min(1.0, self.config.watchdog_grace_s / 4)
        while not self._stopped.wait(period):
            now = time.monotonic()
            with self._cond:
                stuck = [
                    (w, w.call)
                    for w in self._workers
                    if w.call is not None and not w.stuck and now > w.call.deadline
                ]
                for w, _ in stuck:
                    w.stuck = True
            for w, call in stuck:
                self._give_up(w, call)

    def _give_up(self, w: _Worker, call: _Call) -> None:
        """Answer for a stuck worker, kill its prover and put a fresh worker in its place."""
        error = ProverTimeout("the prover stopped answering within the time limit")
        if call.header is not None:
            self._bad_headers[call.header] = ProverTimeout("the header did not load in time")
        if w.session is not None:
            with self._cond:
                self._live.discard(w.session)
            w.session.abort()
        owed = dict(w.waiting)
        if call.culprit is not None:
            owed.pop(call.culprit.request.tag, None)
            call.culprit.future.set_exception(error)
        _alone(owed.values())
        for task in owed.values():
            self._enqueue(task, front=True)
        fresh = _Worker(w.slot)
        with self._cond:
            index = self._workers.index(w)
            self._workers[index] = fresh
            self._threads[index] = self._thread(fresh)


def _alone(tasks: Iterable[_Task]) -> None:
    """These tasks are checked again each with its own audit: no batch can hold them up."""
    for task in tasks:
        task.request = task.request.model_copy(update={"batch_audit": False})
