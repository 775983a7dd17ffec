"""The minimal policy every verdict passes: the prover's own word, its audit and integrity.

`proved` needs: no error message; no `sorry`/`admit`/`Admitted` in the proof (a first line of
defence, by text); no sorry reported by the prover, however its warning is spelled; the theorem
present after checking; its type the trusted statement; and its axioms inside the allowed set.
Whatever a stricter policy adds, it adds on top of these.
"""

from __future__ import annotations

import re

from leanfilter.backends.base import HeaderError, RawResult, StatementError
from leanfilter.policy.base import Decision
from leanfilter.records import BackendName, Candidate, Severity, Status

LEAN_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
COQ_CLASSICAL_REALS_AXIOMS = frozenset(
    {
        "Coq.Reals.ClassicalDedekindReals.sig_forall_dec",
        "Coq.Reals.ClassicalDedekindReals.sig_not_dec",
        "Coq.Logic.FunctionalExtensionality.functional_extensionality_dep",
        "Coq.Logic.Classical_Prop.classic",
    }
)
_GIVE_UP = re.compile(r"\b(sorry|admit|Admitted)\b")
_SORRY_WARNING = re.compile(r"declaration uses\s*\W?sorry", re.I)  # any quoting: Lean changed it
_COQ_REALS = re.compile(r"\bRequire\b[^.]*\bReals\b")
# An answer too large to read is no lack of memory or stack: it has a reason of its own.
_EXHAUSTED_REASONS = {"output": "output.too_large"}


class BasicPolicy:
    version = "basic-3"

    def screen(self, candidate: Candidate) -> Decision | None:
        found = _GIVE_UP.search(candidate.proof)
        if found is None:
            return None
        return Decision(
            status=Status.REJECTED,
            reason="policy.sorry",
            detail=f"the proof uses `{found.group(1)}`",
        )

    def allowed_axioms(self, candidate: Candidate) -> frozenset[str]:
        if candidate.backend is BackendName.LEAN:
            return LEAN_AXIOMS
        return COQ_CLASSICAL_REALS_AXIOMS if _COQ_REALS.search(candidate.header) else frozenset()

    def judge(self, candidate: Candidate, raw: RawResult) -> Decision:
        errors = [m for m in raw.messages if m.severity is Severity.ERROR]
        if raw.exhausted == "threads":
            return Decision(
                status=Status.ERROR,
                reason="sandbox.threads",
                detail="`par:` needs threads and worker processes, which the prover's jail (one"
                " process) does not give: the proof was not judged; without `par:` it can be",
            )
        if raw.exhausted:
            return Decision(
                status=Status.FAILED,
                reason=_EXHAUSTED_REASONS.get(raw.exhausted, f"resource.{raw.exhausted}"),
                detail=f"ran out of {raw.exhausted}: {errors[0].text if errors else 'no message'}",
            )
        if errors:  # first: after a syntax error Coq resumes at the next period, so its
            # sentence count differs for a reason the author already pays for
            return Decision(status=Status.FAILED, reason="prover.error", detail=errors[0].text)
        if raw.sentences_disagree:  # the text rules judged other sentences than the prover ran
            return Decision(
                status=Status.REJECTED,
                reason="sentences.disagree",
                detail=f"the prover and the text rules end sentences differently: "
                f"{raw.sentences_disagree}",
            )
        if raw.sorries or any(_SORRY_WARNING.search(m.text) for m in raw.messages):
            return Decision(
                status=Status.FAILED, reason="prover.sorry", detail="the proof has a sorry"
            )
        if not raw.declared:
            return Decision(
                status=Status.FAILED,
                reason="prover.missing",
                detail=f"`{candidate.name}` is not in the environment after checking",
            )
        if raw.integrity is False:
            return Decision(
                status=Status.REJECTED,
                reason="integrity.statement",
                detail=f"`{candidate.name}` does not have the given statement as its type",
            )
        if raw.axioms is None:
            return Decision(
                status=Status.FAILED,
                reason="audit.missing",
                detail="the axiom audit gave no answer",
            )
        if (
            candidate.backend is BackendName.COQ
            and candidate.whole_file
            and not candidate.statement
        ):
            return Decision(  # built without `inputs`, which reads the file's own statement
                status=Status.REJECTED,
                reason="input.untrusted",
                detail="a Coq file checked with no statement vouches for nothing its text says",
            )
        extra = sorted(set(raw.axioms) - self.allowed_axioms(candidate))
        if extra:
            return Decision(
                status=Status.REJECTED,
                reason="axiom.disallowed",
                detail=f"depends on axioms outside the allowed set: {', '.join(extra)}",
            )
        return Decision(status=Status.PROVED)


def own_text_refused(candidate: Candidate, error: HeaderError) -> Decision:
    """The verdict on a self-stated file whose own imports or statement Coq would not take: its
    author's text, so a verdict that counts, not the engine's error. A statement that reads only
    after the file's own definitions is refused rather than read in the file's context, where
    the file chooses what its words mean (`backends/coq_statement.py`)."""
    if isinstance(error, StatementError):
        return Decision(
            status=Status.REJECTED,
            reason="statement.unreadable",
            detail=f"the file's statement of `{candidate.name}` is no proposition under its"
            f" imports alone, read before the file runs ({error}); without a problem only such a"
            " statement is vouched for: one built on the file's own definitions needs a problem"
            " whose header holds them",
        )
    return Decision(
        status=Status.FAILED,
        reason="prover.header",
        detail=f"the file's own imports do not load: {error}",
    )
