"""The soundness hook between what the prover said and the verdict.

A policy sees each candidate twice: `screen` before any prover runs (text rules), and `judge`
after (the prover's messages, the audit of axioms, statement integrity). Its version goes into
every verdict and every cache key, so changing a rule invalidates what was cached under the old one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from leanfilter.backends.base import RawResult
from leanfilter.records import Candidate, Status


class Decision(BaseModel):
    status: Status
    reason: str | None = None
    detail: str | None = None


@runtime_checkable
class Policy(Protocol):
    version: str

    def screen(self, candidate: Candidate) -> Decision | None:
        """A `rejected` decision before checking, or None to go on to the prover."""
        ...

    def allowed_axioms(self, candidate: Candidate) -> frozenset[str]: ...

    def judge(self, candidate: Candidate, raw: RawResult) -> Decision:
        """The verdict's status from the prover's raw answer."""
        ...
