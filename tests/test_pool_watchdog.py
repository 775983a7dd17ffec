"""A worker stuck for any reason is given up: its candidate is answered, and the run goes on.

Fault injection with StuckProver, whose hangs ignore every deadline and every kill.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from doubles.stuck_prover import HANGING_HEADER, StuckProver

from leanfilter.backends.base import CheckRequest, ProverError, ProverTimeout, RawResult
from leanfilter.pool import PoolConfig, ProverPool

TIMEOUT = 0.3
GRACE = 0.3
BOUND = 3 * TIMEOUT + GRACE + 1.0  # a check's bound, plus the watchdog's period and some slack


@pytest.fixture
def prover() -> Iterator[StuckProver]:
    prover = StuckProver()
    yield prover
    prover.release()


def make_pool(prover: StuckProver, workers: int = 1) -> ProverPool:
    return ProverPool(prover, PoolConfig(workers=workers, watchdog_grace_s=GRACE))


def submit(pool: ProverPool, body: str, header: str = "ok", alone: bool = False) -> Future:
    request = CheckRequest(tag=pool.new_tag(), theorem="t", body=body, batch_audit=not alone)
    return pool.submit(header, request, TIMEOUT)


def test_a_check_that_never_returns_is_answered_and_the_run_goes_on(prover: StuckProver) -> None:
    pool = make_pool(prover)
    started = time.monotonic()
    stuck = submit(pool, "hang", alone=True)
    honest = [submit(pool, f"proof {i}") for i in range(3)]
    with pytest.raises(ProverTimeout):
        stuck.result(timeout=BOUND)
    assert time.monotonic() - started < BOUND
    assert all(isinstance(f.result(timeout=BOUND), RawResult) for f in honest)
    assert prover.aborted >= 1  # the stuck prover was killed, as far as a kill can reach it
    pool.close()


def test_an_audit_that_never_returns_costs_only_its_own_candidate(prover: StuckProver) -> None:
    """The hang is in a batch audit, where no one candidate is to blame: each is checked again
    alone, and only the one that hangs again is answered with a timeout."""
    pool = make_pool(prover)
    futures = [submit(pool, "proof a"), submit(pool, "hang-audit"), submit(pool, "proof b")]
    with pytest.raises(ProverTimeout):
        futures[1].result(timeout=3 * BOUND)
    assert isinstance(futures[0].result(timeout=BOUND), RawResult)
    assert isinstance(futures[2].result(timeout=BOUND), RawResult)
    pool.close()


def test_a_header_that_never_loads_is_bounded_by_the_timeout_and_remembered(
    prover: StuckProver,
) -> None:
    pool = make_pool(prover, workers=2)
    started = time.monotonic()
    first = submit(pool, "proof", header=HANGING_HEADER)
    with pytest.raises(ProverTimeout):
        first.result(timeout=BOUND)
    assert time.monotonic() - started < TIMEOUT + GRACE + 1.5
    again = time.monotonic()
    with pytest.raises(ProverTimeout):
        submit(pool, "proof", header=HANGING_HEADER).result(timeout=BOUND)
    assert time.monotonic() - again < 0.5  # the repeat does not wait again
    assert prover.opened.count(HANGING_HEADER) == 1
    assert isinstance(submit(pool, "proof").result(timeout=BOUND), RawResult)
    pool.close()


def test_close_returns_though_a_given_up_thread_is_still_stuck(prover: StuckProver) -> None:
    pool = make_pool(prover)
    stuck = submit(pool, "hang", alone=True)
    with pytest.raises(ProverTimeout):
        stuck.result(timeout=BOUND)
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("body", ["raise", "raise-audit"])
def test_a_bug_in_a_check_is_an_error_for_its_candidate_only(
    prover: StuckProver, body: str
) -> None:
    """An exception no prover raises (a bug of ours) must not end the worker's thread: its
    candidate would never be answered and the run would wait for it forever."""
    pool = make_pool(prover)
    futures = [submit(pool, "proof a"), submit(pool, body), submit(pool, "proof b")]
    with pytest.raises(ProverError, match="ValueError"):
        futures[1].result(timeout=BOUND)
    assert isinstance(futures[0].result(timeout=BOUND), RawResult)
    assert isinstance(futures[2].result(timeout=BOUND), RawResult)
    assert isinstance(submit(pool, "proof c").result(timeout=BOUND), RawResult)
    pool.close()
