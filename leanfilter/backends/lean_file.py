"""Lean 4 one file at a time: `lake env lean --json --stdin`, one process per check.

The fallback when the REPL is unavailable, and a cross-check of it. The file is the header, the
trusted reference statement, the candidate, then the same audit commands the REPL session sends
separately (without a statement, the proposition check in place of the integrity theorem).
Appended after the candidate they are weaker: a `#exit` or an unclosed comment in the candidate
hides them, and elaboration-time code can read the whole file and log messages at any position.
So a missing audit answer means not proved, and the REPL remains the default.
`--stdin` keeps the file inside the process: the jail's only writable place is its private tmpfs.
"""

from __future__ import annotations

import json
import time
from typing import Literal

from pydantic import BaseModel

from leanfilter.backends.base import (
    CheckRequest,
    HeaderError,
    Outcome,
    ProverCrashed,
    RawResult,
    first_error,
    has_error,
)
from leanfilter.backends.lean_common import (
    LeanBackendBase,
    LeanSettings,
    LeanToolchain,
    axiom_report_for,
    exhausted_resource,
    exhausted_result,
    existence_command,
    fresh_name,
    integrity_command,
    not_a_theorem,
    parse_message,
    proposition_command,
    reference_command,
    session_header,
    statement_error,
)
from leanfilter.records import Message
from leanfilter.sandbox import JailedProcess, SandboxConfig

Part = Literal["header", "reference", "body", "exists", "integrity", "proposition"]
_LEAN_EXIT_CODES = (0, 1)  # 1: the file has errors; anything else is a crash or a kill


class FileLayout(BaseModel):
    """The checked file and which lines belong to which part of it."""

    text: str = ""
    spans: list[tuple[Part, int, int]] = []

    def add(self, part: Part, text: str) -> FileLayout:
        first = self.text.count("\n") + 1
        last = first + text.rstrip("\n").count("\n")
        return FileLayout(
            text=f"{self.text}{text.rstrip(chr(10))}\n\n", spans=[*self.spans, (part, first, last)]
        )

    def part_of(self, line: int) -> Part:
        """The part a message at `line` belongs to: the last one starting at or before it."""
        found = self.spans[0][0]
        for part, first, _ in self.spans:
            if line >= first:
                found = part
        return found

    def first_line(self, part: Part) -> int:
        return next(first for name, first, _ in self.spans if name == part)


class LeanFileSession:
    """Holds the header; each check is a fresh `lean` process, so nothing is deferred."""

    def __init__(
        self,
        argv: list[str],
        sandbox: SandboxConfig,
        slot: int,
        header: str,
        settings: LeanSettings,
    ) -> None:
        self.header = header
        self.checks = 0
        self._argv = argv
        self._sandbox = sandbox
        self._slot = slot
        self._header_text = session_header(header, settings.max_heartbeats)
        self._live: JailedProcess | None = None
        self._last_words = ""

    def check(self, request: CheckRequest, timeout: float) -> list[Outcome]:
        started = time.monotonic()
        self.checks += 1
        reference = fresh_name("ref")
        check = fresh_name("chk")
        layout = FileLayout().add("header", self._header_text)
        if request.statement is not None:
            try:
                layout = layout.add("reference", reference_command(reference, request.statement))
            except ValueError as e:
                failure = statement_error(str(e))
                return [(request, RawResult(messages=[failure], integrity=False))]
        layout = layout.add("body", request.body).add("exists", existence_command(request.theorem))
        if request.statement is not None:
            command = integrity_command(check, reference, request.theorem, request.statement)
            layout = layout.add("integrity", command)
        else:
            layout = layout.add("proposition", proposition_command(check, request.theorem))
        try:
            lines = self._run(layout.text, started + timeout)
        except ProverCrashed:
            resource = exhausted_resource(self._last_words)
            if resource is None:
                raise
            return [(request, exhausted_result(resource, started))]
        raw = _read_answers(request, layout, lines, check)
        return [(request, raw.model_copy(update={"time_s": time.monotonic() - started}))]

    def flush(self, timeout: float) -> list[Outcome]:
        return []

    def pending(self) -> list[CheckRequest]:
        return []

    def rss_mb(self) -> float:
        return self._live.rss_mb() if self._live is not None else 0.0

    def close(self) -> None:
        if self._live is not None:
            self._live.kill()

    def abort(self) -> None:
        live = self._live
        if live is not None:
            live.abort()

    def _run(self, text: str, deadline: float) -> list[dict[str, object]]:
        process = JailedProcess(self._argv, self._sandbox, self._slot, merge_stderr=False)
        self._live = process
        try:
            process.write(text)
            process.close_input()
            output = process.read_to_end(deadline)
            code = process.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            words = process.last_words()
            if code not in _LEAN_EXIT_CODES or exhausted_resource(words):
                raise ProverCrashed(f"lean exited with code {code}: {(words or output)[-300:]!r}")
            return [_json_line(line) for line in output.splitlines() if line.strip()]
        finally:
            process.kill()
            self._last_words = process.last_words()
            self._live = None


def _json_line(line: str) -> dict[str, object]:
    try:
        parsed = json.loads(line)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ProverCrashed(f"lean --json printed a line that is not a JSON object: {line[:200]!r}")
    return parsed


def _read_answers(
    request: CheckRequest, layout: FileLayout, lines: list[dict[str, object]], check: str
) -> RawResult:
    by_part: dict[Part, list[Message]] = {}
    body_offset = layout.first_line("body") - 1
    sorries = 0
    for line in lines:
        position = line.get("pos")
        at = position.get("line", 0) if isinstance(position, dict) else 0
        part = layout.part_of(at if isinstance(at, int) else 0)
        offset = body_offset if part == "body" else 0
        by_part.setdefault(part, []).append(parse_message(line, line_offset=offset))
        if part == "body" and line.get("kind") == "hasSorry":
            sorries += 1
    header_error = first_error(by_part.get("header", []))
    if header_error is not None:
        raise HeaderError(header_error)
    reference_error = first_error(by_part.get("reference", []))
    if reference_error is not None:
        return RawResult(messages=[statement_error(reference_error)], integrity=False)
    exists = axiom_report_for(by_part.get("exists", []), request.theorem)
    integrity: bool | None = None
    axioms = set(exists.axioms) if exists else set()
    body = by_part.get("body", [])
    if request.statement is None and exists is not None:
        refusal = not_a_theorem(request.theorem, check, by_part.get("proposition", []))
        if refusal is not None:
            body, exists = [*body, refusal], None
    if request.statement is not None:
        integrity_messages = by_part.get("integrity", [])
        checked = axiom_report_for(integrity_messages, check)
        integrity = exists is not None and checked is not None
        integrity = integrity and not has_error(integrity_messages)
        axioms |= set(checked.axioms) if checked else set()
    return RawResult(
        messages=body,
        declared=exists is not None,
        integrity=integrity,
        axioms=sorted(axioms) if exists is not None else None,
        sorries=sorries,
    )


class LeanFileBackend(LeanBackendBase):
    """Lean 4 checked one whole file per process; slower, for fallback and cross-checks."""

    def open_session(self, header: str, slot: int) -> LeanFileSession:
        argv, sandbox = self._launch()
        return LeanFileSession(argv, sandbox, slot, header, self.settings)

    def _custom_command(self) -> list[str] | None:
        return self.settings.lean_command

    def _default_command(self, toolchain: LeanToolchain) -> list[str]:
        return toolchain.lake_env("lean", "--json", "--stdin")
