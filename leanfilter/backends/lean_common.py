"""What both Lean backends share: settings, the toolchain, the checked text and Lean's answers.

The two protocols differ only in transport: the REPL answers one JSON object per command with
severities `info|warning|error`; `lean --json` prints one JSON object per message and says
`information`. Everything else (how a candidate becomes Lean text, what the audit commands are,
how `#print axioms` reads) lives here once, so the file mode really cross-checks the REPL.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from leanfilter.backends.base import CheckRequest, ProverUnavailable, RawResult, first_error
from leanfilter.records import BackendName, Candidate, Message, Position, Severity
from leanfilter.sandbox import SandboxConfig

NOT_INSTALLED = "Lean is not installed; run `leanfilter setup`"
REPO_LEAN_PROJECT = Path(__file__).resolve().parents[2] / "lean_project"


def _default_project() -> Path:
    configured = os.environ.get("LEANFILTER_LEAN_PROJECT")
    return Path(configured) if configured else REPO_LEAN_PROJECT


def default_elan_home() -> Path:
    """$ELAN_HOME; as root /opt/elan, since the sandbox's uid cannot read /root; else ~/.elan."""
    configured = os.environ.get("ELAN_HOME")
    if configured:
        return Path(configured)
    return Path("/opt/elan") if os.geteuid() == 0 else Path.home() / ".elan"


def _lean_sandbox() -> SandboxConfig:
    """8 GiB of address space per process bounded a 16-process Kimina deployment to 31 GB;
    Lean runs a thread per core, so the uid's process/thread limit must be generous."""
    return SandboxConfig(memory_mb=8192, nproc=4096, output_mb=64)


class LeanSettings(BaseModel):
    """How to run Lean. Every field has a default that works after `leanfilter setup`."""

    model_config = ConfigDict(frozen=True)

    project: Path = Field(
        default_factory=_default_project,
        description="built Lake project: LEANFILTER_LEAN_PROJECT, else the repo's lean_project/",
    )
    mode: Literal["repl", "file"] = "repl"
    repl_command: list[str] | None = Field(
        default=None,
        description="argv that starts the REPL; default `lake env <the project's repl binary>`",
    )
    lean_command: list[str] | None = Field(
        default=None,
        description="argv of a one-shot checker that reads a file on stdin and prints "
        "`lean --json` messages; default `lake env lean --json --stdin`",
    )
    sandbox: SandboxConfig = Field(default_factory=_lean_sandbox)
    timeout_s: float = Field(default=300.0, gt=0, description="per proof, like DeepSeek-Prover")
    header_timeout_s: float = Field(default=900.0, gt=0, description="elaborating the imports")
    max_heartbeats: PositiveInt | None = Field(
        default=None,
        description="finite bound set after the trusted header (which may say 0 = unbounded)",
    )
    elan_home: Path = Field(default_factory=lambda: default_elan_home())


class LeanToolchain(BaseModel):
    """A located, runnable Lean install and the project it serves."""

    model_config = ConfigDict(frozen=True)

    prefix: Path
    project: Path
    description: str = Field(description="what goes into verdicts and cache keys")

    @property
    def lake(self) -> str:
        return str(self.prefix / "bin" / "lake")

    @property
    def repl_binary(self) -> Path:
        return self.project / ".lake" / "packages" / "REPL" / ".lake" / "build" / "bin" / "repl"

    def sandbox_config(self, base: SandboxConfig) -> SandboxConfig:
        """The jail sees a scrubbed PATH; point it at this toolchain and nothing else of elan's."""
        path = f"{self.prefix / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        env = {**base.env, "PATH": path, "LEAN_SYSROOT": str(self.prefix)}
        return base.model_copy(update={"env": env})

    def lake_env(self, *argv: str) -> list[str]:
        return [self.lake, "-d", str(self.project), "env", *argv]


def locate_toolchain(settings: LeanSettings) -> LeanToolchain:
    """Find Lean for `settings.project`. Raises ProverUnavailable with one line when missing."""
    project = settings.project.resolve()
    lean = shutil.which("lean") or _existing(settings.elan_home / "bin" / "lean")
    if lean is None or not (project / "lean-toolchain").is_file():
        raise ProverUnavailable(NOT_INSTALLED)
    prefix = Path(_run_quietly([lean, "--print-prefix"], project))
    version = _run_quietly([str(prefix / "bin" / "lean"), "--version"], project)
    toolchain = LeanToolchain(
        prefix=prefix,
        project=project,
        description=_describe(version, project, settings.max_heartbeats),
    )
    blocked = unreadable_by_sandbox([prefix, project])
    if blocked is not None:
        raise ProverUnavailable(
            f"the sandbox's unprivileged uid cannot read {blocked}; install Lean and the "
            "project under a world-readable path (e.g. ELAN_HOME=/opt/elan, project in /opt)"
        )
    return toolchain


