"""Kimina Lean Server's `/api/check` schema, so that its published client works unchanged.

A snippet is a whole file; its `id` names the theorem it must prove (our verdicts are per
theorem). Each result carries Kimina's fields, read by the client as Kimina reads them
(an `error` with "timed out" is a timeout, an error message is a failure, `sorries` a sorry,
neither a valid proof), and our own verdict beside them under `verdict`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from leanfilter.records import Message, Severity, Status, Verdict


class Snippet(BaseModel):
    id: str
    code: str


class CheckRequest(BaseModel):
    snippets: list[Snippet] = Field(min_length=1)
    timeout: int = Field(default=30, ge=0)
    debug: bool = False
    reuse: bool = True
    infotree: str | None = None


def snippet_record(snippet: Snippet) -> dict[str, str]:
    """The snippet as one of `verify`'s input lines (a whole file)."""
    return {"name": snippet.id, "code": snippet.code}


def check_result(snippet_id: str, verdict: Verdict) -> dict[str, Any]:
    """One entry of the response's `results`, in Kimina's terms."""
    result: dict[str, Any] = {
        "id": snippet_id,
        "time": verdict.time_s,
        "verdict": verdict.model_dump(mode="json"),
    }
    if verdict.status is Status.TIMEOUT:
        result["error"] = f"timed out: {verdict.detail or 'ran past the time limit'}"
    elif verdict.status is Status.ERROR:
        result["error"] = f"{verdict.reason}: {verdict.detail}"
    elif verdict.status is Status.PROVED:
        kept = [m for m in verdict.messages if m.severity is not Severity.ERROR]
        result["response"] = {"env": 0, "messages": [_message(m) for m in kept]}
    elif "sorry" in (verdict.reason or ""):
        sorry = {"pos": _ORIGIN, "endPos": _ORIGIN, "goal": verdict.detail or ""}
        result["response"] = {"env": 0, "messages": [], "sorries": [sorry]}
    else:
        messages = [_message(m) for m in verdict.messages]
        if not any(m.severity is Severity.ERROR for m in verdict.messages):
            text = f"{verdict.reason}: {verdict.detail}"
            messages.append({"severity": "error", "pos": _ORIGIN, "data": text})
        result["response"] = {"env": 0, "messages": messages}
    return result


_ORIGIN = {"line": 0, "column": 0}


def _message(message: Message) -> dict[str, Any]:
    pos = message.pos.model_dump() if message.pos else _ORIGIN
    end = message.end_pos.model_dump() if message.end_pos else None
    return {"severity": message.severity.value, "pos": pos, "endPos": end, "data": message.text}
