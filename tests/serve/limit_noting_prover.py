"""A fault-injection double: a Coq backend whose sessions note the time limit each check is
handed and answer at once, except a proof holding `hang`, on which they hang, deaf to the limit
and to `abort()`, until `release()`. The pool's watchdog, bounded by that limit, must give up on
them. Statements are assembled by the real CoqBackend; no proof is checked.
"""

from __future__ import annotations

import threading

from leanfilter.backends.base import CheckRequest, Outcome, RawResult
from leanfilter.backends.coq import CoqBackend


class LimitNotingCoq(CoqBackend):
    def __init__(self) -> None:
        super().__init__()
        self.limits: list[float] = []
        self.released = threading.Event()

    def open_session(self, header: str, slot: int) -> NotingSession:  # type: ignore[override]
        return NotingSession(self, header)

    def release(self) -> None:
        self.released.set()


class NotingSession:
    def __init__(self, prover: LimitNotingCoq, header: str) -> None:
        self.prover = prover
        self.header = header
        self.checks = 0

    def check(self, request: CheckRequest, timeout: float) -> list[Outcome]:
        self.checks += 1
        self.prover.limits.append(timeout)
        if "hang" in request.body:
            self.prover.released.wait()
        return [(request, RawResult(declared=True, integrity=True, axioms=[]))]

    def flush(self, timeout: float) -> list[Outcome]:
        return []

    def pending(self) -> list[CheckRequest]:
        return []

    def rss_mb(self) -> float:
        return 0.0

    def close(self) -> None:
        pass

    def abort(self) -> None:  # the hang goes on: only the watchdog's giving up ends the wait
        pass
