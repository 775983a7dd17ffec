"""Content-addressed verdict cache: a repeat of anything already checked costs one look-up.

The key covers everything that can change a verdict (docs/design.md): backend, toolchain, header,
normalized statement, normalized proof, whether the proof is a whole file, the policy version,
and the normalization rules themselves. Only verdicts that the same key always reproduces are
cached: `proved`, `failed` and `rejected`. A `timeout` depends on the time limit and an `error`
on the machine, neither of which is in the key, so both are checked again next time.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Protocol, runtime_checkable

from leanfilter.normalize import NORMALIZATION_VERSION, normalize_proof, normalize_statement
from leanfilter.records import BackendName, Candidate, Status, Verdict

CACHEABLE = frozenset({Status.PROVED, Status.FAILED, Status.REJECTED})


def cache_key(
    *,
    backend: BackendName,
    toolchain: str,
    header: str,
    statement: str | None,
    proof: str,
    whole_file: bool,
    policy_version: str,
    name: str | None = None,
) -> str:
    """The sha256 hex key of one check.

    `name` is required for whole-file candidates: the file must declare that theorem, so the same
    text is correct under one name and wrong under another. When given, it is always part of the
    key.
    """
    if whole_file and name is None:
        raise ValueError("the cache key of a whole-file candidate needs its theorem name")
    fields = {
        "normalization": NORMALIZATION_VERSION,
        "backend": BackendName(backend).value,
        "toolchain": toolchain,
        "header": header,
        "statement": None if statement is None else normalize_statement(backend, statement),
        "proof": normalize_proof(backend, proof),
        "whole_file": whole_file,
        "policy_version": policy_version,
        "name": name,
    }
    encoded = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def candidate_key(candidate: Candidate, *, toolchain: str, policy_version: str) -> str:
    return cache_key(
        backend=candidate.backend,
        toolchain=toolchain,
        header=candidate.header,
        statement=candidate.statement,
        proof=candidate.proof,
        whole_file=candidate.whole_file,
        policy_version=policy_version,
        name=candidate.name,
    )


def is_cacheable(verdict: Verdict) -> bool:
    """A verdict the same key always reproduces: not one that hit a time or memory limit,
    since the limits are not in the key."""
    return verdict.status in CACHEABLE and not (verdict.reason or "").startswith("resource.")


@runtime_checkable
class VerdictCache(Protocol):
    def get(self, key: str) -> Verdict | None:
        """The verdict stored under `key`, marked `cached`, or None."""
        ...

    def put(self, key: str, verdict: Verdict) -> None:
        """Remember `verdict` under `key`; verdicts that are not cacheable are ignored."""
        ...


class MemoryCache:
    """In-process cache for runs without a database: repeats within one run are checked once.

    Least recently used entries go first once `max_entries` is reached. Thread-safe.
    """

    def __init__(self, max_entries: int = 1_000_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Verdict] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Verdict | None:
        with self._lock:
            verdict = self._entries.get(key)
            if verdict is None:
                return None
            self._entries.move_to_end(key)
        return _detached(verdict, cached=True)

    def put(self, key: str, verdict: Verdict) -> None:
        if not is_cacheable(verdict):
            return
        stored = _detached(verdict, cached=False, key=key)
        with self._lock:
            self._entries[key] = stored
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _detached(verdict: Verdict, **changes: object) -> Verdict:
    """A copy whose lists the caller may change freely: stored entries stay as they were put.
    (Messages themselves are frozen; a deep copy would cost five times as much.)"""
    lists = {"messages": list(verdict.messages)}
    if verdict.axioms is not None:
        lists["axioms"] = list(verdict.axioms)
    return verdict.model_copy(update={**lists, **changes})
