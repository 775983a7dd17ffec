"""Records that cross module boundaries: what is checked, and what the engine answers."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class BackendName(str, Enum):
    LEAN = "lean"
    COQ = "coq"


class Status(str, Enum):
    PROVED = "proved"
    FAILED = "failed"
    TIMEOUT = "timeout"
    REJECTED = "rejected"
    ERROR = "error"


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Position(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: int
    column: int


class Message(BaseModel):
    """One message of the prover's own, as it reported it."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    text: str
    pos: Position | None = None
    end_pos: Position | None = None


class Problem(BaseModel):
    """A trusted theorem statement: the part of a candidate that its author may not write."""

    model_config = ConfigDict(frozen=True)

    name: str
    backend: BackendName
    header: str = ""
    statement: str
    split: str | None = None
    source: str | None = None


class SamplerInfo(BaseModel):
    """Where a candidate came from; carried through to the database, never used for checking."""

    model_config = ConfigDict(frozen=True, extra="allow")

    model: str | None = None
    run_id: str | None = None
    temperature: float | None = None
    logp_policy: float | None = None
    logp_base: float | None = None
    step: int | None = None


class Candidate(BaseModel):
    """A proof attempt. `statement` is trusted; `proof` is not.

    With `whole_file`, `proof` is everything after the header and must itself declare `name`;
    otherwise the engine writes the statement and appends `proof` to it.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    backend: BackendName
    header: str = ""
    statement: str | None = None
    proof: str
    whole_file: bool = False
    self_stated: bool = Field(
        default=False,
        description="a whole file whose statement is its own `Theorem` sentence (no problem or "
        "statement field gave one): elaborated before the file runs, under the file's imports",
    )
    sampler: SamplerInfo | None = None


class Verdict(BaseModel):
    """The engine's answer for one candidate. Only `proved` means the proof is correct."""

    name: str
    status: Status
    reason: str | None = Field(
        default=None, description="machine-readable code, e.g. 'policy.sorry'"
    )
    detail: str | None = Field(default=None, description="one human sentence")
    messages: list[Message] = Field(default_factory=list)
    axioms: list[str] | None = None
    time_s: float = 0.0
    backend: BackendName | None = None
    toolchain: str | None = None
    header_hash: str | None = None
    policy_version: str | None = None
    cached: bool = False
    key: str | None = None
    peak_rss_mb: float | None = None

    @property
    def accepted(self) -> bool:
        return self.status is Status.PROVED


class RunInfo(BaseModel):
    id: str
    command: str
    config: dict[str, object] = Field(default_factory=dict)
    started: float
    ended: float | None = None
    outcome: str | None = None  # completed | interrupted | failed; None: running or killed
