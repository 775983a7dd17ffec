"""Diversity of accepted proofs: which tactics and premises each problem's proofs use.

The graph links problems to their distinct accepted proofs (distinct after normalization), and
proofs to the tactics and premises they use; edge weights count uses. Per problem, over its
distinct proofs, the distribution p of tactic (premise) uses gives the Shannon index
H = -sum p ln p (nats) and the Gini-Simpson index 1 - sum p^2 (the chance that two uses drawn at
random are of different tactics).

Tactics are read from the proof text. Coq: each sentence's tactic expression, looking through
tacticals (`try`, `repeat`, `do 3`, ...), sequencing (`;`, `||`, `[ a | b ]`, `by`) and goal
selectors. Lean: the first word of each tactic step (steps end at a line break outside brackets,
`;`, `<;>`, `·`, `=>` or `by`).

Premises are, for Lean, the REPL's `usedConstants` when the verdict carried them. Otherwise they
are read off the text: the names a proof mentions that are not tactics or keywords, and not bound
by the proof (`intro` names, `as` patterns, `have` names, ...) or by the statement. That is an
approximation: without the prover a library name cannot always be told from a local one.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import networkx as nx
from pydantic import BaseModel

from leanfilter.backends.coq_syntax import CoqLexError, sentences, strip_comments
from leanfilter.normalize import normalize_proof
from leanfilter.records import BackendName


class ProofRecord(BaseModel):
    """One accepted proof of a problem; `statement` helps tell its locals from premises."""

    problem: str
    backend: BackendName
    proof: str
    statement: str | None = None
    used_constants: list[str] | None = None


class DiversityStats(BaseModel):
    problem: str
    accepted: int
    distinct_proofs: int
    tactics: int
    premises: int
    tactic_shannon: float
    tactic_simpson: float
    premise_shannon: float
    premise_simpson: float


def tactics(record: ProofRecord) -> Counter[str]:
    """Tactic names the proof uses, with how often."""
    if record.backend is BackendName.COQ:
        return Counter(h for s in _coq_sentences(record.proof) for h in _coq_heads(_coq_tokens(s)))
    statement_names = _lean_names(record.statement or "")
    return Counter(
        head for head, _ in _lean_steps(record.proof) if head and head not in statement_names
    )


def premises(record: ProofRecord) -> Counter[str]:
    """Premises the proof uses: the prover's own list when there is one, else read off the text."""
    if record.used_constants is not None:
        return Counter(record.used_constants)
    if record.backend is BackendName.COQ:
        return _coq_premises(record)
    return _lean_premises(record)


# -- Coq ---------------------------------------------------------------------------------------

_COQ_NAME = r"[A-Za-z_][\w']*(?:\.[A-Za-z_][\w']*)*"
_COQ_TOKEN = re.compile(rf'"(?:[^"]|"")*"|\|\||\|-|:=|[;|()\[\]]|{_COQ_NAME}|\d+|\S')
_COQ_TACTICALS = frozenset(
    {"try", "repeat", "now", "progress", "solve", "first", "do", "abstract", "time", "once",
     "exactly_once", "timeout", "unshelve", "all", "par"}
)  # fmt: skip
_COQ_COMMANDS = frozenset(
    {"Proof", "Qed", "Defined", "Admitted", "Abort", "Theorem", "Lemma", "Fact", "Remark",
     "Corollary", "Proposition", "Example", "Definition", "Fixpoint", "Require", "Import",
     "Export", "From", "Open", "Local", "Set", "Unset", "Section", "End", "Variable",
     "Hypothesis", "Notation", "Check", "Goal", "Module", "Hint", "Arguments"}
)  # fmt: skip
_COQ_KEYWORDS = frozenset(
    {"forall", "exists", "fun", "in", "as", "at", "with", "using", "by", "let", "if", "then",
     "else", "match", "end", "return", "Type", "Prop", "Set", "eqn", "into", "goal"}
)  # fmt: skip
_SELECTOR = re.compile(r"^(?:all|\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*)\s*:(?!=)")


