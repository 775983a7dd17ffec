"""Lean 4 through the leanprover-community REPL: one warm process per header.

Protocol (the REPL's README and `REPL/Main.lean`): each request is one JSON object followed by a
blank line; each answer is one pretty-printed JSON object followed by a blank line. A command
`{"cmd": text, "env": n}` runs `text` in environment n and answers the new environment's id,
which is the number of environments recorded so far; so the session knows every id in advance
and an answer whose id is not the expected one means the stream is out of step (a candidate
writing to stdout, or garbage): the session is killed rather than trusted.

A check runs these commands, each its own REPL command:
1. once per statement: the trusted statement as `theorem lf_ref_<nonce> … := sorry` in the
   header's env, so its meaning is fixed before any candidate text runs;
2. the candidate, in that env;
3. `#print axioms` of the named theorem in the candidate's env: it exists (it passed the
   kernel) and these are its axioms;
4. the integrity theorem `lf_chk_<nonce> : type_of% @lf_ref_<nonce> := @name`, kernel-checked
   whatever options the candidate set, and its own axiom audit; without a statement, the
   theorem `lf_chk_<nonce> : type_of% @name := @name` instead, which Lean accepts only if the
   constant proves a proposition.
Nothing the candidate writes can reach the answers to 3 and 4: they are separate commands.
"""

from __future__ import annotations

import contextlib
import json
import re
import time

from pydantic import BaseModel, ConfigDict

