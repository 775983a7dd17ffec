"""The strict policy: the basic floor, text rules in front of the prover, integrity required.

Before checking, `screen` runs the backend's text rules on the candidate's untrusted part (for
a proof, exactly what the backend appends to the trusted statement). They are a first line: they
reject what the prover-level checks cannot see (side effects, trusted compilers, syntax that
rewrites later commands) and save a prover run on the obvious cases. After checking, `judge`
applies BasicPolicy's rules unchanged (errors, sorries, existence, integrity, axioms within the
configured set), also requires that integrity was actually checked whenever a statement was
given, and counts DeepSeek-Prover's rule beside the verdict.
"""

from __future__ import annotations

from leanfilter.backends.base import RawResult
from leanfilter.backends.coq_statement import parse_signature
from leanfilter.backends.lean_common import parse_statement, strip_repeated_statement
from leanfilter.policy.base import Decision
from leanfilter.policy.basic import BasicPolicy
from leanfilter.policy.config import PolicyConfig
from leanfilter.policy.coq_rules import coq_findings
from leanfilter.policy.deepseek import DeepSeekCounter
from leanfilter.policy.findings import Finding
from leanfilter.policy.lean_rules import lean_findings
from leanfilter.policy.unicode_fold import line_of
from leanfilter.records import BackendName, Candidate, Status


class StrictPolicy(BasicPolicy):
    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self.version = self.config.version
        self.deepseek = DeepSeekCounter()

    def screen(self, candidate: Candidate) -> Decision | None:
        if not self.config.text_rules:
            return None
        findings = self.findings(candidate)
        if not findings:
            return None
        first = findings[0]
        line = line_of(untrusted_part(candidate), first.offset)
        return Decision(status=Status.REJECTED, reason=first.reason, detail=first.sentence(line))

    def findings(self, candidate: Candidate) -> list[Finding]:
        """Every text-rule match not allowed by the configuration, in text order."""
        text = untrusted_part(candidate)
        theorem = theorem_name(candidate)
        if candidate.backend is BackendName.LEAN:
            lean = self.config.lean
            found = lean_findings(
                text, theorem=theorem, whole_file=candidate.whole_file, allowed_options=lean.options
            )
            allowed: frozenset[str] = lean.allow
        else:
            found = coq_findings(
                text,
                theorem=theorem,
                statement=None if candidate.self_stated else candidate.statement,
                whole_file=candidate.whole_file,
                tactic_commands=self.config.coq.tactic_commands,
            )
            allowed = self.config.coq.allow
            if candidate.self_stated:  # its statement is read before the file: no name the
                # file gives a meaning reaches it, so a new meaning is no hidden change
                allowed = allowed | {"shadow"}
        return [f for f in found if f.rule not in allowed]

    def allowed_axioms(self, candidate: Candidate) -> frozenset[str]:
        if candidate.backend is BackendName.LEAN:
            return self.config.lean.axioms
        grants = [g.axioms for g in self.config.coq.axioms if g.applies_to(candidate.header)]
        return frozenset().union(*grants)

    def judge(self, candidate: Candidate, raw: RawResult) -> Decision:
        decision = super().judge(candidate, raw)
        unchecked = candidate.statement is not None and raw.integrity is not True
        if decision.status is Status.PROVED and self.config.require_integrity and unchecked:
            decision = Decision(
                status=Status.REJECTED,
                reason="integrity.unchecked",
                detail="the prover did not confirm that the theorem has the given statement",
            )
        if candidate.backend is BackendName.LEAN:
            self.deepseek.count(raw, proved=decision.status is Status.PROVED)
        return decision


def untrusted_part(candidate: Candidate) -> str:
    """The text the candidate's author wrote that the backend will run: a whole file (for Coq
    with the imports it leads with, which become its session's header), or the proof without a
    repeated copy of the statement (the Lean backend drops it the same way; the Coq rules drop
    it sentence by sentence)."""
    if candidate.backend is BackendName.COQ and candidate.whole_file and candidate.header:
        return f"{candidate.header.rstrip()}\n{candidate.proof}"  # a file's imports are its own
    if (
        candidate.backend is BackendName.LEAN
        and not candidate.whole_file
        and candidate.statement is not None
    ):
        return strip_repeated_statement(candidate.statement, candidate.proof)
    return candidate.proof


def theorem_name(candidate: Candidate) -> str:
    """The name the backend checks: the statement's, else the candidate's."""
    if candidate.statement is None:
        return candidate.name
    try:
        if candidate.backend is BackendName.LEAN:
            return parse_statement(candidate.statement).name
        return parse_signature(candidate.statement).name
    except ValueError:
        return candidate.name
