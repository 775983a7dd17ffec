"""`Verifier`: the one entry point that ties the pool, the policy, the cache and the database.

Per candidate: the cache (a hit is free), the policy's screen, the backend's assembly, the pool,
the policy's judgement, and with `replay` the backend's replay of a proof found (on threads of
its own, so the provers go on); then the verdict is cached and recorded as soon as it exists,
from the thread that produced it, so a killed run loses nothing it finished. Identical
candidates in flight share one check. Verdicts come back in input order.

Every future the engine hands out is settled, whatever raises on the way (`settle`): a
recorder or cache that fails (a full disk, a damaged database) fails that candidate's future,
and the first such failure (`Verifier.failure`) ends the run rather than leaving it waiting.
A prover the environment will not let start (`ProverCannotStart`) is such a failure too.
A cancelled run answers what it never checked with `RunCancelled`, which is no verdict and is
never recorded.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from types import TracebackType
from typing import Protocol

from pydantic import BaseModel, Field

from leanfilter.backends import create_backend
from leanfilter.backends.base import (
    Backend,
    CheckRequest,
    HeaderError,
    ProverCrashed,
    ProverError,
    ProverTimeout,
    ProverUnavailable,
    RawResult,
    header_hash,
)
from leanfilter.cache import MemoryCache, VerdictCache, candidate_key
from leanfilter.policy import Decision, Policy, default_policy
from leanfilter.pool import SLOTS_PER_ENGINE, PoolConfig, ProverPool, engine_slot
from leanfilter.records import BackendName, Candidate, Status, Verdict
from leanfilter.replays import ReplayJob, ReplayStage
from leanfilter.sandbox import ProverCannotStart


class RunCancelled(Exception):
    """The run was cancelled before this candidate was checked: no verdict, nothing recorded."""


class Recorder(Protocol):
    """Where verdicts go as they are made (the proof database is one)."""

    def record(
        self, candidate: Candidate, verdict: Verdict, run_id: str | None, *, sample: int | None
    ) -> None: ...


class VerifierConfig(BaseModel):
    pool: PoolConfig = Field(default_factory=PoolConfig)
    timeout: float | None = Field(default=None, description="seconds per proof; None: backend's")
    window: int = Field(default=1024, ge=1, description="candidates in flight at once")
    replay: bool = Field(
        default=False,
        description="check every proof found again from scratch, in a fresh process with an"
        " independent checker; one that cannot be replayed is not proved",
    )
    replay_batch: int = Field(
        default=16, ge=1, description="proofs with the same header replayed in one run at most"
    )


class Verifier:
    def __init__(
        self,
        config: VerifierConfig | None = None,
        *,
        backends: Mapping[BackendName, Backend] | None = None,
        policy: Policy | None = None,
        cache: VerdictCache | None = None,
        recorder: Recorder | None = None,
        run_id: str | None = None,
    ) -> None:
        self.config = config or VerifierConfig()
        self.policy = policy or default_policy()
        self.cache = cache if cache is not None else MemoryCache()
        self.recorder = recorder
        self.run_id = run_id
        self._backends: dict[BackendName, Backend] = dict(backends or {})
        self._pools: dict[BackendName, ProverPool] = {}
        self._inflight: dict[str, Future[Verdict]] = {}
        self._samples = itertools.count(1)
        self._toolchains: dict[BackendName, str | ProverUnavailable] = {}
        self._lock = threading.Lock()
        self._replays: ReplayStage | None = None
        self._cancelled = False
        self._failed: Future[None] = Future()  # set with the first fatal error

    @property
    def failure(self) -> BaseException | None:
        """The first error that is no verdict (the recorder's, the cache's): the run is over."""
        return self._failed.exception() if self._failed.done() else None

    @property
    def version(self) -> str:
        """What the verdicts were judged by: the policy, and whether proofs were replayed."""
        return self.policy.version + ("+replay" if self.config.replay else "")

    def verify(self, candidates: Iterable[Candidate]) -> Iterator[Verdict]:
        """Verdicts in input order, streamed; at most `window` candidates are in flight. The
        first fatal error (`failure`) is raised as soon as it happens."""
        return self.in_order(map(self.submit, candidates))

    def in_order(self, futures: Iterable[Future[Verdict]]) -> Iterator[Verdict]:
        """`in_order` over this verifier's window, ended at once by its first fatal error."""
        return in_order(futures, self.config.window, self._failed)

    def verify_all(self, candidates: Iterable[Candidate]) -> list[Verdict]:
        return list(self.verify(candidates))

    def submit(self, candidate: Candidate, sample: int | None = None) -> Future[Verdict]:
        """The candidate's verdict, recorded as soon as it exists. `sample` numbers it within
        the run (the CLI passes the input line); by default, in order of submission."""
        sample = next(self._samples) if sample is None else sample
        return self._chain(self._answer(candidate), lambda v: self._record(candidate, v, sample))

    def _answer(self, candidate: Candidate) -> Future[Verdict]:
        backend = self._backend(candidate.backend)
        toolchain = self._toolchain(candidate.backend, backend)
        if isinstance(toolchain, ProverUnavailable):
            return done(
                self._verdict(candidate, Status.ERROR, "prover.unavailable", str(toolchain))
            )
        key = candidate_key(candidate, toolchain=toolchain, policy_version=self.version)
        with self._lock:
            if key in self._inflight:
                return self._chain(
                    self._inflight[key], lambda v: v.model_copy(update={"cached": True})
                )
            hit = self.cache.get(key)
            if hit is not None:
                return done(hit)
            future: Future[Verdict] = Future()
            self._inflight[key] = future
        base = {"key": key, "toolchain": toolchain}
        screened = self.policy.screen(candidate)
        if screened is not None:
            self._conclude(candidate, key, future, self._decided(candidate, screened, base))
            return future
        try:
            request = backend.assemble(candidate, self._pool(candidate.backend).new_tag())
        except ValueError as e:
            verdict = self._verdict(candidate, Status.ERROR, "input.statement", str(e), **base)
            self._conclude(candidate, key, future, verdict)
            return future
        request = request.model_copy(
            update={"allowed_axioms": self.policy.allowed_axioms(candidate)}
        )
        timeout = self._timeout(backend)
        checked = self._pool(candidate.backend).submit(candidate.header, request, timeout)
        checked.add_done_callback(lambda f: self._settle(candidate, key, future, f, base, request))
        return future

    def close(self, cancel: bool = False) -> None:
        """Wait for the provers and replays to finish their work; with `cancel`, kill them now,
        and answer every candidate not yet checked with `RunCancelled`."""
        if cancel:
            self._cancelled = True  # before the kills: what they end is not a verdict
        if cancel and self._replays is not None:
            self._replays.close(cancel=True)  # first: proofs the provers still find are dropped
        for pool in self._pools.values():
            pool.close(cancel)
        self._pools.clear()
        if self._replays is not None and not cancel:
            self._replays.close()  # after the provers: it replays what they found last
        self._replays = None
        if cancel:
            with self._lock:
                unanswered = list(self._inflight.values())
                self._inflight.clear()
            for future in unanswered:
                settle(future, _raise_cancelled)

    def __enter__(self) -> Verifier:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(cancel=kind is not None)

    # -- internals -----------------------------------------------------------------------

    def _backend(self, name: BackendName) -> Backend:
        with self._lock:
            if name not in self._backends:
                self._backends[name] = create_backend(name)
            return self._backends[name]

    def _toolchain(self, name: BackendName, backend: Backend) -> str | ProverUnavailable:
        """Asked once per run, missing or not: it does not change while the run lasts."""
        if name not in self._toolchains:
            try:
                self._toolchains[name] = backend.toolchain()
            except ProverUnavailable as e:
                self._toolchains[name] = e
        return self._toolchains[name]

    def _pool(self, name: BackendName) -> ProverPool:
        with self._lock:
            if name not in self._pools:
                self._pools[name] = ProverPool(self._backends[name], self.config.pool)
            return self._pools[name]

    def _settle(
        self, candidate: Candidate, key: str, future: Future[Verdict], checked: Future[RawResult],
        base: dict, request: CheckRequest,
    ) -> None:  # fmt: skip
        """The prover's answer judged, concluded or sent to replay; `future` fails with any
        error on the way (a policy that raises, a replay stage that cannot start)."""
        try:
            self._judged(candidate, key, future, self._judge(candidate, checked, base), request)
        except BaseException as e:
            with self._lock:
                self._inflight.pop(key, None)
            self._resolve(future, functools.partial(_raise, e))

    def _judged(
        self, candidate: Candidate, key: str, future: Future[Verdict], verdict: Verdict,
        request: CheckRequest,
    ) -> None:  # fmt: skip
        if verdict.status is not Status.PROVED or not self.config.replay:
            self._conclude(candidate, key, future, verdict)
            return
        with self._lock:
            if self._replays is None:
                slots = [
                    engine_slot(SLOTS_PER_ENGINE // 2 + i) for i in range(self.config.pool.workers)
                ]
                self._replays = ReplayStage(
                    self._backends, self._timeout, slots, self.config.replay_batch
                )
            replays = self._replays
        conclude = functools.partial(self._conclude, candidate, key, future)
        replays.submit(
            ReplayJob(candidate=candidate, request=request, verdict=verdict, done=conclude)
        )

    def _timeout(self, backend: Backend) -> float:
        return self.config.timeout or backend.default_timeout

    def _judge(self, candidate: Candidate, checked: Future[RawResult], base: dict) -> Verdict:
        try:
            raw = checked.result()
        except ProverCannotStart:
            raise  # the environment's fault, no verdict: it ends the run
        except ProverError as e:
            if self._cancelled:  # killed or dropped by the cancel: never checked
                raise RunCancelled(str(e)) from e
            return self._failed_check(candidate, e, base)
        decision = self.policy.judge(candidate, raw)
        return self._decided(
            candidate,
            decision,
            base,
            messages=raw.messages,
            axioms=raw.axioms,
            time_s=raw.time_s,
            peak_rss_mb=raw.peak_rss_mb,
        )

    def _failed_check(self, candidate: Candidate, error: ProverError, base: dict) -> Verdict:
        if isinstance(error, ProverTimeout):
            return self._verdict(
                candidate, Status.TIMEOUT, "prover.timeout", "ran past the time limit", **base
            )
        reason = (
            "input.header"
            if isinstance(error, HeaderError)
            else "prover.crashed"
            if isinstance(error, ProverCrashed)
            else "engine.error"
        )
        return self._verdict(candidate, Status.ERROR, reason, str(error), **base)

    def _decided(
        self, candidate: Candidate, decision: Decision, base: dict, **fields: object
    ) -> Verdict:
        return self._verdict(
            candidate, decision.status, decision.reason, decision.detail, **base, **fields
        )

    def _verdict(
        self,
        candidate: Candidate,
        status: Status,
        reason: str | None,
        detail: str | None,
        **fields: object,
    ) -> Verdict:
        return Verdict(
            name=candidate.name,
            status=status,
            reason=reason,
            detail=detail,
            backend=candidate.backend,
            header_hash=header_hash(candidate.header),
            policy_version=self.version,
            **fields,
        )

    def _conclude(
        self, candidate: Candidate, key: str, future: Future[Verdict], verdict: Verdict
    ) -> None:
        try:
            self._resolve(future, lambda: self._cached(key, verdict))
        finally:  # only now: a twin submitted meanwhile joins this check or hits the cache
            with self._lock:
                self._inflight.pop(key, None)

    def _cached(self, key: str, verdict: Verdict) -> Verdict:
        self.cache.put(key, verdict)  # the cache keeps only answers that another try cannot change
        return verdict

    def _record(self, candidate: Candidate, verdict: Verdict, sample: int) -> Verdict:
        if self.recorder is not None:
            self.recorder.record(candidate, verdict, self.run_id, sample=sample)
        return verdict

    def _chain(
        self, source: Future[Verdict], change: Callable[[Verdict], Verdict]
    ) -> Future[Verdict]:
        """A future of `change` applied to `source`'s verdict; `source`'s error passes on."""
        out: Future[Verdict] = Future()
        source.add_done_callback(lambda f: self._resolve(out, lambda: change(f.result())))
        return out

    def _resolve(self, future: Future[Verdict], compute: Callable[[], Verdict]) -> None:
        """Every completion path ends here: `future` is settled with `compute`'s verdict or
        its error, and an error that is no cancel becomes the run's failure too."""
        settle(future, functools.partial(self._watched, compute))

    def _watched(self, compute: Callable[[], Verdict]) -> Verdict:
        try:
            return compute()
        except RunCancelled:
            raise
        except BaseException as e:
            settle(self._failed, functools.partial(_raise, e))
            raise


def in_order(
    futures: Iterable[Future[Verdict]], window: int, failed: Future[None] | None = None
) -> Iterator[Verdict]:
    """Results in the order the futures come, each as soon as it and all before it are done;
    the source is read ahead by at most `window` futures. Once `failed` is done, its error is
    raised instead of waiting for the next future that is not done."""
    pending: deque[Future[Verdict]] = deque()
    for future in futures:
        pending.append(future)
        while pending and (len(pending) > window or pending[0].done()):
            yield _next(pending, failed)
    while pending:
        yield _next(pending, failed)


def _next(pending: deque[Future[Verdict]], failed: Future[None] | None) -> Verdict:
    """The next verdict once it is done; the failure instead, if that comes first."""
    if failed is not None and not pending[0].done():
        wait([pending[0], failed], return_when=FIRST_COMPLETED)
        if not pending[0].done():
            failed.result()
    return pending.popleft().result()


def settle(future: Future, compute: Callable[[], object]) -> None:
    """Resolve `future` with what `compute` returns, or with the error it raises; a future
    already resolved (by a cancel that came first) is left as it is."""
    if future.done():
        return
    try:
        value = compute()
    except BaseException as e:
        if not future.done():
            future.set_exception(e)
        return
    if not future.done():
        future.set_result(value)


def _raise(error: BaseException) -> None:
    raise error


def _raise_cancelled() -> None:
    raise RunCancelled("the run was cancelled before this candidate was checked")


def done(verdict: Verdict) -> Future[Verdict]:
    future: Future[Verdict] = Future()
    future.set_result(verdict)
    return future
