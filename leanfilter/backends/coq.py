"""Coq through warm `coqtop -emacs` processes.

One check, in one process whose header is already loaded:
1. `Definition lf_ref_N := <trusted statement>.` and `Module lf_m_N.`, N a fresh nonce;
2. in the same write, the candidate's text (the answers to step 1 come first, before anything
   the candidate can print), then a sentinel (`Check` of an unguessable name, whose error marks the
   end of the answer: coqtop has no other end-of-answer signal);
3. if no error and no proof is open: `End lf_m_N.`, `Locate Term lf_m_N.<name>.` (it exists),
   `Definition lf_chk_N : lf_ref_N := @lf_m_N.<name>.` (its type is the trusted statement), and
   `Locate Term lf_chk_N.`; a `Locate` answer holds none of the candidate's text (the definition's
   may), and costs nothing however large the constant's type;
4. `Print Assumptions` on lf_chk_N, then `BackTo` the state before step 1.

Steps 3 and 4 are our own commands, sent after the candidate's answer was read, so nothing in the
candidate can forge them. `Print Assumptions` costs about 0.3 s per query once `lia` or `Reals`
is involved, however small the proof, so accepted candidates are kept (each in its own module,
under nonce names no other candidate can mention) and audited together in one query over a tuple
of all of them; only when that union holds an axiom outside the allowed set is each one audited on
its own. The batch is audited once it holds `audit_batch` proofs, once its oldest has waited
`audit_delay_s` (checked after every check), and whenever the worker's queue runs dry, so a
verdict waits at most that delay plus one check and the audit itself. A candidate that fails
while others are loaded is checked again once they are audited and gone, when Coq's universe
graph shows that they order the header's universes in a way the header does not: a Qed adds its
universe constraints to the global graph, so a loaded proof can make an honest neighbour fail,
and a tactic that backtracks reports that as any error. Candidates that are whole files may
change global state (hints, options), so they are always checked and audited alone.
"""

from __future__ import annotations

import functools
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from leanfilter.backends import coq_protocol as proto
from leanfilter.backends.base import (
    CheckRequest,
    HeaderError,
    Outcome,
    ProverCrashed,
    ProverUnavailable,
    RawResult,
    ReplayResult,
    StatementError,
    has_error,
)
from leanfilter.backends.coq_replay import CoqReplayer, ReplaySettings
from leanfilter.backends.coq_statement import (
    MAX_FREE_NAMES,
    Binder,
    abstracted,
    before_statement,
    inferred,
    local_names,
    module_names,
    parse_signature,
    typed,
    unresolved_name,
)
from leanfilter.backends.coq_syntax import CoqLexError, sentences, strip_comments
from leanfilter.records import BackendName, Candidate, Message, Severity
from leanfilter.sandbox import JailedProcess, ProverOutputTooLarge, SandboxConfig

INSTALL_HINT = "Coq is not installed: run `apt-get install coq` (or install Coq >= 8.16 with opam)"
_OOM = "Out of memory"
_FATAL_OOM = "Fatal error: out of memory"
# `par:` hands its goals to worker processes through threads; the jail's limit of one process
# (threads count) refuses the first one. Matched whole, so `fail "…"` (a "Tactic failure") is no
# match; a forged one could only turn its own `failed` into an `error`.
_NO_THREAD = 'System error: "Thread.create: Resource temporarily unavailable"'


class CoqSettings(BaseModel):
    coqtop: str = "coqtop"
    flags: list[str] = Field(
        default_factory=lambda: [
            "-q",
            "-native-compiler",
            "no",
            "-w",
            "-deprecated-native-compiler-option",
        ]
    )
    sandbox: SandboxConfig = Field(  # coqtop needs no process of its own: it may start none
        default_factory=lambda: SandboxConfig(memory_mb=3072, nproc=1, output_mb=16)
    )
    timeout: float = Field(default=60.0, description="seconds per proof")
    start_timeout: float = Field(default=120.0, description="seconds to start and load the header")
    audit_batch: int = Field(default=256, ge=1, description="accepted proofs audited per query")
    audit_delay_s: float = Field(
        default=2.0,
        description="an accepted proof waits for its audit at most this long, plus one check",
    )
    replay: ReplaySettings = Field(default_factory=ReplaySettings)


