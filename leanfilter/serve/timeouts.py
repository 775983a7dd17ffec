"""A `Verifier` whose callers may ask for a shorter per-proof time limit than its own.

A service answers many clients from one prover pool: a client that wants a quick yes or no
(a search loop with a budget) asks for a shorter limit per request, and can never get a longer
one than the verifier's. The limit asked for is read where the verifier picks a candidate's
time limit, on the submitting thread, through a context variable, so the pool, the cache and
the database stay the verifier's own. A `timeout` verdict is never cached (its limit is not in
the key), so a short limit asked once does not change what later requests get. A candidate
already in flight is shared as usual, with the limit it was first submitted under.
"""

from __future__ import annotations

from concurrent.futures import Future
from contextvars import ContextVar

from leanfilter.backends.base import Backend
from leanfilter.engine import Verifier
from leanfilter.records import BackendName, Candidate, Verdict

_ASKED: ContextVar[float | None] = ContextVar("leanfilter_asked_timeout", default=None)


class TimeoutTooLong(ValueError):
    """A caller asked for a longer per-proof limit than the verifier allows."""


class TimedVerifier(Verifier):
    def limit(self, backend: BackendName) -> float:
        """The longest per-proof time limit a caller may ask for with `backend`: the verifier's
        `timeout`, or the backend's default."""
        return super()._timeout(self._backend(backend))

    def allow(self, backend: BackendName, timeout: float) -> None:
        """Raises TimeoutTooLong, naming the limit, if `timeout` is over `limit(backend)`."""
        refuse_over(timeout, backend, self.limit(backend))

    def submit_within(
        self, candidate: Candidate, timeout: float | None, sample: int | None = None
    ) -> Future[Verdict]:
        """`submit` under a per-proof limit of `timeout` seconds, or of `limit` if that is
        shorter (None: the verifier's own)."""
        token = _ASKED.set(timeout)
        try:
            return self.submit(candidate, sample)
        finally:
            _ASKED.reset(token)

    def _timeout(self, backend: Backend) -> float:
        own = super()._timeout(backend)
        asked = _ASKED.get()
        return own if asked is None else min(asked, own)


def refuse_over(timeout: float, backend: BackendName, allowed: float) -> None:
    if timeout > allowed:
        raise TimeoutTooLong(
            f"timeout {timeout:g} s is over this server's limit for {backend.value}: "
            f"{allowed:g} s (its --timeout)"
        )
