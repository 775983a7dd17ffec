"""Highest assurance for Coq: an accepted proof compiled again from scratch and its `.vo` re-checked
by `coqchk`, Coq's stand-alone kernel checker, in a fresh jail.

What this adds to the session's own checks:
- a process in which no other candidate ran: nothing can leak through the session's `BackTo`;
- coqchk's own type checker, whose conversion never uses the bytecode VM, so a VM bug behind an
  allowed `vm_compute` does not pass;
- the typing flags recorded in the `.vo`: unsafe (co)fixpoints, type-in-type, assumed positivity;
- the axioms the proof's own library declares.

The file is the header, the trusted statement, the candidate inside a module, and the integrity
definition, as in the session. coqchk runs with `-norec`: the standard library is trusted (it is
checked once, where Coq is installed), only the candidate's library is re-checked. The jail runs
one fixed shell script; the candidate's text only ever arrives on stdin.
"""

from __future__ import annotations

import functools
import re
import secrets
import shutil
import threading
import time
from collections.abc import Sequence

from pydantic import BaseModel, Field

from leanfilter.backends.base import (
    CheckRequest,
    ProverCrashed,
    ProverError,
    ProverTimeout,
    ProverUnavailable,
    ReplayResult,
)
from leanfilter.sandbox import JailedProcess, SandboxConfig

LIBRARY = "LfReplay"
_SCRIPT = """
coqc="$1"; coqchk="$2"; marker="$3"; shift 3
cat > lf_replay.v || exit 97
"$coqc" "$@" -Q . LfReplay lf_replay.v > coqc.out 2>&1
code=$?
if [ "$code" -ne 0 ]; then tail -c 2000 coqc.out; echo; echo "$marker coqc $code"; exit 0; fi
"$coqchk" -silent -o -Q . LfReplay -norec LfReplay.lf_replay 2>&1
echo "$marker coqchk $?"
"""
# sh, and coqc or coqchk under it: both run under the jail's uid, one after the other
_NPROC = 4


class ReplaySettings(BaseModel):
    coqc: str = "coqc"
    coqchk: str = "coqchk"
    sandbox: SandboxConfig = Field(
        default_factory=lambda: SandboxConfig(memory_mb=3072, nproc=_NPROC)
    )


def replay_file(header: str, requests: list[CheckRequest]) -> str:
    """The checked text as one file, under fresh names the candidates cannot mention.

    Every trusted statement is elaborated right after the header, before any candidate runs, so
    nothing a candidate declares can change what another one's statement means.
    """
    nonces = [secrets.token_hex(6) for _ in requests]
    lines = [header.rstrip(), ""]
    for nonce, request in zip(nonces, requests, strict=True):
        if request.statement is not None:
            lines.append(f"Definition lf_ref_{nonce} := {request.statement}.")
    for nonce, request in zip(nonces, requests, strict=True):
        lines += [f"Module lf_m_{nonce}.", request.body.rstrip(), f"End lf_m_{nonce}."]
        target = f"lf_m_{nonce}.{request.theorem}"
        if request.statement is not None:
            lines.append(f"Definition lf_chk_{nonce} : lf_ref_{nonce} := {target}.")
        else:
            lines.append(f"Check {target}.")
    return "\n".join(lines) + "\n"