def _strip_proof(proof: str, statement: str) -> str:
    """The tactic part of a proof: without a repeated statement, `Proof.` or a final `Qed.`,
    found as Coq would split the text (comments and layout do not matter)."""
    try:
        parts = sentences(proof)
    except CoqLexError:
        return proof.strip()  # the session reports the lexical error
    words = [_words(p.text) for p in parts]
    first, last = 0, len(parts)
    if words and words[0] == _words(statement):
        first += 1
    if first < last and words[first] == "Proof.":
        first += 1
    if first < last and words[last - 1] == "Qed.":
        last -= 1
    if first >= last:
        return ""
    return proof[parts[first].start : parts[last - 1].end].strip()


def _words(sentence: str) -> str:
    return re.sub(r" \.$", ".", " ".join(strip_comments(sentence).split()))


def one_line(text: str) -> str:
    """Newlines outside string literals become spaces: the same sentences, and coqtop's
    character offsets then count from the start of the text."""
    out, in_string = [], False
    for c in text:
        if c == '"':
            in_string = not in_string  # a doubled quote toggles twice: still right
        out.append(" " if c == "\n" and not in_string else c)
    return "".join(out)


class CoqBackend:
    name = BackendName.COQ

    def __init__(self, settings: CoqSettings | None = None) -> None:
        self.settings = settings or CoqSettings()
        self._replayer = CoqReplayer(self.settings.replay, self.settings.flags)

    @property
    def default_timeout(self) -> float:
        return self.settings.timeout

    def toolchain(self) -> str:
        return _coq_version(self.settings.coqtop)

    def assemble(self, candidate: Candidate, tag: int) -> CheckRequest:
        if candidate.whole_file or candidate.statement is None:
            statement = parse_signature(candidate.statement) if candidate.statement else None
            proposition = statement.proposition if statement else None
            if candidate.self_stated and proposition:  # the file chose it: a proposition only
                proposition = f"(({proposition}) : Prop)"
            return CheckRequest(
                tag=tag,
                theorem=candidate.name,
                body=candidate.proof,
                statement=proposition,
                own_statement=candidate.self_stated,
                batch_audit=False,
            )
        sig = parse_signature(candidate.statement)
        tactics = _strip_proof(candidate.proof, candidate.statement)
        body = f"{candidate.statement.strip()}\nProof.\n{tactics}\nQed.\n"
        return CheckRequest(tag=tag, theorem=sig.name, body=body, statement=sig.proposition)

    def open_session(self, header: str, slot: int) -> CoqSession:
        self.toolchain()
        return CoqSession(self.settings, header, slot)

    def replay(
        self, header: str, requests: list[CheckRequest], timeout: float, slot: int
    ) -> list[ReplayResult]:
        return self._replayer.replay(header, requests, timeout, slot)

    def abort_replays(self) -> None:
        self._replayer.abort_replays()


@functools.cache
def _coq_version(coqtop: str) -> str:
    if shutil.which(coqtop) is None:
        raise ProverUnavailable(INSTALL_HINT)
    out = subprocess.run([coqtop, "--version"], capture_output=True, text=True, check=False)
    m = re.search(r"version (\S+)(?:.*?OCaml (\S+))?", out.stdout, re.S)
    if out.returncode != 0 or not m:
        raise ProverUnavailable(f"`{coqtop} --version` failed: {out.stderr.strip()[:200]}")
    return f"coq-{m.group(1)}" + (f"+ocaml-{m.group(2)}" if m.group(2) else "")


# The engine's module around a candidate's text: its name holds a nonce, so a verdict naming it
# would differ from run to run; `<candidate>` is no Coq name, so no allow-list can match it.
_CANDIDATE_MODULE = re.compile(r"\b(?:Top\.)?lf_m_[0-9a-f]{12}\.")


