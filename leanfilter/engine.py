"""`Verifier`: the one entry point that ties the pool, the policy, the cache and the database.

Per candidate: the cache (a hit is free), the policy's screen, the backend's assembly, the pool,
the policy's judgement, and with `replay` the backend's replay of a proof found (on threads of
its own, so the provers go on); then the verdict is cached and recorded as soon as it exists,
from the thread that produced it, so a killed run loses nothing it finished. Identical
candidates in flight share one check. Verdicts come back in input order.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
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

    @property
    def version(self) -> str:
        """What the verdicts were judged by: the policy, and whether proofs were replayed."""
        return self.policy.version + ("+replay" if self.config.replay else "")

    def verify(self, candidates: Iterable[Candidate]) -> Iterator[Verdict]:
        """Verdicts in input order, streamed; at most `window` candidates are in flight."""
        return in_order(map(self.submit, candidates), self.config.window)

    def verify_all(self, candidates: Iterable[Candidate]) -> list[Verdict]:
        return list(self.verify(candidates))

    def submit(self, candidate: Candidate, sample: int | None = None) -> Future[Verdict]:
        """The candidate's verdict, recorded as soon as it exists. `sample` numbers it within
        the run (the CLI passes the input line); by default, in order of submission."""
        sample = next(self._samples) if sample is None else sample
        return _chain(self._answer(candidate), lambda v: self._record(candidate, v, sample))

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
                return _chain(self._inflight[key], lambda v: v.model_copy(update={"cached": True}))
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
        checked.add_done_callback(
            lambda f: self._settle(candidate, key, future, self._judge(candidate, f, base), request)
        )
        return future

    def close(self, cancel: bool = False) -> None:
        """Wait for the provers and replays to finish their work; with `cancel`, kill them now."""
        if cancel and self._replays is not None:
            self._replays.close(cancel=True)  # first: proofs the provers still find are dropped
        for pool in self._pools.values():
            pool.close(cancel)
        self._pools.clear()
        if self._replays is not None and not cancel:
            self._replays.close()  # after the provers: it replays what they found last
        self._replays = None

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
        except ProverTimeout:
            return self._verdict(
                candidate, Status.TIMEOUT, "prover.timeout", "ran past the time limit", **base
            )
        except HeaderError as e:
            return self._verdict(candidate, Status.ERROR, "input.header", str(e), **base)
        except ProverCrashed as e:
            return self._verdict(candidate, Status.ERROR, "prover.crashed", str(e), **base)
        except ProverError as e:
            return self._verdict(candidate, Status.ERROR, "engine.error", str(e), **base)
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
        self.cache.put(key, verdict)  # the cache keeps only answers that another try cannot change
        with self._lock:
            self._inflight.pop(key, None)
        future.set_result(verdict)

    def _record(self, candidate: Candidate, verdict: Verdict, sample: int) -> Verdict:
        if self.recorder is not None:
            self.recorder.record(candidate, verdict, self.run_id, sample=sample)
        return verdict


def in_order(futures: Iterable[Future[Verdict]], window: int) -> Iterator[Verdict]:
    """Results in the order the futures come, each as soon as it and all before it are done;
    the source is read ahead by at most `window` futures."""
    pending: deque[Future[Verdict]] = deque()
    for future in futures:
        pending.append(future)
        while pending and (len(pending) > window or pending[0].done()):
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def done(verdict: Verdict) -> Future[Verdict]:
    future: Future[Verdict] = Future()
    future.set_result(verdict)
    return future


def _chain(source: Future[Verdict], change: Callable[[Verdict], Verdict]) -> Future[Verdict]:
    out: Future[Verdict] = Future()
    source.add_done_callback(lambda f: out.set_result(change(f.result())))
    return out