from leanfilter.backends.base import (
    CheckRequest,
    HeaderError,
    Outcome,
    ProverCrashed,
    ProverError,
    ProverUnavailable,
    RawResult,
    first_error,
    has_error,
)
from leanfilter.backends.lean_common import (
    NOT_INSTALLED,
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
from leanfilter.records import Message, Severity
from leanfilter.sandbox import JailedProcess, SandboxConfig

_ANSWER_END = re.compile(r"\n\n")


class _Reference(BaseModel):
    """The trusted statement elaborated once in a session; `errors` when it does not."""

    model_config = ConfigDict(frozen=True)

    name: str
    statement: str
    env: int | None
    errors: list[Message]


class _Audit(BaseModel):
    declared: bool
    integrity: bool | None
    axioms: list[str] | None
    refusal: Message | None = None


class LeanReplSession:
    """One REPL process with the header elaborated. Answers at once: nothing is deferred."""

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
        self._settings = settings
        self._start()

    def _start(self) -> None:
        """A fresh REPL process with the header elaborated, and no statement known yet."""
        self._process = JailedProcess(self._argv, self._sandbox, self._slot, merge_stderr=False)
        self._next_env = 0
        self._references: dict[str, _Reference] = {}
        deadline = time.monotonic() + self._settings.header_timeout_s
        header = session_header(self.header, self._settings.max_heartbeats)
        try:
            answer = self._command(header, None, deadline)
        except BaseException:
            self.close()
            raise
        messages = _messages(answer)
        if "env" not in answer or has_error(messages):
            self.close()
            raise HeaderError(_first_error(answer, messages))
        self._header_env: int = answer["env"]

    def check(self, request: CheckRequest, timeout: float) -> list[Outcome]:
        started = time.monotonic()
        self.checks += 1
        try:
            return self._check(request, started, started + timeout)
        except ProverCrashed:
            resource = exhausted_resource(self._process.last_words())
            if resource is None:
                raise
        with contextlib.suppress(ProverError):  # else the next check finds it dead: a crash
            self._start()
        return [(request, exhausted_result(resource, started))]

    def _check(self, request: CheckRequest, started: float, deadline: float) -> list[Outcome]:
        reference = None
        if request.statement is not None:
            reference = self._reference(request.statement, deadline)
            if reference.env is None:
                return [(request, self._result([*reference.errors], started, integrity=False))]
        env = reference.env if reference is not None else self._header_env
        answer = self._command(request.body, env, deadline)
        messages = _messages(answer)
        if "env" not in answer:
            failure = Message(severity=Severity.ERROR, text=_first_error(answer, messages))
            integrity = None if reference is None else False
            return [(request, self._result([failure], started, integrity=integrity))]
        audit = self._audit(request.theorem, answer["env"], reference, deadline)
        refusals = [audit.refusal] if audit.refusal is not None else []
        raw = self._result(
            messages + refusals,
            started,
            sorries=len(answer.get("sorries") or []),
            **audit.model_dump(exclude={"refusal"}),
        )
        return [(request, raw)]

    def flush(self, timeout: float) -> list[Outcome]:
        return []

    def pending(self) -> list[CheckRequest]:
        return []

    def rss_mb(self) -> float:
        return self._process.rss_mb()

    def close(self) -> None:
        self._process.kill()

    def abort(self) -> None:
        self._process.abort()

    def _reference(self, statement: str, deadline: float) -> _Reference:
        known = self._references.get(statement)
        if known is not None:
            return known
        name = fresh_name("ref")
        try:
            text = reference_command(name, statement)
        except ValueError as e:
            return _Reference(
                name=name, statement=statement, env=None, errors=[statement_error(str(e))]
            )
        answer = self._command(text, self._header_env, deadline)
        errors = [m for m in _messages(answer) if m.severity is Severity.ERROR]
        if "env" not in answer or errors:
            detail = errors[0].text if errors else _first_error(answer, [])
            reference = _Reference(
                name=name, statement=statement, env=None, errors=[statement_error(detail)]
            )
        else:
            reference = _Reference(name=name, statement=statement, env=answer["env"], errors=[])
        self._references[statement] = reference
        return reference

    def _audit(
        self, theorem: str, env: int, reference: _Reference | None, deadline: float
    ) -> _Audit:
        exists = axiom_report_for(
            _messages(self._command(existence_command(theorem), env, deadline)), theorem
        )
        if exists is None:
            return _Audit(
                declared=False, integrity=None if reference is None else False, axioms=None
            )
        check = fresh_name("chk")
        if reference is None:
            messages = _messages(self._command(proposition_command(check, theorem), env, deadline))
            refusal = not_a_theorem(theorem, check, messages)
            if refusal is not None:
                return _Audit(declared=False, integrity=None, axioms=None, refusal=refusal)
            return _Audit(declared=True, integrity=None, axioms=sorted(exists.axioms))
        command = integrity_command(check, reference.name, theorem, reference.statement)
        answer = self._command(command, env, deadline)
        messages = _messages(answer)
        checked = axiom_report_for(messages, check)
        integrity = checked is not None and not has_error(messages)
        axioms = set(exists.axioms) | set(checked.axioms if checked else [])
        return _Audit(declared=True, integrity=integrity, axioms=sorted(axioms))

    def _command(self, text: str, env: int | None, deadline: float) -> dict[str, object]:
        request: dict[str, object] = {"cmd": text}
        if env is not None:
            request["env"] = env
        self._process.write(json.dumps(request) + "\n\n")
        raw, _ = self._process.read_until(_ANSWER_END, deadline)
        try:
            answer = json.loads(raw)
        except json.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            self.close()
            raise ProverCrashed(
                f"the REPL answered something that is not a JSON object: {raw[:200]!r}"
            )
        if "env" in answer:
            if answer["env"] != self._next_env:
                self.close()
                raise ProverCrashed(
                    f"the REPL's answers are out of step: env {answer['env']!r}, "
                    f"expected {self._next_env}"
                )
            self._next_env += 1
        return answer

    def _result(self, messages: list[Message], started: float, **fields: object) -> RawResult:
        return RawResult(
            messages=messages,
            time_s=time.monotonic() - started,
            peak_rss_mb=self._process.peak_rss_mb(),
            **fields,
        )


def _messages(answer: dict[str, object]) -> list[Message]:
    raw = answer.get("messages") or []
    return [parse_message(m) for m in raw if isinstance(m, dict)] if isinstance(raw, list) else []


def _first_error(answer: dict[str, object], messages: list[Message]) -> str:
    return first_error(messages) or str(answer.get("message", "the REPL gave no environment"))


class LeanReplBackend(LeanBackendBase):
    """Lean 4 checked in warm REPL sessions; the default Lean backend."""

    def open_session(self, header: str, slot: int) -> LeanReplSession:
        argv, sandbox = self._launch()
        return LeanReplSession(argv, sandbox, slot, header, self.settings)

    def _custom_command(self) -> list[str] | None:
        return self.settings.repl_command

    def _default_command(self, toolchain: LeanToolchain) -> list[str]:
        if not toolchain.repl_binary.is_file():
            raise ProverUnavailable(NOT_INSTALLED)
        return toolchain.lake_env(str(toolchain.repl_binary))
