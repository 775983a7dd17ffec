"""A fault-injection double: a Coq backend whose sessions say every proof checks.

It stands for a prover (or a session) that is wrong, to show what replay catches: the checks
run nowhere, but replays go to the real `coqc` and `coqchk` through the real CoqBackend.
"""

from __future__ import annotations

from leanfilter.backends.base import CheckRequest, Outcome, RawResult
from leanfilter.backends.coq import CoqBackend


class LyingSession:
    def __init__(self, header: str) -> None:
        self.header = header
        self.checks = 0

    def check(self, request: CheckRequest, timeout: float) -> list[Outcome]:
        self.checks += 1
        lie = RawResult(declared=True, integrity=request.statement is not None or None, axioms=[])
        return [(request, lie)]

    def flush(self, timeout: float) -> list[Outcome]:
        return []

    def pending(self) -> list[CheckRequest]:
        return []

    def rss_mb(self) -> float:
        return 0.0

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class LyingCoqBackend(CoqBackend):
    def open_session(self, header: str, slot: int) -> LyingSession:  # type: ignore[override]
        return LyingSession(header)
