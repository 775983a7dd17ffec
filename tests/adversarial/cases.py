"""The adversarial suite's cases, kept as data: one JSON file per backend.

Each case is an attack on a real benchmark statement and its correct twin. `policy` is the
reason the text layer must give (null when only the prover can tell); `prover` is what the
prover-level checks alone must conclude with the text layer switched off: a reason code,
`not_proved`, or `proved` when the attack is no wrong proof and only the policy or the sandbox
stands in its way. With both layers on, no case may end `proved`; every twin must.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from leanfilter.backends.base import Backend
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.policy import PolicyConfig, StrictPolicy
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Problem, Status, Verdict

HERE = Path(__file__).parent
STATEMENT = "@@STATEMENT@@"
PROBLEMS = {  # the benchmark each suite attacks, under data/
    BackendName.COQ: "minif2f_rocq/minif2f_rocq.jsonl",
    BackendName.LEAN: "minif2f_lean/minif2f.jsonl",
}

Attack = Literal[
    "sorry",
    "unicode look-alike",
    "statement substitution",
    "backtracking",
    "axiom",
    "axiom via instances",
    "axiom via obligations",
    "guard/positivity/universes",
    "vm_compute cast",
    "native_decide",
    "exit",
    "forged messages",
    "file write",
    "process spawn",
    "network",
    "memory/time bomb",
    "comment/string smuggling",
    "elaboration-time code",
    "syntax extension",
    "weakening option",
]


class AdversarialCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    attack: Attack
    problem: str
    mode: Literal["proof", "whole_file"]
    text: list[str]
    policy: str | None
    prover: str
    twin: list[str]
    note: str | None = None
    hole: str | None = None  # a prover-level gap, reported; the text layer is what stops it
    must_not_exist: list[str] = []

    def candidate(self, problem: Problem, extra_header: str = "") -> Candidate:
        return self._candidate(problem, self.text, extra_header)

    def twin_candidate(self, problem: Problem, extra_header: str = "") -> Candidate:
        return self._candidate(problem, self.twin, extra_header)

    def _candidate(self, problem: Problem, lines: list[str], extra_header: str) -> Candidate:
        return Candidate(
            name=problem.name,
            backend=problem.backend,
            header=problem.header + extra_header,
            statement=problem.statement,
            proof="\n".join(lines).replace(STATEMENT, problem.statement.strip()),
            whole_file=self.mode == "whole_file",
        )


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tactic_imports: str = ""
    cases: list[AdversarialCase]

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.cases]

    def attack(self, case: AdversarialCase, problems: dict[str, Problem]) -> Candidate:
        return case.candidate(problems[case.problem], self.tactic_imports)

    def twin(self, case: AdversarialCase, problems: dict[str, Problem]) -> Candidate:
        return case.twin_candidate(problems[case.problem], self.tactic_imports)

    def verdicts_by_layer(
        self,
        problems: dict[str, Problem],
        *,
        workers: int,
        timeout: float,
        backends: dict[BackendName, Backend] | None = None,
        replay: bool = False,
    ) -> dict[str, dict[str, Verdict]]:
        """Per layer, per case id, every case checked once per layer in one pool run each:
        `full` (the strict policy), `twin` (the twins under it), `prover` (text rules off),
        and with `replay`, `twin_replayed` (the twins under the strict policy and replay)."""
        attacks = [self.attack(c, problems) for c in self.cases]
        twins = [self.twin(c, problems) for c in self.cases]
        config = VerifierConfig(pool=PoolConfig(workers=workers), timeout=timeout)
        with Verifier(config, backends=backends, policy=StrictPolicy()) as verifier:
            full = verifier.verify_all(attacks + twins)
        bare_policy = StrictPolicy(PolicyConfig(text_rules=False))
        with Verifier(config, backends=backends, policy=bare_policy) as verifier:
            bare = verifier.verify_all(attacks)
        n = len(self.cases)
        layers = {
            "full": dict(zip(self.ids, full[:n], strict=True)),
            "twin": dict(zip(self.ids, full[n:], strict=True)),
            "prover": dict(zip(self.ids, bare, strict=True)),
        }
        if replay:
            replaying = config.model_copy(update={"replay": True})
            with Verifier(replaying, backends=backends, policy=StrictPolicy()) as verifier:
                layers["twin_replayed"] = dict(zip(self.ids, verifier.verify(twins), strict=True))
        return layers

    def missing_attacks(self, required: set[str]) -> set[str]:
        return required - {c.attack for c in self.cases}

    def escaped_writes(self) -> list[Path]:
        """Files the attacks tried to write outside the jail that exist (there must be none)."""
        return [Path(p) for c in self.cases for p in c.must_not_exist if Path(p).exists()]


def load_cases(backend: BackendName) -> CaseFile:
    return CaseFile.model_validate(json.loads((HERE / f"{backend.value}_cases.json").read_text()))


def outcome_matches(verdict: Verdict, expected: str) -> bool:
    """`proved`, `not_proved`, or a reason code (whose status is then anything but proved)."""
    if expected == "proved":
        return verdict.status is Status.PROVED
    if verdict.status is Status.PROVED:
        return False
    return expected == "not_proved" or verdict.reason == expected


_ONLY = {  # attack classes that exist in one prover and not the other
    BackendName.COQ: {"backtracking", "axiom via obligations", "guard/positivity/universes",
                      "vm_compute cast"},
    BackendName.LEAN: {"native_decide", "exit", "elaboration-time code", "syntax extension",
                       "weakening option"},
}  # fmt: skip
_ANY = {"network"}  # covered by the sandbox tests, with or without a case here
REQUIRED_ATTACKS: dict[BackendName, set[str]] = {
    backend: set(get_args(Attack))
    - _ANY
    - set().union(*(v for k, v in _ONLY.items() if k != backend))
    for backend in _ONLY
}
