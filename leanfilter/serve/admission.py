"""A bounded queue of candidates: a request is admitted whole or refused, never left to grow."""

from __future__ import annotations

import threading


class QueueFull(Exception):
    """More candidates than the server accepts at once; the client should retry later."""


class Admission:
    """Counts candidates accepted and not yet answered, up to `capacity`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._held = 0
        self._lock = threading.Lock()

    @property
    def depth(self) -> int:
        return self._held

    def take(self, count: int) -> None:
        with self._lock:
            if self._held + count > self.capacity:
                raise QueueFull(
                    f"queue full: {self._held} candidates in flight, limit max_queue="
                    f"{self.capacity}; retry later"
                )
            self._held += count

    def give_back(self, count: int = 1) -> None:
        with self._lock:
            self._held -= count
