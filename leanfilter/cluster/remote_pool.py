"""`RemotePool`: a prover pool whose checks run on Ray actors, with `ProverPool`'s interface.

Each check goes to the actor with the fewest checks in flight. A prover's error (a timeout, a
crash) comes back as the error a local pool raises, not Ray's wrapping of it, so the engine
judges it the same way; an actor lost for good fails the check with Ray's error, which ends the
run as any engine failure does.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import Future

import ray
from ray.actor import ActorHandle
from ray.exceptions import RayTaskError

from leanfilter.backends.base import CheckRequest, RawResult
from leanfilter.records import BackendName


class Fleet:
    """The actors and how many checks each has in flight."""

    def __init__(self, actors: list[ActorHandle]) -> None:
        self.actors = actors
        self._busy = [0] * len(actors)
        self._lock = threading.Lock()

    @property
    def busy(self) -> list[int]:
        """Checks in flight on each actor, now."""
        with self._lock:
            return list(self._busy)

    def take(self) -> tuple[int, ActorHandle]:
        with self._lock:
            index = min(range(len(self.actors)), key=self._busy.__getitem__)
            self._busy[index] += 1
        return index, self.actors[index]

    def give_back(self, index: int) -> None:
        with self._lock:
            self._busy[index] -= 1


class RemotePool:
    def __init__(self, backend: BackendName, fleet: Fleet) -> None:
        self.backend = backend
        self.fleet = fleet
        self._tags = itertools.count(1)

    def new_tag(self) -> int:
        return next(self._tags)

    def submit(self, header: str, request: CheckRequest, timeout: float) -> Future[RawResult]:
        index, actor = self.fleet.take()
        remote = actor.check.remote(self.backend, header, request, timeout).future()
        result: Future[RawResult] = Future()
        remote.add_done_callback(lambda f: self._settle(index, f, result))
        return result

    def close(self, cancel: bool = False) -> None:
        ray.get([actor.close.remote(self.backend, cancel) for actor in self.fleet.actors])

    def _settle(self, index: int, remote: Future[RawResult], result: Future[RawResult]) -> None:
        self.fleet.give_back(index)
        error = remote.exception()
        if error is None:
            result.set_result(remote.result())
        else:
            result.set_exception(error.cause if isinstance(error, RayTaskError) else error)
