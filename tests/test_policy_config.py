"""The policy's configuration: strict by default, relaxed only by name, versioned by content."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanfilter.cache import candidate_key
from leanfilter.policy import PolicyConfig, StrictPolicy, load_policy_config
from leanfilter.policy.config import AxiomGrant
from leanfilter.policy.findings import EXPLANATIONS, CoqRule, LeanRule
from leanfilter.records import BackendName, Candidate

COQ_RULES = list(get_args(CoqRule))
LEAN_RULES = list(get_args(LeanRule))
REALS = "Require Import Reals.\nOpen Scope R_scope.\n"


def test_every_rule_explains_itself() -> None:
    assert set(COQ_RULES) | set(LEAN_RULES) <= set(EXPLANATIONS)


@given(st.frozensets(st.sampled_from(COQ_RULES)), st.frozensets(st.sampled_from(LEAN_RULES)))
@settings(max_examples=60)
def test_the_version_is_a_function_of_the_configuration(
    coq: frozenset[str], lean: frozenset[str]
) -> None:
    config = PolicyConfig.model_validate({"coq": {"allow": coq}, "lean": {"allow": lean}})
    same = PolicyConfig.model_validate(
        {"coq": {"allow": sorted(coq)}, "lean": {"allow": sorted(lean, reverse=True)}}
    )
    assert config.version == same.version
    assert (config.version == PolicyConfig().version) == (not coq and not lean)


def test_the_version_does_not_depend_on_the_process() -> None:
    script = (
        "from leanfilter.policy import PolicyConfig;"
        "print(PolicyConfig.model_validate({'coq': {'allow': ['vm', 'notation', 'shadow']}})"
        ".version)"
    )
    versions = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"},
            cwd=Path(__file__).parents[1],
        ).stdout.strip()
        for seed in (1, 2, 3)
    }
    assert len(versions) == 1


def test_a_new_configuration_misses_the_cache() -> None:
    candidate = Candidate(
        name="t", backend=BackendName.COQ, statement="Theorem t : True.", proof="exact I."
    )
    relaxed = StrictPolicy(PolicyConfig.model_validate({"coq": {"allow": ["vm"]}}))
    keys = {
        candidate_key(candidate, toolchain="coq-8.16", policy_version=p.version)
        for p in (StrictPolicy(), relaxed)
    }
    assert len(keys) == 2


def test_policy_files_load_as_json_and_toml(tmp_path: Path) -> None:
    as_json = tmp_path / "policy.json"
    as_json.write_text(json.dumps({"coq": {"allow": ["vm"]}, "lean": {"options": ["pp.*"]}}))
    loaded = load_policy_config(as_json)
    assert loaded.coq.allow == {"vm"}
    assert loaded.lean.options == ("pp.*",)
    if sys.version_info >= (3, 11):
        as_toml = tmp_path / "policy.toml"
        as_toml.write_text('[coq]\nallow = ["vm"]\n\n[lean]\noptions = ["pp.*"]\n')
        assert load_policy_config(as_toml) == loaded


@pytest.mark.parametrize(
    "content",
    [
        {"coq": {"allow": ["no-such-rule"]}},
        {"coq": {"allow": ["vm"]}, "unknown": True},
        {"coq": {"axioms": [{"header_pattern": "(unclosed", "axioms": []}]}},
        {"coq": {"axioms": [{"header_pattern": "", "axioms": ["<candidate>.cheat"]}]}},
        {"coq": {"axioms": [{"header_pattern": "", "axioms": ["unresolved:cheat"]}]}},
        {"text_rules": "sometimes"},
    ],
)
def test_a_bad_policy_file_is_refused(tmp_path: Path, content: dict) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError):
        load_policy_config(path)


def coq_candidate(header: str) -> Candidate:
    return Candidate(
        name="t",
        backend=BackendName.COQ,
        header=header,
        statement="Theorem t : True.",
        proof="exact I.",
    )


def test_classical_axioms_are_granted_to_the_reals_problems_only() -> None:
    policy = StrictPolicy()
    reals = policy.allowed_axioms(coq_candidate(REALS))
    assert "Coq.Logic.Classical_Prop.classic" in reals
    assert "Coq.Logic.FunctionalExtensionality.functional_extensionality_dep" in reals
    assert policy.allowed_axioms(coq_candidate("Require Import Arith.\n")) == frozenset()


def test_axiom_grants_are_configurable() -> None:
    grant = AxiomGrant(
        header_pattern=r"\bZArith\b", axioms=frozenset({"Coq.Logic.Eqdep.Eq_rect_eq.eq_rect_eq"})
    )
    policy = StrictPolicy(PolicyConfig.model_validate({"coq": {"axioms": [grant.model_dump()]}}))
    assert policy.allowed_axioms(coq_candidate("Require Import ZArith.\n")) == grant.axioms
    assert policy.allowed_axioms(coq_candidate(REALS)) == frozenset()
    lean = Candidate(
        name="t", backend=BackendName.LEAN, statement="theorem t : True := by\n", proof="trivial"
    )
    assert policy.allowed_axioms(lean) == {"propext", "Classical.choice", "Quot.sound"}
