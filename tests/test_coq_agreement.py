"""200 candidates across 2 workers get the verdicts that checking each alone with coqc gives."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from coq_reference import coqc_accepts, coqc_file

from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import candidate_from_record, load_problems
from leanfilter.policy import BasicPolicy
from leanfilter.pool import PoolConfig
from leanfilter.records import Status

pytestmark = [pytest.mark.coq, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "minif2f_rocq"
# Long computations by `reflexivity`: right, but tens of seconds each; left out to keep CI short.
SLOW = {"mathd_numbertheory_198", "mathd_numbertheory_517", "mathd_numbertheory_640"}
REALS_AXIOMS = frozenset(
    {"sig_forall_dec", "sig_not_dec", "functional_extensionality_dep", "classic"}
)


def test_two_hundred_candidates_agree_with_coqc_alone() -> None:
    problems = load_problems(EXAMPLES / "problems.jsonl")
    records = [json.loads(x) for x in (EXAMPLES / "candidates.jsonl").read_text().splitlines()]
    candidates = [candidate_from_record(r, problems) for r in records if r["name"] not in SLOW]
    candidates = candidates[:200]
    assert len(candidates) == 200

    config = VerifierConfig(pool=PoolConfig(workers=2))
    # coqc trusts the VM, so the policy that lets `vm_compute` through is the one to compare.
    with Verifier(config, policy=BasicPolicy()) as verifier:
        ours = [v.status is Status.PROVED for v in verifier.verify(candidates)]

    def alone(candidate) -> bool:
        text = coqc_file(candidate.header, candidate.statement, candidate.proof)
        return coqc_accepts(text, REALS_AXIOMS)

    with ThreadPoolExecutor(2) as pool:
        theirs = list(pool.map(alone, candidates))
    disagreements = [
        (c.name, c.proof, o) for c, o, t in zip(candidates, ours, theirs, strict=True) if o != t
    ]
    assert not disagreements
    assert 40 < sum(ours) < 160  # both kinds of verdict are exercised