def _unreadable(error: str | None) -> StatementError:
    return StatementError(f"the statement does not elaborate under the header: {error}")


def _split_after(text: str, count: int) -> tuple[str, str]:
    """coqtop's output split after its `count`-th prompt: the answers to our own first `count`
    sentences, which come before anything the candidate's text can print, and the rest."""
    if count == 0:
        return "", text
    found = proto.prompts(text)
    cut = found[count - 1].end if len(found) >= count else len(text)
    return text[:cut], text[cut:]


def _may_owe_to_others(result: RawResult) -> bool:
    """Whether a failure may come from what other candidates left loaded: any failure of the
    candidate's own proof. Whether the loaded proofs changed anything it could meet is asked of
    Coq (`CoqSession._graph_changed`), not read from the error: a tactic that backtracks (`solve`,
    `first`, `auto`) turns a universe inconsistency into another error."""
    return result.sentences_disagree is None and result.exhausted not in ("output", "threads")


def _edges(constraints: set[tuple[str, str, str]]) -> dict[str, list[tuple[str, bool]]]:
    """Each universe's successors in the order, with whether the step is strict."""
    out: dict[str, list[tuple[str, bool]]] = {}
    for u, op, v in constraints:
        out.setdefault(u, [])
        if op:
            out[u].append((v, op == "<"))
            out.setdefault(v, [])
        if op == "=":
            out[v].append((u, False))
    return out


def _steps(
    edges: dict[str, list[tuple[str, bool]]], start: str, through: Callable[[str], bool]
) -> Iterator[tuple[str, str, bool]]:
    """Each step `(u, v, strict)` of the paths from `start`, `strict` when the path up to `v` is;
    a path goes on only through the universes `through` accepts."""
    seen = {(start, False)}
    todo = [(start, False)]
    while todo:
        u, was_strict = todo.pop()
        for v, step in edges.get(u, ()):
            state = (v, was_strict or step)
            yield u, v, state[1]
            if through(v) and state not in seen:
                seen.add(state)
                todo.append(state)


def _reaches(edges: dict[str, list[tuple[str, bool]]], start: str, goal: str, strict: bool) -> bool:
    """Whether `edges` order `start` below `goal` (strictly when `strict`)."""
    return any(
        v == goal and (was_strict or not strict)
        for _, v, was_strict in _steps(edges, start, lambda _: True)
    )


def _new_order(base: set[tuple[str, str, str]], now: set[tuple[str, str, str]]) -> bool:
    """Whether `now` orders two universes of `base` in a way `base` does not: a new constraint
    between two of them, or a path between two of them through universes `base` lacks."""
    added = now - base
    if not added:
        return False
    known = {c[0] for c in base} | {c[2] for c in base if c[1]}
    old, new = _edges(base), _edges(now)
    implied = functools.cache(lambda u, v, strict: _reaches(old, u, v, strict))
    starts = set()
    for u, op, v in added:
        if op and u in known and v in known:
            return True
        if op:
            starts |= {u, v} & known
    for start in starts:  # through the universes the loaded proofs made, back to a known one
        for u, v, strict in _steps(new, start, lambda w: w not in known):
            if v not in known:  # still among the universes the loaded proofs made
                continue
            if u == start:  # an edge between two known ones: `added` or the header's
                continue
            if v != start and not implied(start, v, strict):
                return True
            if v == start and strict:
                return True
    return False


@dataclass
class _Accepted:
    """A candidate whose proof closed cleanly and now waits for the batch audit."""

    request: CheckRequest
    result: RawResult
    term: str  # the constant whose assumptions are its audit
    since: float = field(default_factory=time.monotonic)


