"""The strict policy's configuration: strict by default, every relaxation named and versioned.

A user allows a construct consciously by naming its rule (`"allow": ["vm"]` for Coq), widens the
Lean options a proof may set, or grants axioms to problems whose trusted header matches a
pattern. The configuration's fingerprint is part of the policy version, so a verdict made under
one configuration is never served from the cache under another.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from leanfilter.backends.coq_imports import required_libraries
from leanfilter.policy.basic import COQ_CLASSICAL_REALS_AXIOMS, LEAN_AXIOMS
from leanfilter.policy.findings import CoqRule, LeanRule

RULES_VERSION = "4"  # verdicts changed: those made under an earlier version are not served
REALS_HEADER = r"(^|\.)Reals(\.|$)"


# A full path of identifiers: `<candidate>.f`, `unsafe:…` and `unresolved:…` are none.
_LIBRARY_PATH = re.compile(r"[^\W\d][\w']*(?:\.[^\W\d][\w']*)+")


class AxiomGrant(BaseModel):
    """Axioms allowed to candidates whose trusted header requires a library whose logical name
    (`Coq.Reals.Reals`, or `Reals` as written) matches `header_pattern`. The header is read as
    Coq reads it: a name inside a comment, or in a sentence that is no `Require`, grants nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    header_pattern: str = Field(
        description="regular expression searched in each library the trusted header requires"
    )
    axioms: frozenset[str] = Field(description="full paths, e.g. Coq.Logic.Classical_Prop.classic")

    @field_validator("header_pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"not a regular expression: {e}") from e
        return pattern

    @field_validator("axioms")
    @classmethod
    def _library_paths(cls, axioms: frozenset[str]) -> frozenset[str]:
        """A verdict names a candidate's own assumption `<candidate>.NAME` and an unsafe flag or
        an unreadable name with a prefix: none is a library's axiom, and granting one would
        accept every candidate's own `Axiom NAME` (or `Admitted`) of that name."""
        refused = sorted(a for a in axioms if not _LIBRARY_PATH.fullmatch(a))
        if refused:
            raise ValueError(f"not a library's axiom (a full path such as Coq.Init.X): {refused}")
        return axioms

    def applies_to(self, header: str) -> bool:
        return any(re.search(self.header_pattern, lib) for lib in required_libraries(header))


class LeanPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allow: frozenset[LeanRule] = Field(
        default=frozenset(), description="text rules switched off, by name"
    )
    options: tuple[str, ...] = Field(
        default=(
            "maxRecDepth",
            "maxHeartbeats",
            "synthInstance.maxHeartbeats",
            "synthInstance.maxSize",
            "pp.*",
            "linter.*",
            "trace.Meta.*",
            "trace.Elab.*",
            "autoImplicit",
            "relaxedAutoImplicit",
            "push_neg.use_distrib",
        ),
        description="options a proof may set (shell patterns); heartbeat and depth bounds "
        "may not be set to 0 (unbounded)",
    )
    axioms: frozenset[str] = Field(default=LEAN_AXIOMS)


class CoqPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allow: frozenset[CoqRule] = Field(
        default=frozenset(), description="text rules switched off, by name"
    )
    tactic_commands: frozenset[str] = Field(
        default=frozenset({"Unshelve"}),
        description="capitalised words that are tactics, allowed after `Proof.`",
    )
    axioms: tuple[AxiomGrant, ...] = Field(
        default=(AxiomGrant(header_pattern=REALS_HEADER, axioms=COQ_CLASSICAL_REALS_AXIOMS),),
        description="classical logic and functional extensionality for the Reals problems",
    )


class PolicyConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lean: LeanPolicy = Field(default_factory=LeanPolicy)
    coq: CoqPolicy = Field(default_factory=CoqPolicy)
    text_rules: bool = Field(
        default=True,
        description="False leaves every decision to the prover-level checks (for measuring "
        "them alone; never for training data)",
    )
    require_integrity: bool = Field(
        default=True,
        description="a candidate with a trusted statement is proved only if the prover "
        "confirmed that its theorem has that statement as its type",
    )

    def fingerprint(self) -> str:
        canonical = json.dumps(_canonical(self.model_dump(mode="json")), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def version(self) -> str:
        return f"strict-{RULES_VERSION}+{self.fingerprint()}"


def _canonical(value: object) -> object:
    """Sets serialise as lists in hash order, which changes between processes: sort them."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def load_policy_config(path: str | Path) -> PolicyConfig:
    """Read a JSON or TOML policy file. Raises ValueError with the reason when it is invalid."""
    path = Path(path)
    text = path.read_text()
    try:
        if path.suffix.lower() == ".toml":
            try:
                import tomllib
            except ImportError as e:  # Python 3.10
                raise ValueError("TOML policy files need Python 3.11 or later; use JSON") from e
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
        return PolicyConfig.model_validate(data)
    except ValidationError as e:
        reasons = "; ".join(
            f"{'.'.join(map(str, x['loc']))}: {x['msg']} (got {x['input']!r})" for x in e.errors()
        )
        raise ValueError(f"{path}: not a policy file: {reasons}") from e
    except ValueError as e:  # JSON and TOML syntax errors are ValueErrors
        raise ValueError(f"{path}: not a policy file: {e}") from e