class CoqReplayer:
    """Runs replays; remembers the live ones so that a cancelled run can kill them.

    Requests that may share a file are replayed together, in one coqc and one coqchk: the
    libraries' loading, which dominates, is paid once. Only a batch that passes whole counts;
    otherwise each request is replayed alone, so no verdict depends on its neighbours.
    """

    def __init__(self, settings: ReplaySettings | None = None, flags: Sequence[str] = ()) -> None:
        """`flags`: the sessions' coqtop flags, so that coqc elaborates as they did."""
        self.settings = settings or ReplaySettings()
        self._flags = list(flags)
        self._live: set[JailedProcess] = set()
        self._lock = threading.Lock()
        self._aborts = 0

    def replay(
        self, header: str, requests: list[CheckRequest], timeout: float, slot: int
    ) -> list[ReplayResult]:
        generation = self._aborts
        if len(requests) > 1 and all(r.batch_audit for r in requests):
            batch = self._one(header, requests, timeout * len(requests), slot, generation)
            if batch.outcome == "confirmed":
                share = batch.time_s / len(requests)
                return [batch.model_copy(update={"time_s": share}) for _ in requests]
        return [self._one(header, [r], timeout, slot, generation) for r in requests]

    def abort_replays(self) -> None:
        with self._lock:
            self._aborts += 1
            live = list(self._live)
        for process in live:
            process.abort()

    def _one(
        self, header: str, requests: list[CheckRequest], timeout: float, slot: int, generation: int
    ) -> ReplayResult:
        started = time.monotonic()
        try:
            text = replay_file(header, requests)
            output, marker = self._run(text, started + timeout, slot, generation)
            result = judge_output(output, marker)
        except ProverTimeout:
            result = ReplayResult(outcome="timeout", detail="the replay ran past the time limit")
        except ProverUnavailable as e:
            result = ReplayResult(outcome="unavailable", detail=str(e))
        except ProverError as e:
            result = ReplayResult(outcome="crashed", detail=str(e))
        return result.model_copy(update={"time_s": time.monotonic() - started})

    def _run(self, text: str, deadline: float, slot: int, generation: int) -> tuple[str, str]:
        programs = [_located(self.settings.coqc), _located(self.settings.coqchk)]
        marker = f"lf-replay-{secrets.token_hex(8)}"
        argv = ["/bin/sh", "-c", _SCRIPT, "sh", *programs, marker, *self._flags]
        with self._lock:
            if self._aborts != generation:
                raise ProverCrashed("the run was cancelled")
            process = JailedProcess(argv, self.settings.sandbox, slot, merge_stderr=True)
            self._live.add(process)
        try:
            process.write(text)
            process.close_input()
            return process.read_to_end(deadline), marker
        finally:
            with self._lock:
                self._live.discard(process)
            process.kill()


@functools.cache
def _located(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise ProverUnavailable(f"`{program}` is not installed; replay needs coqc and coqchk")
    return path


def judge_output(output: str, marker: str) -> ReplayResult:
    """The script's output: coqc's last words if it failed, else coqchk's report."""
    ends = re.findall(rf"^{re.escape(marker)} (coqc|coqchk) (\d+)$", output, re.M)
    if not ends:
        raise ProverCrashed(f"replay ended without its report: {output[-300:]!r}")
    program, code = ends[-1]
    report = output[: output.rfind(marker)].strip()
    if int(code) >= 128 or "Out of memory" in report:  # killed, or out of memory: no opinion
        return ReplayResult(outcome="crashed", detail=f"{program} died: {_last(report)}")
    if program == "coqc":
        return _rejected(f"coqc rejects it in a fresh process: {_last(report)}")
    if code != "0":
        return _rejected(f"coqchk rejects the compiled proof: {_last(report)}")
    sections = summary_sections(report)
    if sections is None:
        raise ProverCrashed(f"coqchk printed no context summary: {report[-300:]!r}")
    own = [a for a in sections.get("Axioms", []) if a.startswith(f"{LIBRARY}.")]
    if own:
        return _rejected(f"coqchk: the proof declares axioms: {', '.join(own)}")
    if sections.get("Theory") != ["Set is predicative"]:
        return _rejected(f"coqchk: theory {sections.get('Theory')}")
    for title, items in sections.items():
        if title not in ("Axioms", "Theory") and items:
            return _rejected(f"coqchk: {title}: {', '.join(items)}")
    return ReplayResult(
        outcome="confirmed", detail="compiled afresh by coqc and re-checked by coqchk"
    )


def _rejected(detail: str) -> ReplayResult:
    return ReplayResult(outcome="rejected", detail=detail)


def summary_sections(report: str) -> dict[str, list[str]] | None:
    """coqchk's CONTEXT SUMMARY: each `* Title:` with the items listed under it or after it."""
    if "CONTEXT SUMMARY" not in report:
        return None
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in report[report.rfind("CONTEXT SUMMARY") :].splitlines():
        heading = re.match(r"\* (.+?):\s*(.*)$", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
            inline = heading.group(2).strip()
            if inline and inline != "<none>":
                current.append(inline)
        elif current is not None and line.startswith("    ") and line.strip():
            current.append(line.strip())
    return sections


def _last(report: str) -> str:
    lines = [line.strip() for line in report.splitlines() if line.strip()]
    return " ".join(lines[-3:])[:500] if lines else "no message"