def _coq_sentences(proof: str) -> list[str]:
    """Tactic sentences (commands and bullets left out), without final dot or goal selector."""
    try:
        found = sentences(proof)
    except CoqLexError:
        return []
    texts = (_SELECTOR.sub("", s.text.removesuffix(".").strip()).strip() for s in found)
    return [t for t in texts if re.match(r"[A-Za-z_(\[]", t)]


def _coq_tokens(sentence: str) -> list[str]:
    return _COQ_TOKEN.findall(sentence)


def _coq_heads(tokens: list[str]) -> Iterator[str]:
    """The tactic names in a tactic expression: the first word of each part between `;`, `|`,
    `||` or `by`, through tacticals, and inside parenthesized or bracketed tactic blocks."""
    if tokens and tokens[0] in _COQ_COMMANDS:
        return
    for part in _coq_parts(tokens):
        while part and (part[0] in _COQ_TACTICALS or part[0].isdigit()):
            part = part[1:]
        if not part:
            continue
        if part[0] in ("(", "["):
            yield from _coq_heads(part[1 : _closing(part)])
        elif re.fullmatch(_COQ_NAME, part[0]) and part[0][0].islower():
            yield part[0]


def _coq_parts(tokens: list[str]) -> Iterator[list[str]]:
    depth, start = 0, 0
    for i, token in enumerate(tokens):
        if token in ("(", "["):
            depth += 1
        elif token in (")", "]"):
            depth -= 1
        elif depth == 0 and token in (";", "|", "||", "by"):
            yield tokens[start:i]
            start = i + 1
    yield tokens[start:]


def _closing(tokens: list[str]) -> int:
    """The index of the bracket that closes tokens[0] (the end, if it is never closed)."""
    depth = 0
    for i, token in enumerate(tokens):
        depth += token in ("(", "[")
        depth -= token in (")", "]")
        if depth == 0:
            return i
    return len(tokens)


def _coq_premises(record: ProofRecord) -> Counter[str]:
    steps = [_coq_tokens(s) for s in _coq_sentences(record.proof)]
    bound = _coq_statement_names(record.statement)
    for tokens in steps:
        bound |= _coq_bound(tokens)
    skip = bound | _COQ_KEYWORDS | _COQ_TACTICALS | _COQ_COMMANDS
    found: Counter[str] = Counter()
    for tokens in steps:
        heads = set(_coq_heads(tokens))
        if tokens and tokens[0] in _COQ_COMMANDS:
            continue
        found.update(
            t
            for t, after in zip(tokens, [*tokens[1:], ""], strict=True)
            if re.fullmatch(_COQ_NAME, t) and t not in skip and t not in heads and after != ":="
        )
    return found


def _coq_bound(tokens: list[str]) -> set[str]:
    """Names a sentence introduces: after `intro(s)`, in `as`/`eqn:` patterns, and the name
    given to `assert`, `pose`, `set`; a command's (a whole file's `Theorem`) binds them all."""
    names = [t for t in tokens if re.fullmatch(_COQ_NAME, t)]
    if not names:
        return set()
    if names[0] in _COQ_COMMANDS or names[0] in ("intro", "intros", "revert"):
        return set(names)
    bound: set[str] = set()
    for i, token in enumerate(tokens):
        if token in ("as", "eqn") and i + 1 < len(tokens):
            rest = tokens[i + 1 :]
            rest = rest[rest[0] == ":" :]
            pattern = rest[: _closing(rest) + 1] if rest and rest[0] == "[" else rest[:1]
            bound |= {t for t in pattern if re.fullmatch(_COQ_NAME, t)}
    if names[0] in ("assert", "pose", "set", "enough") and len(names) > 1:
        bound.add(names[1])
    return bound


def _coq_statement_names(statement: str | None) -> set[str]:
    """Every name in the statement: its binders are the proof's locals, its constants are not
    what the proof chose to use."""
    if not statement:
        return set()
    try:
        text = strip_comments(statement)
    except CoqLexError:
        return set()
    return set(re.findall(_COQ_NAME, text))


# -- Lean --------------------------------------------------------------------------------------