def _existing(path: Path) -> str | None:
    return str(path) if path.is_file() else None


def _run_quietly(argv: list[str], cwd: Path) -> str:
    try:
        out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise ProverUnavailable(NOT_INSTALLED) from e
    return out.stdout.strip()


def _describe(version_line: str, project: Path, max_heartbeats: int | None) -> str:
    found = re.search(r"version ([^,\s]+)", version_line)
    parts = [f"lean {found.group(1) if found else version_line}"]
    parts += [f"{name} {rev[:12]}" for name, rev in _manifest_revisions(project)]
    if max_heartbeats is not None:
        parts.append(f"maxHeartbeats {max_heartbeats}")
    return "; ".join(parts)


def _manifest_revisions(project: Path) -> list[tuple[str, str]]:
    """The pinned revision of each direct dependency: a new Mathlib must miss the cache."""
    try:
        manifest = json.loads((project / "lake-manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return []
    return [
        (p["name"], p["rev"])
        for p in manifest.get("packages", [])
        if not p.get("inherited") and "name" in p and "rev" in p
    ]


def unreadable_by_sandbox(paths: list[Path]) -> Path | None:
    """The first directory on the way to `paths` that the jail's dropped uid cannot enter.

    The jail drops to an unprivileged uid only when the engine runs as root; a toolchain under
    /root (mode 700) is then invisible to the prover and Lean would fail in obscure ways.
    """
    if os.geteuid() != 0:
        return None
    for path in paths:
        for part in [*reversed(path.resolve().parents), path.resolve()]:
            mode = part.stat().st_mode
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                return part
    return None


# ---------------------------------------------------------------------------------------------
# The text Lean checks


class StatementParts(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    signature: str = Field(description="binders and type, between the name and `:=`")
    proposition: bool = Field(description="a theorem; otherwise a definition (ProofNet has some)")

    def declaration(self, name: str) -> str:
        """The keyword and `name`, for a trusted copy of this declaration under a new name."""
        return f"{'theorem' if self.proposition else 'noncomputable def'} {name}"


_LEADING_TRIVIA = re.compile(
    r"\A(?:\s+|--[^\n]*\n|/-(?:[^-]|-(?!/))*-/|@\[[^\]]*\]|(?:private|protected|nonrec|noncomputable)\b)*"
)
_DECLARATION = re.compile(
    r"(?P<keyword>theorem|lemma|def|abbrev)\s+(?P<name>[^\s(\[{⦃:]+)(?P<rest>.*)\Z", re.S
)
_IDENTIFIER = re.compile(r"[^\s()\[\]{}:,;`\"#@$%^&*+=<>/\\|~]+")
_TRAILING_ASSIGN = re.compile(r":=\s*(?:by\b\s*)?(?:sorry\s*)?\Z")


def parse_statement(statement: str) -> StatementParts:
    """Split `theorem NAME SIGNATURE := [by]` (DeepSeek fields end either way; `def` too)."""
    start = _LEADING_TRIVIA.match(statement)
    found = _DECLARATION.match(statement, start.end() if start else 0)
    if found is None:
        raise ValueError("the statement is not a `theorem NAME ... :=` or `def` declaration")
    rest = found.group("rest")
    end = _TRAILING_ASSIGN.search(rest)
    signature = (rest[: end.start()] if end else rest).strip()
    if not signature:
        raise ValueError("the statement has no signature after its name")
    return StatementParts(
        name=found.group("name"),
        signature=signature,
        proposition=found.group("keyword") in ("theorem", "lemma"),
    )


def strip_repeated_statement(statement: str, proof: str) -> str:
    """Drop a copy of the statement at the start of `proof`, compared up to whitespace.

    Models often write the whole theorem again; appending that to the statement would declare
    it twice.
    """
    wanted = [c for c in statement if not c.isspace()]
    if not wanted:
        return proof
    i = 0
    for j, c in enumerate(proof):
        if c.isspace():
            continue
        if c != wanted[i]:
            return proof
        i += 1
        if i == len(wanted):
            return proof[j + 1 :]
    return proof


def join_statement_and_proof(statement: str, proof: str) -> str:
    """Concatenate as DeepSeek-Prover does, adding a space only where two words would fuse."""
    fuse = statement and proof and not statement[-1].isspace() and not proof[0].isspace()
    return f"{statement} {proof}" if fuse else statement + proof


def assemble(candidate: Candidate, tag: int) -> CheckRequest:
    """The trusted statement followed by the untrusted proof; whole files go as they are."""
    if candidate.backend is not BackendName.LEAN:
        raise ValueError(f"a {candidate.backend.value} candidate given to the Lean backend")
    theorem = candidate.name
    if candidate.statement is not None:
        theorem = parse_statement(candidate.statement).name
    if not _IDENTIFIER.fullmatch(theorem):
        raise ValueError(f"{theorem!r} is not a Lean name: it would be spliced into audit commands")
    if candidate.whole_file:
        body = candidate.proof
    elif candidate.statement is None:
        raise ValueError("a proof without a statement must be a whole file")
    else:
        proof = strip_repeated_statement(candidate.statement, candidate.proof)
        body = join_statement_and_proof(candidate.statement, proof)
    return CheckRequest(tag=tag, theorem=theorem, body=body, statement=candidate.statement)


def session_header(header: str, max_heartbeats: int | None) -> str:
    """The trusted header, with the configured finite heartbeat bound after it."""
    if max_heartbeats is None:
        return header
    return f"{header.rstrip()}\n\nset_option maxHeartbeats {max_heartbeats}\n"


# ---------------------------------------------------------------------------------------------
# The audit: commands the candidate never writes


def fresh_name(kind: str) -> str:
    """A constant name no candidate can have chosen in advance."""
    return f"lf_{kind}_{secrets.token_hex(8)}"


def reference_command(reference: str, statement: str) -> str:
    """The trusted statement elaborated in the header's env, before any candidate text runs:
    later notation, `open` or instances written by the candidate cannot change its meaning."""
    parts = parse_statement(statement)
    return f"{parts.declaration(reference)} {parts.signature} := sorry"


def qualified(theorem: str) -> str:
    """`theorem` as the audit commands name it: `_root_` escapes any namespace the candidate
    left open (the name itself was checked to be a plain Lean name by `assemble`)."""
    return f"_root_.{theorem}"


def existence_command(theorem: str) -> str:
    """Answers only if the constant exists (so it passed the kernel), with its axioms."""
    return f"#print axioms {qualified(theorem)}"


def _audited_theorem(check: str, declaration: str, type_: str, value: str) -> str:
    """`check` declared as `type_ := value`, kernel-checked whatever options the candidate set,
    followed by its own axiom audit: an answer about `check` is positive evidence that it was
    accepted, which no message the candidate logs can give (it cannot know the nonce)."""
    return (
        "set_option debug.skipKernelTC false in\n"
        f"{declaration} : {type_} := {value}\n"
        f"{existence_command(check)}"
    )


def integrity_command(check: str, reference: str, theorem: str, statement: str) -> str:
    """A new theorem whose type is the reference's and whose proof is the candidate's constant.

    If it is accepted, the candidate's constant proves the trusted statement (up to
    definitional unfolding, which the kernel re-checks here whatever the candidate set).
    """
    declaration = parse_statement(statement).declaration("_root_." + check)
    return _audited_theorem(
        check, declaration, f"type_of% @_root_.{reference}", f"@{qualified(theorem)}"
    )


def proposition_command(check: str, theorem: str) -> str:
    """Without a trusted statement: a `theorem` whose type is the constant's own type, accepted
    only if that type is a proposition (so `def x := 0` is no proof of anything).

    `theorem` with a type that is not a Prop is refused by the elaborator and again by the
    kernel ("type of theorem … is not a proposition"); unlike a `(fun (P : Prop) (_ : P) => …)`
    application, nothing is coerced, so an instance the candidate declares cannot turn a
    non-proposition into one. `@` keeps implicit and auto-bound arguments as binders (a Π into
    Prop is a Prop); the type's universe levels become `check`'s own parameters, unassigned, so
    no level is specialised to make the type a Prop, and none hides in the value.
    """
    return _audited_theorem(
        check,
        f"theorem _root_.{check}",
        f"type_of% @{qualified(theorem)}",
        f"@{qualified(theorem)}",
    )


def not_a_theorem(theorem: str, check: str, messages: list[Message]) -> Message | None:
    """Why `messages`, Lean's answer to `proposition_command`, do not show `theorem` to be a
    proof of a proposition; None when they do (an audit of `check` and no error)."""
    error = first_error(messages)
    if error is not None:
        text = f"`{theorem}` is no theorem: Lean refused it as a proof of a proposition: {error}"
    elif axiom_report_for(messages, check) is None:
        text = f"`{theorem}` is not shown to be a theorem: no answer to the proposition check"
    else:
        return None
    return Message(severity=Severity.ERROR, text=text)


class AxiomReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    constant: str
    axioms: list[str]


_AXIOMS = re.compile(
    r"\A'(?P<name>.+?)' (?:depends on axioms: \[(?P<axioms>[^\]]*)\]|does not depend on any axioms)"
    r"\s*\Z",
    re.S,
)


def parse_axioms(text: str) -> AxiomReport | None:
    """Read one `#print axioms` answer; the list may wrap over several indented lines."""
    found = _AXIOMS.match(text.strip())
    if found is None:
        return None
    listed = found.group("axioms") or ""
    axioms = [a.strip() for a in listed.split(",") if a.strip()]
    return AxiomReport(constant=found.group("name"), axioms=axioms)


def axiom_report_for(messages: list[Message], constant: str) -> AxiomReport | None:
    """The `#print axioms` answer about exactly `constant` among `messages`, if any."""
    for message in messages:
        if message.severity is Severity.INFO:
            report = parse_axioms(message.text)
            if report is not None and report.constant == constant:
                return report
    return None


# ---------------------------------------------------------------------------------------------
# Lean's messages, from either protocol

_SEVERITY = {
    "info": Severity.INFO,
    "information": Severity.INFO,
    "warning": Severity.WARNING,
    "error": Severity.ERROR,
}


def parse_message(raw: dict[str, object], line_offset: int = 0) -> Message:
    """One message of the REPL (`data`, `info`) or of `lean --json` (`data`, `information`).

    An unknown severity counts as an error: a new Lean must not turn a failure into silence.
    """
    severity = _SEVERITY.get(str(raw.get("severity")), Severity.ERROR)
    return Message(
        severity=severity,
        text=str(raw.get("data", "")),
        pos=_position(raw.get("pos"), line_offset),
        end_pos=_position(raw.get("endPos"), line_offset),
    )


def _position(raw: object, line_offset: int) -> Position | None:
    if not isinstance(raw, dict):
        return None
    line, column = raw.get("line"), raw.get("column")
    if not isinstance(line, int) or not isinstance(column, int):
        return None
    return Position(line=line - line_offset, column=column)


def statement_error(detail: str) -> Message:
    """Reported instead of running the candidate when the trusted statement itself is broken."""
    return Message(
        severity=Severity.ERROR, text=f"the trusted statement does not elaborate: {detail}"
    )


# Lean's runtime writes these to stderr as it dies: a failed allocation panics and exits 1
# (src/runtime/object.cpp), a fault in a thread's stack guard page aborts (stack_overflow.cpp).
_DYING_WORDS = {"INTERNAL PANIC: out of memory": "memory", "Stack overflow detected": "stack"}


def exhausted_resource(last_words: str) -> str | None:
    """The resource whose exhaustion killed Lean: the candidate's doing, so a verdict, not a retry.

    Forging these words on stderr only turns the forger's own check into a failure.
    """
    return next((res for words, res in _DYING_WORDS.items() if words in last_words), None)


def exhausted_result(resource: str, started: float) -> RawResult:
    died = Message(severity=Severity.ERROR, text=f"Lean ran out of {resource} and died")
    return RawResult(messages=[died], exhausted=resource, time_s=time.monotonic() - started)


# ---------------------------------------------------------------------------------------------
# What both backends do the same way


class LeanBackendBase(ABC):
    """Settings, toolchain and assembly; subclasses say how a session talks to Lean."""

    name = BackendName.LEAN

    def __init__(self, settings: LeanSettings | None = None) -> None:
        self.settings = settings or LeanSettings()
        self._toolchain: LeanToolchain | None = None

    @property
    def default_timeout(self) -> float:
        return self.settings.timeout_s

    def toolchain(self) -> str:
        custom = self._custom_command()
        if custom is not None:
            return "custom command: " + " ".join(custom)
        toolchain = self._located()
        self._default_command(toolchain)  # raises when this mode's program is not built
        return toolchain.description

    def assemble(self, candidate: Candidate, tag: int) -> CheckRequest:
        return assemble(candidate, tag)

    def _located(self) -> LeanToolchain:
        if self._toolchain is None:
            self._toolchain = locate_toolchain(self.settings)
        return self._toolchain

    def _launch(self) -> tuple[list[str], SandboxConfig]:
        """The argv that starts this backend's Lean process, and the jail it runs in."""
        custom = self._custom_command()
        if custom is not None:
            return list(custom), self.settings.sandbox
        toolchain = self._located()
        return self._default_command(toolchain), toolchain.sandbox_config(self.settings.sandbox)

    @abstractmethod
    def _custom_command(self) -> list[str] | None:
        """The argv configured in the settings for this mode, if any."""

    @abstractmethod
    def _default_command(self, toolchain: LeanToolchain) -> list[str]:
        """The argv that runs this mode's Lean program; ProverUnavailable when it is not built."""
