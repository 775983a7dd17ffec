"""End to end with real Coq: sample proofs of miniF2F-rocq problems, score them with the oracle,
estimate Z, and evaluate the sampled runs with `leanfilter verify` and `leanfilter stats`.

The "model" is a distribution over a handful of tactic scripts, so every expectation can be
computed exactly by scoring the whole support once; the samples are then drawn from it with a
seeded generator, as a sampler would.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from leanfilter.cli import main
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import load_problems
from leanfilter.oracle import (
    Oracle,
    log_z_acceptance,
    log_z_importance,
    target_logp,
)
from leanfilter.pool import PoolConfig
from leanfilter.records import Problem, Status

pytestmark = [
    pytest.mark.coq,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("coqtop") is None, reason="coqtop is not on PATH"),
]

ROCQ = Path(__file__).parents[1] / "data" / "minif2f_rocq" / "minif2f_rocq.jsonl"

# stdlib-only problems: some closed by linear or non-linear arithmetic, one by none of the scripts
NAMES = [
    "mathd_algebra_125",
    "mathd_algebra_296",
    "mathd_algebra_107",
    "mathd_algebra_141",
    "mathd_algebra_158",
]
# The tactics a sampler's prompt makes available; miniF2F-rocq statements import only what they
# state, so the header gains them as a Lean prompt gains `import Mathlib`.
TACTIC_IMPORTS = "Require Import Lia Lra Psatz.\n"
SCRIPTS = [
    "intros; lia.",
    "intros; nia.",
    "intros; lra.",
    "intros; nra.",
    "intros; reflexivity.",
    "intros. auto.",
    "admit.",
]
PI_BASE = np.array([0.25, 0.10, 0.20, 0.10, 0.15, 0.10, 0.10])
PI_POLICY = np.array([0.05, 0.30, 0.05, 0.35, 0.10, 0.05, 0.10])
SAMPLES = 48


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    known = load_problems(ROCQ)
    return [
        known[name].model_copy(update={"header": known[name].header + TACTIC_IMPORTS})
        for name in NAMES
    ]


@pytest.fixture(scope="module")
def verifier():
    with Verifier(VerifierConfig(pool=PoolConfig(workers=2), timeout=20)) as engine:
        yield engine


@pytest.fixture(scope="module")
def support_v(problems, verifier) -> dict[str, np.ndarray]:
    """v over the whole support of every problem: the ground truth the estimates aim at."""
    results = Oracle(verifier).score_batch([(p, SCRIPTS) for p in problems])
    return {r.problem.name: r.v for r in results}


def test_the_oracle_accepts_correct_scripts_only(support_v, problems):
    # lia/nia close the nat and Z goals; only lra/nra can touch the real ones; admit never counts
    assert support_v["mathd_algebra_125"][:2].tolist() == [1.0, 1.0]
    assert support_v["mathd_algebra_125"][2] == 0.0
    assert support_v["mathd_algebra_107"][[2, 3]].tolist() == [1.0, 1.0]
    assert support_v["mathd_algebra_141"][[0, 1]].tolist() == [0.0, 0.0]
    assert not support_v["mathd_algebra_158"].any()
    for name, v in support_v.items():
        assert v[SCRIPTS.index("admit.")] == 0.0, name
        assert not np.isnan(v).any(), name


def test_z_estimates_from_sampled_proofs_land_near_the_exact_z(problems, verifier, support_v):
    rng = np.random.default_rng(7)
    oracle = Oracle(verifier)
    log_base, log_policy = np.log(PI_BASE), np.log(PI_POLICY)
    for problem in problems:
        v = support_v[problem.name]
        z = float(np.sum(PI_BASE * v))
        from_base = rng.choice(len(SCRIPTS), size=SAMPLES, p=PI_BASE)
        from_policy = rng.choice(len(SCRIPTS), size=SAMPLES, p=PI_POLICY)
        base_result = oracle.score(problem, [SCRIPTS[i] for i in from_base])
        policy_result = oracle.score(problem, [SCRIPTS[i] for i in from_policy])
        # every sample was already checked with the support: the engine answers from its cache
        assert all(verdict.cached for verdict in policy_result.verdicts)
        assert np.array_equal(policy_result.v, v[from_policy])

        weights = PI_BASE * v / PI_POLICY  # exact standard errors of both estimators
        se_importance = math.sqrt((np.sum(PI_POLICY * weights**2) - z**2) / SAMPLES)
        se_acceptance = math.sqrt(z * (1 - z) / SAMPLES)
        z_importance = math.exp(
            log_z_importance(log_base[from_policy], log_policy[from_policy], policy_result.v)
        )
        z_acceptance = math.exp(log_z_acceptance(base_result.v))
        assert abs(z_importance - z) <= 4 * se_importance + 1e-12, problem.name
        assert abs(z_acceptance - z) <= 4 * se_acceptance + 1e-12, problem.name
        if z > 0:
            log_p = target_logp(log_base, v, math.log(z))
            assert float(np.sum(np.exp(log_p))) == pytest.approx(1.0)


def test_an_engine_failure_is_unknown_not_a_rejection(problems, verifier):
    broken = problems[0].model_copy(
        update={"header": problems[0].header + "Require Import NoSuchLibraryAnywhere.\n"}
    )
    result = Oracle(verifier).score(broken, SCRIPTS[:3])
    assert [v.status for v in result.verdicts] == [Status.ERROR] * 3
    assert len(result.errors) == 3 and not result.valid.any()
    assert np.isnan(result.v).all()
    assert math.isnan(log_z_acceptance(result.v))
    assert math.isnan(log_z_importance(np.zeros(3), np.zeros(3), result.v))


def _sampled_run(path: Path, problems: list[Problem], probs: np.ndarray, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w") as out:
        for problem in problems:
            for i in rng.choice(len(SCRIPTS), size=16, p=probs):
                line = {
                    "name": problem.name,
                    "header": problem.header,
                    "formal_statement": problem.statement,
                    "proof": SCRIPTS[i],
                    "logp_base": float(np.log(PI_BASE[i])),
                }
                out.write(json.dumps(line) + "\n")
    return path


def test_verify_then_stats_on_sampled_runs(tmp_path, problems, support_v):
    runner = CliRunner()
    database = tmp_path / "proofs.db"
    runs = {}
    for label, probs, seed in (("base", PI_BASE, 1), ("policy", PI_POLICY, 2)):
        candidates = _sampled_run(tmp_path / f"{label}-samples.jsonl", problems, probs, seed)
        verdicts = tmp_path / f"{label}.jsonl"
        command = ["verify", str(candidates), "-o", str(verdicts), "--db", str(database)]
        result = runner.invoke(main, [*command, "--workers", "2", "--no-progress"])
        assert result.exit_code == 0, result.output
        runs[label] = (verdicts, candidates)

    plot = tmp_path / "pareto.png"
    inputs = [f"--candidates={candidates}" for _, candidates in runs.values()]
    files = [str(verdicts) for verdicts, _ in runs.values()]
    result = runner.invoke(main, ["stats", *files, *inputs, "--k", "1,4,16", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    output = result.output
    assert plot.stat().st_size > 10_000

    distinct = {}
    for label, (_, candidates) in runs.items():
        # what the verify → stats path prints must agree with the oracle's own verdicts
        lines = [json.loads(line) for line in candidates.open()]
        v = [support_v[line["name"]][SCRIPTS.index(line["proof"])] for line in lines]
        rates = {p.name: [] for p in problems}
        for line, value in zip(lines, v, strict=True):
            rates[line["name"]].append(value)
        expected = np.mean([np.mean(r) for r in rates.values()])
        section = output.split(f"== {label}:")[1].split("\n== ")[0]
        assert f"{len(problems)} problems answered, {16 * len(problems)} samples" in section
        precision = float(re.search(r"pass@1\s+([\d.]+)", section)[1])
        assert precision == pytest.approx(expected, abs=6e-4)  # printed with three decimals
        accepted = {
            (line["name"], line["proof"]) for line, value in zip(lines, v, strict=True) if value
        }
        solved = len({name for name, _ in accepted})
        distinct[label] = f"{len(accepted)} distinct over {solved} problems"
        assert distinct[label] in section
    unsolved = re.search(r"^\s+unsolved\s+(\d+)\s+(\d+)", output, re.M)
    assert unsolved and int(unsolved[1]) >= 1 and int(unsolved[2]) == 0

    # the database holds the same two runs, with the same accepted proofs
    result = runner.invoke(main, ["stats", str(database), "--k", "1,4"])
    assert result.exit_code == 0, result.output
    assert result.output.count("== proofs:") == 2 + 1  # two runs, one comparison
    for line in distinct.values():
        assert line in result.output