_LEAN_NAME = r"[^\W\d][\w'!?₀-₉ₐ-ₜ]*(?:\.[^\W\d][\w'!?₀-₉ₐ-ₜ]*)*"
_LEAN_BREAK = re.compile(r"[\[({⟨]|[\])}⟩]|\bby\b|<;>|;|·|=>|\n")
_LEAN_DECLARATIONS = frozenset(
    {"theorem", "lemma", "example", "def", "abbrev", "instance", "import", "open", "namespace",
     "section", "end", "variable", "set_option", "universe", "noncomputable", "attribute"}
)  # fmt: skip
_LEAN_KEYWORDS = frozenset(
    {"fun", "λ", "at", "with", "from", "using", "only", "generalizing", "in", "do", "if", "then",
     "else", "match", "by", "this", "show", "let", "have", "calc", "says", "_"}
)  # fmt: skip
_LEAN_BINDING_TACTICS = frozenset(
    {"intro", "intros", "rintro", "obtain", "rcases", "have", "let", "set", "generalize",
     "case", "next", "fun", "λ", "induction", "cases", "cases'", "induction'", "choose"}
)  # fmt: skip


def _lean_code(proof: str) -> str:
    """The proof with comments removed and string literals emptied."""
    out, i, n, depth = [], 0, len(proof), 0
    while i < n:
        if proof.startswith("/-", i):
            depth, i = depth + 1, i + 2
        elif depth and proof.startswith("-/", i):
            depth, i = depth - 1, i + 2
        elif depth:
            i += 1
        elif proof.startswith("--", i):
            end = proof.find("\n", i)
            i = n if end < 0 else end
        elif proof[i] == '"':
            literal = re.match(r'"(?:[^"\\]|\\.)*"?', proof[i:], re.S)
            out.append('""')
            i += literal.end() if literal else 1
        else:
            out.append(proof[i])
            i += 1
    return "".join(out)


def _lean_steps(proof: str) -> list[tuple[str | None, str]]:
    """(tactic name or None, text) of each tactic step.

    A step ends at `;`, `<;>`, `·`, `=>` or `by`, and at a line break outside brackets (a line
    inside brackets continues an argument list). A step whose first word is no tactic (a term, a
    declaration, a calc line) has None.
    """
    code = _lean_code(proof)
    texts, start, depth = [], 0, 0
    for match in _LEAN_BREAK.finditer(code):
        token = match.group()
        if token in "[({⟨":
            depth += 1
        elif token in "])}⟩":
            depth = max(0, depth - 1)
        elif token != "\n" or depth == 0:
            texts.append(code[start : match.start()])
            start, depth = match.end(), 0 if token == "by" else depth
    texts.append(code[start:])
    return [(_lean_head(t.strip()), t.strip()) for t in texts if t.strip()]


def _lean_head(step: str) -> str | None:
    head = re.match(_LEAN_NAME, step)
    if head is None:
        return None
    name, rest = head.group(), step[head.end() :].lstrip()
    if (
        name in _LEAN_DECLARATIONS
        or name in _LEAN_KEYWORDS - {"have", "let", "show", "calc"}
        or "." in name
        or not name[0].islower()
        or rest.startswith((":=", ":", "="))
        or (":=" in _outside_brackets(rest) and name not in _LEAN_BINDING_TACTICS)
    ):
        return None  # a term (a calc line, a named argument), a field access, a declaration
    return name


def _outside_brackets(text: str) -> str:
    out, depth = [], 0
    for c in text:
        depth += c in "[({⟨"
        if depth == 0:
            out.append(c)
        depth -= c in "])}⟩" and depth > 0
    return "".join(out)


def _lean_names(text: str) -> set[str]:
    return set(re.findall(_LEAN_NAME, _lean_code(text)))


def _lean_premises(record: ProofRecord) -> Counter[str]:
    steps = _lean_steps(record.proof)
    bound = _lean_names(record.statement or "")
    for _, text in steps:
        bound |= _lean_bound(text)
    found: Counter[str] = Counter()
    for head, text in steps:
        words = [
            m
            for m in re.finditer(_LEAN_NAME, text)
            if not _named_argument(text, m.start(), m.end())
        ]
        if words and words[0].group() in _LEAN_DECLARATIONS:
            continue
        found.update(
            w.group()
            for w in words[head is not None :]
            if w.group() not in bound and w.group() not in _LEAN_KEYWORDS
        )
    return found


