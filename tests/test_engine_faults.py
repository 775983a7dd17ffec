"""Faults that are no verdict (a recorder or cache that raises, a cancel) never leave a future
of the engine unresolved, and never become verdicts. Real coqtop processes; the recorder and
the cache that raise are fault-injection doubles, named as such."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanfilter.backends.coq import CoqBackend
from leanfilter.cache import MemoryCache
from leanfilter.engine import RunCancelled, Verifier, VerifierConfig, in_order
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Verdict

pytestmark = pytest.mark.coq

ARITH = "Require Import Arith Lia.\n"
SLOW = "do 1000000000 idtac."  # minutes of work


def cand(i: int, proof: str = "intros; lia.") -> Candidate:
    return Candidate(
        name=f"t{i}",
        backend=BackendName.COQ,
        header=ARITH,
        statement=f"Theorem t{i} : forall n m : nat, n + m + {i} = m + n + {i}.",
        proof=proof,
    )


class FailingRecorder:
    """Fault injection: a database that stops accepting writes after `good` verdicts."""

    def __init__(self, good: int) -> None:
        self.good = good
        self.recorded: list[str] = []
        self._lock = threading.Lock()

    def record(
        self, candidate: Candidate, verdict: Verdict, run_id: str | None, *, sample: int | None
    ) -> None:
        with self._lock:
            if len(self.recorded) >= self.good:
                raise OSError(28, "No space left on device")
            self.recorded.append(candidate.name)


class FailingCache(MemoryCache):
    """Fault injection: a cache whose every store raises."""

    def put(self, key: str, verdict: Verdict) -> None:
        raise OSError(5, "Input/output error")


def verifier(workers: int = 2, **kw: object) -> Verifier:
    config = VerifierConfig(pool=PoolConfig(workers=workers), timeout=60)
    return Verifier(config, backends={BackendName.COQ: CoqBackend()}, **kw)


@pytest.mark.parametrize("good", [0, 3])
def test_a_raising_recorder_ends_the_run_with_its_error(good: int) -> None:
    recorder = FailingRecorder(good)
    v = verifier(recorder=recorder)
    futures = [v.submit(cand(i)) for i in range(8)]
    started = time.monotonic()
    with pytest.raises(OSError, match="No space left"), v:
        list(v.in_order(futures))
    assert time.monotonic() - started < 60
    assert isinstance(v.failure, OSError)
    assert all(f.done() for f in futures), "a future was left unresolved"
    assert len(recorder.recorded) == good


def test_a_raising_cache_fails_the_futures_and_the_run() -> None:
    v = verifier(cache=FailingCache())
    futures = [v.submit(cand(i)) for i in range(4)]
    with pytest.raises(OSError, match="Input/output"), v:
        v.verify_all([cand(9)])
    assert all(f.done() for f in futures)
    assert isinstance(v.failure, OSError)


def test_a_cancel_answers_what_was_never_checked_with_run_cancelled_and_records_none() -> None:
    recorder = FailingRecorder(good=1000)
    v = verifier(workers=1, recorder=recorder)
    futures = [v.submit(cand(i, SLOW)) for i in range(5)]
    time.sleep(2)  # the first is running, the rest wait
    v.close(cancel=True)
    assert all(f.done() for f in futures)
    assert all(isinstance(f.exception(), RunCancelled) for f in futures)
    assert recorder.recorded == []
    assert v.failure is None  # a cancel is no failure


@given(st.lists(st.booleans(), min_size=1, max_size=30), st.integers(1, 8))
@settings(max_examples=100, deadline=None)
def test_in_order_gives_what_is_done_then_the_failure_never_a_wait(
    resolved: list[bool], window: int
) -> None:
    """Invariant: after a failure, in_order yields the verdicts already done in order, then
    raises the failure where it would otherwise wait."""
    failed: Future[None] = Future()
    failed.set_exception(OSError("disk full"))
    futures: list[Future[Verdict]] = []
    for i, ready in enumerate(resolved):
        f: Future[Verdict] = Future()
        if ready:
            f.set_result(Verdict(name=f"v{i}", status="proved"))
        futures.append(f)
    ready_prefix = next((i for i, r in enumerate(resolved) if not r), len(resolved))
    got: list[str] = []
    try:
        got.extend(v.name for v in in_order(iter(futures), window=window, failed=failed))
    except OSError as e:
        assert str(e) == "disk full" and ready_prefix < len(resolved)
    else:
        assert ready_prefix == len(resolved)
    assert got == [f"v{i}" for i in range(ready_prefix)]