class CoqSession:
    def __init__(self, settings: CoqSettings, header: str, slot: int) -> None:
        self.header = header
        self.checks = 0
        self._settings = settings
        self._slot = slot
        self._accepted: list[_Accepted] = []
        self._settled: list[Outcome] = []
        self._graph_too_large = False  # the header's universe graph is past the output limit
        self._start()

    # -- the Session protocol ------------------------------------------------------------

    def check(self, request: CheckRequest, timeout: float) -> list[Outcome]:
        """The outcomes this check settles: its own unless it awaits the batch audit, and the
        batch's once it is full or its oldest has waited `audit_delay_s` (so no verdict waits
        longer than that plus one check and the audit). A failure beside loaded proofs
        that order the header's universes anew is checked again alone, once the batch was
        audited: their Qed added global universe constraints, which can make an honest proof, or
        the trusted statement itself, fail next to them and nowhere else."""
        # outcomes gather in `_settled` until returned: when a check raises, the next call or
        # flush gives those it settled before
        if not request.batch_audit:  # a whole file stands alone
            self._settled += self._audit(timeout)
        loaded = bool(self._accepted)
        try:
            result = self._check_one(request, time.monotonic() + timeout)
            again = (
                result is not None
                and loaded
                and _may_owe_to_others(result)
                and self._graph_changed(time.monotonic() + timeout)
            )
        except StatementError:  # the trusted statement, read beside them, meets them too
            if not loaded:
                raise
            result, again = None, True
        self.checks += 1
        if again:  # the verdict it gets alone, once the others were audited and are gone
            self._settled += self._audit(timeout)
            alone = request.model_copy(update={"batch_audit": False})
            result = self._check_one(alone, time.monotonic() + timeout)
        if result is not None:
            self._settled.append((request, result))
        if self._accepted and (
            len(self._accepted) >= self._settings.audit_batch
            or time.monotonic() - self._accepted[0].since >= self._settings.audit_delay_s
        ):
            self._settled += self._audit(timeout)
        outcomes, self._settled = self._settled, []
        return outcomes

    def flush(self, timeout: float) -> list[Outcome]:
        self._settled += self._audit(timeout)
        outcomes, self._settled = self._settled, []
        return outcomes

    def _audit(self, timeout: float) -> list[Outcome]:
        if not self._accepted:
            return []
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        batch, self._accepted = self._accepted, []
        terms = [a.term for a in batch]
        nonce = secrets.token_hex(6)
        self._roundtrip(f"Definition lf_all_{nonce} := ({', '.join(terms)}).\n", deadline)
        union = self._assumptions(f"lf_all_{nonce}", deadline)
        if union is not None and all(set(union) <= a.request.allowed_axioms for a in batch):
            audits = [(union, len(batch) == 1)] * len(batch)
        else:
            audits = [(self._assumptions(term, deadline), True) for term in terms]
        self._back_to(self._base, deadline)
        share = (time.monotonic() - started) / len(batch)
        return [
            (
                a.request,
                a.result.model_copy(
                    update={
                        "axioms": axioms,
                        "axioms_exact": exact,
                        "time_s": a.result.time_s + share,
                    }
                ),
            )
            for a, (axioms, exact) in zip(batch, audits, strict=True)
        ]

    def pending(self) -> list[CheckRequest]:
        return [r for r, _ in self._settled] + [a.request for a in self._accepted]

    def rss_mb(self) -> float:
        return self._proc.rss_mb()

    def close(self) -> None:
        self._proc.kill()

    def abort(self) -> None:
        self._proc.abort()

    # -- one candidate -------------------------------------------------------------------

    def _check_one(self, request: CheckRequest, deadline: float) -> RawResult | None:
        """The raw result, or None when the candidate was accepted and awaits the batch audit."""
        started = time.monotonic()
        try:
            expected = len(sentences(request.body))
        except CoqLexError as e:
            return RawResult(messages=[Message(severity=Severity.ERROR, text=f"lexer: {e}")])
        nonce = secrets.token_hex(6)
        before = self._state
        binders: list[Binder] = []
        opening = f"Module lf_m_{nonce}.\n"
        if request.statement is not None and not request.own_statement:
            opening = f"Definition lf_ref_{nonce} := {one_line(request.statement)}.\n" + opening
        body = one_line(request.body)
        try:  # our opening and the candidate in one round trip: the opening answers first
            if request.own_statement:  # its own round trips, one of which may run the file
                binders = self._open_statement(request, nonce, before, deadline)
                opening = ""
            both = self._roundtrip(opening + body, deadline)
        except ProverOutputTooLarge as e:  # the candidate's answer, not the engine's fault
            self._restart()
            flood = Message(severity=Severity.ERROR, text=f"the prover's {e}")
            return self._finish(RawResult(messages=[flood], exhausted="output"), started)
        except ProverCrashed as e:  # OCaml's "Fatal error: out of memory" ends the process
            if _FATAL_OOM not in str(e):
                raise
            self._restart()
            died = Message(severity=Severity.ERROR, text="Out of memory: the prover died")
            return self._finish(RawResult(messages=[died], exhausted="memory"), started)
        opened, answer = _split_after(both, opening.count("\n"))
        if proto.has_error(opened):
            self._back_to(before, deadline)
            error = proto.error_in(opened)
            raise StatementError(f"the statement does not elaborate under the header: {error}")
        messages = proto.messages(answer, request.body)
        result = RawResult(messages=messages, time_s=0.0, peak_rss_mb=self._proc.peak_rss_mb())
        ran = len(proto.prompts(answer))
        if ran != expected:  # what the text rules saw is not what ran: nothing about it holds
            self._restart()
            disagree = f"Coq ran {ran} sentences where the text has {expected}"
            return self._finish(result.model_copy(update={"sentences_disagree": disagree}), started)
        if any(m.text == _NO_THREAD for m in messages):  # the sandbox's limit, not the proof's
            self._back_to(before, deadline)
            return self._finish(result.model_copy(update={"exhausted": "threads"}), started)
        errors = [m.text for m in messages if m.severity is Severity.ERROR]
        if any(_OOM in text for text in errors):  # the process survives, but stays broken
            self._restart()
            return self._finish(result.model_copy(update={"exhausted": "memory"}), started)
        closed = not has_error(messages)
        if not closed or self._open:
            self._back_to(before, deadline)
            return self._finish(result, started)
        result = self._confirm(request, nonce, result, deadline, binders)
        term = f"lf_chk_{nonce}" if request.statement is not None else self._target(request, nonce)
        if (
            not result.declared
            or result.integrity is False
            or any(m.severity is Severity.ERROR for m in result.messages)
        ):
            self._back_to(before, deadline)
            return self._finish(result, started)
        if request.batch_audit:
            self._accepted.append(_Accepted(request, self._finish(result, started), term))
            return None
        result = result.model_copy(update={"axioms": self._assumptions(term, deadline)})
        self._back_to(before, deadline)
        return self._finish(result, started)

    def _open_statement(
        self, request: CheckRequest, nonce: str, before: int, deadline: float
    ) -> list[Binder]:
        """Elaborate a file's own statement, then open the candidate's module. Returns the
        binders it is abstracted over: the names it leaves unresolved under the header, typed
        by the file's own constants where it can be read so, else by the statement alone
        (`coq_statement`)."""
        module = f"lf_m_{nonce}"
        free: list[str] = []
        while True:
            error = self._reference(request, nonce, inferred(free, module), before, deadline)
            if not self._another_name(error, free, deadline):
                break
        if not free:
            if error is not None:
                raise _unreadable(error)
            return []
        if error is None:  # read, but maybe with a type the file does not give the name
            self._back_to(before, deadline)
        typed_error = None
        while types := self._file_types(request, nonce, before, free, deadline):
            binders = typed(free, types, module, f"lf_t_{nonce}_")
            if binders is None:
                break
            typed_error = self._reference(request, nonce, binders, before, deadline)
            if typed_error is None:
                return binders
            if not self._another_name(typed_error, free, deadline):
                break
        error = self._reference(request, nonce, inferred(free, module), before, deadline)
        if error is not None:  # the file's reading says more than the statement's guess
            raise _unreadable(typed_error or error)
        return inferred(free, module)

    def _another_name(self, error: str | None, free: list[str], deadline: float) -> bool:
        """Whether `error` names one more of the file's names, which joins `free`. Coq names it,
        but the error was printed while the statement elaborated, where a tactic in it may have
        forged it: only a query of our own says it is no name of the header's."""
        name = unresolved_name(error)
        if name is None or name in free or len(free) >= MAX_FREE_NAMES:
            return False
        if not self._unresolved_under_header(name, deadline):
            raise _unreadable(error)
        free.append(name)
        return True

    def _reference(
        self,
        request: CheckRequest,
        nonce: str,
        binders: list[Binder],
        before: int,
        deadline: float,
    ) -> str | None:
        """Define the statement over `binders` and open the candidate's module: None when both
        were made, else Coq's error, with the state back at `before`."""
        reference = one_line(abstracted(request.statement or "", binders))
        # the definition's answer echoes the statement, which can hide its error; `Locate`
        # prints none of the candidate's text: it alone says the reference was made
        opening = (
            f"Definition lf_ref_{nonce} := {reference}.\nLocate Term lf_ref_{nonce}.\n"
            f"Module lf_m_{nonce}.\n"
        )
        opened = self._roundtrip(opening, deadline)
        answers = proto.exact_answers(opened, 3)  # None: a prompt the statement printed
        located = proto.located_constant(answers[1]) if answers else None
        if (located or "").endswith(f".lf_ref_{nonce}") and not proto.has_error(opened):
            return None
        self._back_to(before, deadline)
        if answers is None:  # no error of it names anything
            return "coqtop's prompts do not match the engine's commands one to one"
        return proto.error_in(opened) or "coqtop's answer hides the error"

    def _file_types(
        self, request: CheckRequest, nonce: str, before: int, free: list[str], deadline: float
    ) -> dict[str, str] | None:
        """The types of the file's constants that `free` names, and of those their types name,
        as Coq prints them after running the file up to its statement (no notation, implicit
        arguments marked); None when that does not run cleanly or a name is no constant of its
        own. The state is back at `before` afterwards: the types are only text, read again
        under the header."""
        module = f"lf_m_{nonce}"
        prefix = before_statement(request.body, request.theorem)
        if prefix is None:
            return None
        ran = self._roundtrip(
            f"Module {module}.\n{one_line(prefix)}\nEnd {module}.\nSet Printing All.\n",
            deadline,
        )
        clean = proto.exact_answers(ran, len(sentences(prefix)) + 3) is not None
        types = None
        if clean and not proto.has_error(ran) and not self._open:
            types = self._printed_types(module, free, deadline)
        self._back_to(before, deadline)
        return types

    def _printed_types(
        self, module: str, free: list[str], deadline: float
    ) -> dict[str, str] | None:
        types: dict[str, str] = {}
        todo = list(free)
        while todo and len(types) < MAX_FREE_NAMES:
            name = todo.pop(0)
            answer = self._roundtrip(f"About {module}.{name}.\n", deadline)
            answers = proto.exact_answers(answer, 1)
            found = proto.about_type(answers[0], f"{module}.{name}") if answers else None
            uses = module_names(found or "", module)
            if found is None or uses is None:
                return None
            types[name] = found
            todo += [u for u in uses if u not in types and u not in todo]
        return None if todo else types

    def _unresolved_under_header(self, name: str, deadline: float) -> bool:
        """Whether `name` really names nothing under the header. The error that named it was
        printed while the statement elaborated, so a tactic in it may have forged the error;
        this query runs none of the candidate's text, so its answer is Coq's own."""
        answer = self._roundtrip(f"Check {name}.\n", deadline)
        return (
            proto.exact_answers(answer, 1) is not None
            and unresolved_name(proto.error_in(answer)) == name
        )

    def _confirm(
        self,
        request: CheckRequest,
        nonce: str,
        result: RawResult,
        deadline: float,
        binders: list[Binder],
    ) -> RawResult:
        """Close the candidate's module; then ask, ourselves, whether the theorem exists and has
        the trusted type."""
        target = self._target(request, nonce)
        commands = [f"End lf_m_{nonce}.", f"Locate Term {target}."]
        if request.statement is not None:
            applied = "".join(f" ({b.argument})" for b in binders)
            commands.append(f"Definition lf_chk_{nonce} : lf_ref_{nonce}{applied} := @{target}.")
        else:  # no trusted statement: the constant must be a proof of some proposition
            proof_of_a_prop = f"(fun (P : Prop) (_ : P) => I) _ (@{target})"
            commands.append(f"Definition lf_chk_{nonce} := {proof_of_a_prop}.")
        # the definition's answer holds the candidate's text (a warning's note, the term in its
        # error), which can hide its error; `Locate` prints none: it alone says it was made
        commands.append(f"Locate Term lf_chk_{nonce}.")
        answers = proto.exact_answers(
            self._roundtrip("\n".join(commands) + "\n", deadline), len(commands)
        )
        if answers is None:  # `Check` printed a prompt inside the constant's type
            unreadable = Message(  # not an error of the prover's: the verdict is integrity's
                severity=Severity.INFO,
                text=f"coqtop's prompts do not match the engine's {len(commands)} commands one"
                " to one: which answer is whose cannot be told",
            )
            return result.model_copy(
                update={
                    "messages": [*result.messages, unreadable],
                    "declared": request.statement is not None,
                    "integrity": False if request.statement is not None else None,
                }
            )
        end_messages = [m for m in proto.messages(answers[0]) if m.severity is not Severity.INFO]
        declared = not proto.has_error(answers[0]) and (
            proto.located_global(answers[1]) or ""
        ).endswith(f".{target}")
        located = proto.located_constant(answers[3]) or ""
        checked = not proto.has_error(answers[2]) and located.endswith(f".lf_chk_{nonce}")
        if request.statement is None and declared and not checked:
            declared = False
            not_a_theorem = f"`{request.theorem}` is no theorem: its type is not a proposition"
            end_messages.append(Message(severity=Severity.ERROR, text=not_a_theorem))
        integrity = None
        if request.statement is not None:
            integrity = declared and checked
        if integrity and request.own_statement:
            unread = self._file_name_left(request, nonce, deadline, binders)
            if unread is not None:
                integrity = False
                end_messages.append(Message(severity=Severity.INFO, text=unread))
        return result.model_copy(
            update={
                "messages": result.messages + end_messages,
                "declared": declared,
                "integrity": integrity,
            }
        )

    def _file_name_left(
        self, request: CheckRequest, nonce: str, deadline: float, binders: list[Binder]
    ) -> str | None:
        """Why the statement is refused, if it spells a constructor (or abbreviation) of the
        file's that it was not read with. Coq reports no unresolved name in a pattern: in
        `match (green, 0) with (red, 0) => True | _ => False end` the file's `green` is bound to
        its constant, but `red` reads as a variable that matches anything, so the statement would
        be vouched for in a sense no reading of it has (both names the file's: `False`). A name
        the header resolves stays the header's, as everywhere in the statement."""
        names = local_names(request.statement or "", [b.name for b in binders])
        unreadable = "the statement's names cannot all be told apart from the file's"
        if not names:
            return None if names == [] else unreadable
        queries = "".join(f"Locate Term {n}.\n" for n in names)
        answers = proto.exact_answers(self._roundtrip(queries, deadline), len(names))
        if answers is None:
            return unreadable
        left = [  # Coq lists every global of that basename, the unreachable ones too
            n
            for n, found in zip(names, answers, strict=True)
            if proto.pattern_inside(found, f"lf_m_{nonce}") and not proto.names_global(found)
        ]
        if not left:
            return None
        return f"the statement spells `{left[0]}`, the file's constructor, as a variable"

    @staticmethod
    def _target(request: CheckRequest, nonce: str) -> str:
        return f"lf_m_{nonce}.{request.theorem}"

    def _assumptions(self, term: str, deadline: float) -> list[str] | None:
        names = proto.assumptions(self._roundtrip(f"Print Assumptions {term}.\n", deadline))
        return None if names is None else self._qualify(names, deadline)

    def _qualify(self, names: list[str], deadline: float) -> list[str]:
        """Full logical paths: Coq prints the shortest name that resolves in the current scope,
        which a candidate's own definitions could make look like an allowed axiom."""
        plain = [n for n in names if not n.startswith("unsafe:")]
        if not plain:
            return names
        query = "".join(f"Locate Term {n}.\n" for n in plain)
        located = proto.answers(self._roundtrip(query, deadline))
        full = dict(zip(plain, map(proto.located_constant, located), strict=False))
        unsafe = [n for n in names if n.startswith("unsafe:")]
        qualified = unsafe + [full.get(n) or f"unresolved:{n}" for n in plain]
        return sorted(_CANDIDATE_MODULE.sub("<candidate>.", n) for n in qualified)

    def _finish(self, result: RawResult, started: float) -> RawResult:
        return result.model_copy(update={"time_s": time.monotonic() - started})

    # -- the process ---------------------------------------------------------------------

    def _start(self) -> None:
        settings = self._settings
        argv = [settings.coqtop, "-emacs", *settings.flags]
        self._proc = JailedProcess(argv, settings.sandbox, self._slot, merge_stderr=True)
        self._state, self._open = 0, ()
        answer = self._roundtrip(self.header + "\n", time.monotonic() + settings.start_timeout)
        if proto.has_error(answer):
            self._proc.kill()
            raise HeaderError(f"the header does not load: {proto.error_in(answer)}")
        self._base = self._state
        self._graph_at: tuple[int, bool] | None = None
        self._base_graph: set[tuple[str, str, str]] | None = None
        if not self._graph_too_large:
            try:
                self._base_graph = self._universes(time.monotonic() + settings.start_timeout)
            except ProverOutputTooLarge:  # killed: a fresh process, whose graph is never read
                self._graph_too_large = True
                self._start()

    def _universes(self, deadline: float) -> set[tuple[str, str, str]] | None:
        """Coq's universe constraints; None when the answer cannot be read."""
        answers = proto.exact_answers(self._roundtrip("Print Universes.\n", deadline), 1)
        return proto.universe_constraints(answers[0]) if answers else None

    def _graph_changed(self, deadline: float) -> bool:
        """Whether the proofs loaded since the header (each Qed adds its universe constraints,
        the engine's own definitions theirs) order the header's universes in a way the header
        does not: only that can make a neighbour fail, whose own universes are fresh and who
        can name no loaded constant. A proof-mode candidate reaches global state that way only.
        Asked once per state; an answer that cannot be read, or one past the output limit,
        counts as a change."""
        if self._graph_too_large or self._base_graph is None:
            return True
        if self._graph_at is None or self._graph_at[0] != self._state:
            try:
                now = self._universes(deadline)
            except ProverOutputTooLarge:  # killed: the loaded proofs come back in a fresh one
                self._graph_too_large = True
                self._restart()
                return True
            changed = now is None or _new_order(self._base_graph, now)
            self._graph_at = (self._state, changed)
        return self._graph_at[1]

    def _restart(self) -> None:
        """A fresh process; accepted candidates still awaiting their audit are checked again."""
        self._proc.kill()
        replay, self._accepted = self._accepted, []
        self._start()
        for a in replay:
            again = self._check_one(a.request, time.monotonic() + self._settings.timeout)
            if again is not None:  # it failed the second time: the verdict says so
                self._accepted.append(_Accepted(a.request, again, a.term))

    def _roundtrip(self, text: str, deadline: float) -> str:
        """Send text, then read everything coqtop answers to it (up to the sentinel)."""
        nonce = secrets.token_hex(8)
        self._proc.write(f"{text}\nCheck lf_end_{nonce}.\n")
        out, _ = self._proc.read_until(re.compile(rf"lf_end_{nonce}.*?</prompt>", re.S), deadline)
        head = out[: out.find(f"lf_end_{nonce}")]
        answer = head[: head.rfind("</prompt>") + len("</prompt>")]
        last = proto.prompts(answer)
        if last:
            self._state, self._open = last[-1].state, last[-1].open_proofs
        return answer

    def _back_to(self, state: int, deadline: float) -> None:
        self._roundtrip(f"BackTo {state}.\n", deadline)
        if self._state != state or self._open:
            self._restart()