def _named_argument(text: str, start: int, end: int) -> bool:
    """`(name := value)` names a parameter, not a premise."""
    return text[:start].rstrip().endswith("(") and text[end:].lstrip().startswith(":=")


def _lean_bound(step: str) -> set[str]:
    """Names a step introduces; a declaration (a whole file's `theorem`) binds all it names."""
    words = re.findall(_LEAN_NAME, step)
    if not words:
        return set()
    if words[0] in _LEAN_DECLARATIONS:
        return set(words)
    if words[0] not in _LEAN_BINDING_TACTICS:
        return set()
    if words[0] in ("intro", "intros", "rintro", "case", "next", "fun", "λ"):
        return set(words[1:])
    if " with " in f" {step} ":
        return set(re.findall(_LEAN_NAME, step.split(" with ", 1)[1]))
    pattern = re.split(r":=|:|\bfrom\b", step, maxsplit=1)[0]
    return set(re.findall(_LEAN_NAME, pattern)[1:])


# -- the graph and the measures ----------------------------------------------------------------


def proof_node(record: ProofRecord) -> str:
    digest = hashlib.sha256(normalize_proof(record.backend, record.proof).encode()).hexdigest()
    return f"proof:{record.backend.value}:{digest[:16]}"


def build_graph(records: Iterable[ProofRecord]) -> nx.Graph:
    """Problems, their distinct accepted proofs, and the tactics and premises those use."""
    graph = nx.Graph()
    for record in records:
        problem, proof = f"problem:{record.problem}", proof_node(record)
        graph.add_node(problem, kind="problem", name=record.problem)
        if graph.has_edge(problem, proof):
            graph[problem][proof]["weight"] += 1
            continue
        graph.add_edge(problem, proof, weight=1)
        if graph.nodes[proof].get("kind") == "proof":
            continue  # the same proof text accepted for another problem: its uses are known
        graph.add_node(proof, kind="proof", backend=record.backend.value, text=record.proof)
        for kind, counts in (("tactic", tactics(record)), ("premise", premises(record))):
            for name, uses in counts.items():
                graph.add_node(f"{kind}:{name}", kind=kind, name=name)
                graph.add_edge(proof, f"{kind}:{name}", weight=uses)
    return graph


def shannon(counts: Counter[str]) -> float:
    total = sum(counts.values())
    return sum(c / total * math.log(total / c) for c in counts.values() if c) if total else 0.0


def simpson(counts: Counter[str]) -> float:
    total = sum(counts.values())
    return 1.0 - sum((c / total) ** 2 for c in counts.values()) if total else 0.0


def diversity_table(
    graph_or_records: nx.Graph | Iterable[ProofRecord],
) -> dict[str, DiversityStats]:
    """Per problem name: accepted proofs, distinct proofs, and tactic and premise diversity."""
    graph = (
        graph_or_records
        if isinstance(graph_or_records, nx.Graph)
        else build_graph(graph_or_records)
    )
    table: dict[str, DiversityStats] = {}
    for node, data in graph.nodes(data=True):
        if data["kind"] != "problem":
            continue
        proofs = list(graph[node])
        uses: dict[str, Counter[str]] = {"tactic": Counter(), "premise": Counter()}
        for proof in proofs:
            for used in graph[proof]:
                kind = graph.nodes[used]["kind"]
                if kind in uses:
                    uses[kind][graph.nodes[used]["name"]] += graph[proof][used]["weight"]
        table[data["name"]] = DiversityStats(
            problem=data["name"],
            accepted=sum(graph[node][p]["weight"] for p in proofs),
            distinct_proofs=len(proofs),
            tactics=len(uses["tactic"]),
            premises=len(uses["premise"]),
            tactic_shannon=shannon(uses["tactic"]),
            tactic_simpson=simpson(uses["tactic"]),
            premise_shannon=shannon(uses["premise"]),
            premise_simpson=simpson(uses["premise"]),
        )
    return table


def write_graphml(graph: nx.Graph, path: str | Path) -> None:
    nx.write_graphml(graph, str(path))
