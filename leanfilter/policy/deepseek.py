"""DeepSeek-Prover's acceptance rule, counted beside our verdicts but never deciding.

DeepSeek-Prover counts a Lean proof complete when it has no error, the REPL reports no `sorries`,
and no warning contains `declaration uses 'sorry'` or `failed`. Published numbers use it, so it
is worth knowing where it and the axiom audit disagree. It must not decide: Lean 4.28 spells the
warning with backticks (the string test silently weakens), `admit` elaborates to `sorryAx`
without a `sorries` entry, and `native_decide` passes it while depending on `Lean.ofReduceBool`.
"""

from __future__ import annotations

import threading

from pydantic import BaseModel

from leanfilter.backends.base import RawResult
from leanfilter.records import Severity

_SORRY_WARNING = "declaration uses 'sorry'"


def deepseek_accepts(raw: RawResult) -> bool:
    """The rule exactly as published, string tests included."""
    if raw.sorries:
        return False
    for message in raw.messages:
        if message.severity is Severity.ERROR:
            return False
        if message.severity is Severity.WARNING and (
            _SORRY_WARNING in message.text or "failed" in message.text
        ):
            return False
    return True


class DeepSeekTally(BaseModel):
    """How DeepSeek-Prover's rule and the policy's verdicts compare, over judged Lean candidates."""

    both_accept: int = 0
    both_reject: int = 0
    only_deepseek_accepts: int = 0  # what the rule would wrongly count as proved
    only_policy_accepts: int = 0

    @property
    def total(self) -> int:
        return (
            self.both_accept
            + self.both_reject
            + self.only_deepseek_accepts
            + self.only_policy_accepts
        )


class DeepSeekCounter:
    """A thread-safe tally: judgements arrive from the pool's worker threads."""

    def __init__(self) -> None:
        self._tally = DeepSeekTally()
        self._lock = threading.Lock()

    def count(self, raw: RawResult, proved: bool) -> None:
        field = {
            (True, True): "both_accept",
            (False, False): "both_reject",
            (True, False): "only_deepseek_accepts",
            (False, True): "only_policy_accepts",
        }[(deepseek_accepts(raw), proved)]
        with self._lock:
            setattr(self._tally, field, getattr(self._tally, field) + 1)

    def snapshot(self) -> DeepSeekTally:
        with self._lock:
            return self._tally.model_copy()
