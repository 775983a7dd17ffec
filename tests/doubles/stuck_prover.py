"""A fault-injection double: a prover that hangs inside its own protocol, past every deadline,
or fails with an error no prover gives.

It stands for the failures a per-call deadline misses (a parser that never returns, a read that
ignores its timeout): the hang does not listen to `timeout` and `abort()` does not end it. Which
call hangs is chosen by the text: a header `HANG`, a proof body `hang`, or a deferred audit that
holds a body `hang-audit`. A body `raise`, or a deferred audit holding `raise-audit`, raises a
`ValueError` instead: a bug of the engine's own code. Everything else is answered at once.
`release()` ends every hang, so a test leaves no thread behind.
"""

from __future__ import annotations

import threading

from leanfilter.backends.base import CheckRequest, Outcome, RawResult
from leanfilter.records import BackendName

HANGING_HEADER = "HANG"


class StuckProver:
    name = BackendName.COQ
    default_timeout = 1.0

    def __init__(self) -> None:
        self.released = threading.Event()
        self.opened: list[str] = []
        self.aborted = 0

    def toolchain(self) -> str:
        return "stuck-0"

    def assemble(self, candidate: object, tag: int) -> CheckRequest:
        raise NotImplementedError

    def open_session(self, header: str, slot: int) -> StuckSession:
        self.opened.append(header)
        if header == HANGING_HEADER:
            self.released.wait()
        return StuckSession(self, header)

    def release(self) -> None:
        self.released.set()


class StuckSession:
    def __init__(self, prover: StuckProver, header: str) -> None:
        self.prover = prover
        self.header = header
        self.checks = 0
        self._deferred: list[CheckRequest] = []

    def check(self, request: CheckRequest, timeout: float) -> list[Outcome]:
        self.checks += 1
        if request.body == "hang" or (request.body == "hang-audit" and not request.batch_audit):
            self.prover.released.wait()
        if request.body == "raise" or (request.body == "raise-audit" and not request.batch_audit):
            raise ValueError("a bug in the session")
        if request.batch_audit:
            self._deferred.append(request)
            return []
        return [(request, _proved())]

    def flush(self, timeout: float) -> list[Outcome]:
        if any(r.body == "hang-audit" for r in self._deferred):
            self.prover.released.wait()
        if any(r.body == "raise-audit" for r in self._deferred):
            raise ValueError("a bug in the audit")
        done, self._deferred = self._deferred, []
        return [(r, _proved()) for r in done]

    def pending(self) -> list[CheckRequest]:
        return list(self._deferred)

    def rss_mb(self) -> float:
        return 0.0

    def close(self) -> None:
        pass

    def abort(self) -> None:  # counted, but the hang goes on: a kill cannot reach it
        self.prover.aborted += 1


def _proved() -> RawResult:
    return RawResult(declared=True, integrity=True, axioms=[])
