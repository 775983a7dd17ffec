"""Builds replay scripts and backends wired to the replay doubles (never to real Lean).

Scripts go to a world-readable directory: the jail may run the double as an unprivileged uid.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from doubles.readable import jail_readable

from leanfilter.backends.lean_common import LeanSettings, unreadable_by_sandbox
from leanfilter.records import BackendName, Candidate
from leanfilter.sandbox import SandboxConfig

REPLAY_DIR = Path(__file__).resolve().parent
HANDWRITTEN: dict[str, str] = json.loads((REPLAY_DIR / "handwritten.json").read_text())["answers"]


def transcripts_dir() -> Path:
    return REPLAY_DIR.parents[1] / "data" / "lean_repl_transcripts"


# What the doubles run and read, where the jail's uid can read it whatever the checkout's folder.
READABLE_REPLAY_DIR = jail_readable(REPLAY_DIR)
READABLE_TRANSCRIPTS = jail_readable(transcripts_dir())


def answer(match: str, key: str, **extra: object) -> dict:
    """A rule answering with a hand-written answer (see handwritten.json)."""
    return {"match": match, "answer": HANDWRITTEN[key], **extra}


def recorded(match: str, ref: str, **extra: object) -> dict:
    """A rule answering with an answer the real REPL gave in its test suite."""
    return {"match": match, "recorded": ref, **extra}


def fault(match: str, kind: str, **extra: object) -> dict:
    return {"match": match, "fault": kind, **extra}


HEADER = recorded(r"\Aimport", "import_lean#0")
REFERENCE = recorded(r"\Atheorem lf_ref_", "term_sorry#0")
EXISTS = answer(r"\A#print axioms _root_\.(\S+)\Z", "axioms_classical")
INTEGRITY = answer(
    r"theorem _root_\.(lf_chk_[0-9a-f]+) : type_of% @_root_\.lf_ref_", "integrity_ok"
)
PROVED = recorded(r"\Atheorem foo", "trace_simp#1")
# Without a statement the check theorem's type is the constant's own (`type_of% @_root_.NAME`).
_PROPOSITION_CHECK = r"theorem _root_\.(lf_chk_[0-9a-f]+) : type_of% @_root_\.(?!lf_ref_)"
PROPOSITION = answer(_PROPOSITION_CHECK, "integrity_ok")
NOT_A_PROPOSITION = answer(_PROPOSITION_CHECK, "not_a_proposition")
DEFINITION = answer(r"\Adef x := 0\Z", "ok")

HEADER_TEXT = "import Mathlib\n"
STATEMENT = "theorem foo : 1 + 1 = 2 := by"


def foo_candidate(proof: str = "\n  norm_num", statement: str | None = STATEMENT) -> Candidate:
    """The theorem the rules above answer for: its statement trusted, or (None) a whole file."""
    return Candidate(
        name="foo",
        backend=BackendName.LEAN,
        header=HEADER_TEXT,
        statement=statement,
        proof=proof if statement else f"theorem foo : 1 + 1 = 2 := by{proof}",
        whole_file=statement is None,
    )


def definition_candidate() -> Candidate:
    """A whole file that names a definition, not a theorem: it proves nothing."""
    return Candidate(
        name="x", backend=BackendName.LEAN, header=HEADER_TEXT, proof="def x := 0", whole_file=True
    )


def sandbox_python() -> str:
    """An interpreter the jail's uid can run: a pyenv under /root (mode 700) is not one."""
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        path = Path(candidate)
        if path.is_file() and unreadable_by_sandbox([path]) is None:
            return candidate
    raise RuntimeError("no Python interpreter readable by the sandbox's unprivileged uid")


class ReplayWorld:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="leanfilter-replay-"))
        self.root.chmod(0o755)
        self._count = 0

    def script(self, rules: list[dict]) -> Path:
        self._count += 1
        path = self.root / f"script{self._count}.json"
        path.write_text(json.dumps({"transcripts": str(READABLE_TRANSCRIPTS), "rules": rules}))
        path.chmod(0o644)
        return path

    def repl_settings(self, rules: list[dict], **sandbox: object) -> LeanSettings:
        script = str(self.script(rules))
        command = [sandbox_python(), "-I", str(READABLE_REPLAY_DIR / "replay_repl.py"), script]
        return LeanSettings(repl_command=command, sandbox=SandboxConfig(**sandbox))

    def file_settings(self, rules: list[dict], **sandbox: object) -> LeanSettings:
        script = str(self.script(rules))
        command = [sandbox_python(), "-I", str(READABLE_REPLAY_DIR / "replay_lean_json.py"), script]
        return LeanSettings(mode="file", lean_command=command, sandbox=SandboxConfig(**sandbox))
