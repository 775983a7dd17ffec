"""The contract every proof assistant is driven through.

A backend turns a candidate into text for its prover and opens sessions. A session owns one live
prover process with the header already elaborated, so each check pays only for the proof. Nothing
here knows about caching, the database or the soundness policy: a session reports what the prover
said (messages, whether the theorem exists, its axioms, whether its type is the trusted statement)
and the policy decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from leanfilter.records import BackendName, Candidate, Message, Severity


class ProverError(Exception):
    """Base of the failures that are the engine's, not the candidate's."""


class ProverUnavailable(ProverError):
    """The prover is not installed. The message is one line that says how to get it."""


class ProverTimeout(ProverError):
    """A check ran past its deadline; the session has been killed."""


class ProverCrashed(ProverError):
    """The prover process died or answered garbage; the session has been killed."""


class HeaderError(ProverError):
    """The trusted header itself does not elaborate, so no candidate under it can be checked."""


class StatementError(HeaderError):
    """The statement does not elaborate under the header alone (before the candidate runs)."""


def first_error(messages: Iterable[Message]) -> str | None:
    """The text of the prover's first error, if it reported any."""
    return next((m.text for m in messages if m.severity is Severity.ERROR), None)


def has_error(messages: Iterable[Message]) -> bool:
    return first_error(messages) is not None


def header_hash(header: str) -> str:
    return hashlib.sha256(header.encode()).hexdigest()[:16]


class CheckRequest(BaseModel):
    """What a session checks: `body` follows the header and must end with `theorem` proved."""

    model_config = ConfigDict(frozen=True)

    tag: int = Field(description="the caller's id for this request, echoed in the outcome")
    theorem: str
    body: str
    statement: str | None = Field(
        default=None,
        description="trusted statement; the prover checks the theorem's type against it",
    )
    own_statement: bool = Field(
        default=False,
        description="the statement is the file's own: names it leaves unresolved under the header "
        "are read as binders, applied to the file's constants of those names",
    )
    allowed_axioms: frozenset[str] = frozenset()
    batch_audit: bool = Field(
        default=True, description="a session may audit several accepted theorems in one query"
    )


class RawResult(BaseModel):
    """What the prover said about one request, before any policy is applied."""

    messages: list[Message] = Field(default_factory=list)
    declared: bool = Field(default=False, description="the theorem exists after the body ran")
    integrity: bool | None = Field(
        default=None, description="its type is the trusted statement; None when none was given"
    )
    axioms: list[str] | None = Field(default=None, description="None when not audited")
    axioms_exact: bool = Field(
        default=True, description="False when `axioms` is the union over a batch audited together"
    )
    sorries: int = 0
    exhausted: str | None = Field(
        default=None, description="a resource limit the check ran into: 'memory', 'output', …"
    )
    sentences_disagree: str | None = Field(
        default=None,
        description="how the sentences the prover ran differ from those the text rules read; "
        "None when they agree",
    )
    time_s: float = 0.0
    peak_rss_mb: float | None = None


Outcome = tuple[CheckRequest, RawResult]


@runtime_checkable
class Session(Protocol):
    """One live prover process, its header elaborated. Not thread-safe: one caller at a time."""

    header: str
    checks: int

    def check(self, request: CheckRequest, timeout: float) -> list[Outcome]:
        """Check one request. Returns its outcome, or nothing when the audit is deferred to flush().

        Raises ProverTimeout or ProverCrashed after killing the process; requests still pending
        are then available from pending().
        """
        ...

    def flush(self, timeout: float) -> list[Outcome]:
        """Finish every deferred audit and return those outcomes."""
        ...

    def pending(self) -> list[CheckRequest]:
        """Requests checked but not yet answered (their audit is deferred)."""
        ...

    def rss_mb(self) -> float:
        """Resident memory of the whole process tree now."""
        ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """Kill the prover now, from any thread; the check in progress raises ProverCrashed."""
        ...


class ReplayResult(BaseModel):
    """A second opinion on an accepted proof, from a process in which nothing else ran."""

    outcome: Literal["confirmed", "rejected", "timeout", "crashed", "unavailable"]
    detail: str = Field(description="why not, in one line; or what was checked")
    time_s: float = 0.0


@runtime_checkable
class Replayer(Protocol):
    """A backend that can check accepted proofs again from scratch, with an independent
    checker (highest assurance: `verify --replay`)."""

    def replay(
        self, header: str, requests: list[CheckRequest], timeout: float, slot: int
    ) -> list[ReplayResult]:
        """One result per request, in order. Requests that may share a file (`batch_audit`)
        can be replayed together; `timeout` is per request."""
        ...

    def abort_replays(self) -> None:
        """Kill every replay in progress, from any thread; none starts until the next call."""
        ...


@runtime_checkable
class Backend(Protocol):
    name: BackendName
    default_timeout: float  # seconds per proof when the caller sets none

    def toolchain(self) -> str:
        """The prover's version, as it goes into verdicts and cache keys.

        Raises ProverUnavailable with a one-line how-to when the prover is missing.
        """
        ...

    def assemble(self, candidate: Candidate, tag: int) -> CheckRequest:
        """Write the text the prover checks: the trusted statement, then the untrusted proof."""
        ...

    def open_session(self, header: str, slot: int) -> Session:
        """Start a prover with `header` elaborated; `slot` names the worker (sandbox uid)."""
        ...
