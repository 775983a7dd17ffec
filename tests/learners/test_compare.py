"""`leanfilter compare` without a prover: the config, its errors, the dry run of the paper's
setting, the missing base model, and the evaluation records' arithmetic."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from leanfilter.cli import main
from leanfilter.records import Status
from learners.compare.config import CompareConfig
from learners.compare.evaluate import ProblemEval, kl_to_target, read_evals
from learners.compare.problems import read_problems
from tests.learners.tiny import save_tiny_model

ROOT = Path(__file__).parents[2]
MINIF2F = ROOT / "data" / "minif2f_lean" / "minif2f.jsonl"


def settings(**changes) -> dict:
    return {
        "name": "t",
        "base_model": "m",
        "problems": {"train": [{"path": str(MINIF2F)}], "eval": [{"path": str(MINIF2F)}]},
        "learners": [{"learner": "alpha_dpg", "alphas": [0, 0.5]}, {"learner": "grpo"}],
    } | changes


def test_an_alpha_grid_is_one_arm_per_alpha():
    arms = CompareConfig.model_validate(settings()).arms()
    assert [a.label for a in arms] == ["alpha_dpg-a0", "alpha_dpg-a0.5", "grpo"]
    assert [a.options for a in arms] == [{"alpha": 0.0}, {"alpha": 0.5}, {}]


@pytest.mark.parametrize("name", ["cpu-coq", "cpu-coq-quick"])
def test_the_cpu_configs_hold_every_objective_the_comparison_needs(name):
    """Both cpu-coq configs: alpha at both ends of its range, the three baselines, two seeds."""
    config = CompareConfig.model_validate(
        yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    )
    labels = {arm.label for arm in config.arms()}
    assert {"alpha_dpg-a0", "alpha_dpg-a0.999", "grpo", "rloo", "rs_sft"} <= labels
    assert len(config.seeds) >= 2 and config.name == name


def test_k_always_includes_precision_and_fits_the_samples():
    config = CompareConfig.model_validate(settings(eval={"samples": 16, "k": [16, 4]}))
    assert config.eval.k == [1, 4, 16]
    with pytest.raises(ValueError, match="samples = 16"):
        CompareConfig.model_validate(settings(eval={"samples": 16, "k": [32]}))


def test_two_arms_with_one_label_are_refused():
    with pytest.raises(ValueError, match="share a label: grpo"):
        CompareConfig.model_validate(settings(learners=[{"learner": "grpo"}] * 2))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"learners": [{"learner": "alpha_dpg", "alphas": []}]}, "learners.0.alphas"),
        ({"eval": {"top_p": 1.5}}, "eval.top_p"),
        ({"sampling": {"group_size": 1}}, "sampling.group_size"),
        ({"problems": {"train": [{}], "eval": []}}, "problems.train.0"),
    ],
)
def test_a_bad_field_is_named_by_the_command(tmp_path, change, field):
    path = tmp_path / "compare.yaml"
    path.write_text(yaml.safe_dump(settings(**change)))
    result = CliRunner().invoke(main, ["compare", str(path)])
    assert result.exit_code != 0
    assert field in result.output


def test_a_problem_in_both_splits_is_refused():
    config = CompareConfig.model_validate(settings())
    with pytest.raises(ValueError, match="both train and eval"):
        read_problems(config.problems)


def test_the_paper_config_dry_runs_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["compare", "configs/paper-lean.yaml", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for alpha in ("0", "0.25", "0.5", "0.75", "0.9", "0.999"):
        assert any(line.startswith(f"learner alpha_dpg-a{alpha}: AlphaDPG") for line in lines)
    assert "eval problems: 244 from local files" in lines
    assert any("internlm/Lean-Workbook" in line for line in lines)
    assert "training runs: 9 arms x 1 seeds, 100 steps of 128 prompts x 4 samples" in result.output
    assert "completions end at EOS, after 2048 tokens (2048 in evaluation)," in result.output
    assert "or before a stop string: '```'" in result.output
    assert "256 samples per problem, T 1, top_p 0.99, pass@1, pass@256" in result.output
    assert lines[-1] == "dry run: every part built, nothing trained"


def test_a_dry_run_builds_a_local_model_without_its_weights(tmp_path):
    model = save_tiny_model(tmp_path / "model")
    path = tmp_path / "compare.json"
    names = {"names": ["mathd_algebra_478"]}
    problems = {
        "train": [{"path": str(MINIF2F), "names": ["amc12a_2019_p21"]}],
        "eval": [{"path": str(MINIF2F)} | names],
    }
    path.write_text(json.dumps(settings(base_model=str(model), problems=problems)))
    result = CliRunner().invoke(main, ["compare", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "LlamaForCausalLM" in result.output and "weights not loaded" in result.output


def test_an_unknown_learner_stops_the_dry_run(tmp_path):
    path = tmp_path / "compare.json"
    problems = {
        "train": [{"path": str(MINIF2F), "split": "valid"}],
        "eval": [{"path": str(MINIF2F), "split": "test"}],
    }
    path.write_text(json.dumps(settings(problems=problems, learners=[{"learner": "nope"}])))
    result = CliRunner().invoke(main, ["compare", str(path), "--dry-run"])
    assert result.exit_code != 0
    assert "no learner 'nope'" in result.output


def test_a_missing_base_model_is_one_line_naming_its_command(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    config = yaml.safe_load((ROOT / "configs" / "cpu-coq.yaml").read_text())
    config |= {"base_model": str(tmp_path / "base"), "output_dir": str(tmp_path / "out")}
    path = tmp_path / "cpu-coq.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["compare", str(path)])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        f"Error: base model {tmp_path / 'base'} is missing: make it with"
        f" `{config['base_model_command']}`"
    ]
    assert not (tmp_path / "out").exists()


statuses = st.lists(st.sampled_from([Status.PROVED, Status.FAILED, Status.ERROR]), min_size=1)


@given(statuses, st.lists(st.floats(-50, 0), min_size=1, max_size=1))
def test_the_base_model_is_at_minus_log_z_from_its_target(found, logp):
    """KL(p‖π_base) = E_p[log π_base - log Z - log π_base] = -log Z, whatever the samples."""
    accepted = found.count(Status.PROVED)
    answered = len(found) - found.count(Status.ERROR)
    record = ProblemEval(
        problem="x",
        statuses=found,
        accepted=["p"] * accepted,
        logp_targets=logp * accepted,
    )
    kl = kl_to_target({"x": record}, {"x": record})
    if accepted == 0:
        assert kl == {}
    else:
        assert kl["x"] == pytest.approx(-math.log(accepted / answered))


def test_an_evaluation_cut_short_by_a_kill_keeps_its_whole_lines(tmp_path):
    path = tmp_path / "base.jsonl"
    line = ProblemEval(problem="a", statuses=[Status.PROVED], accepted=["x"], logp_targets=[-1.0])
    path.write_text(line.model_dump_json() + "\n" + '{"problem": "b", "stat')
    assert list(read_evals(path)) == ["a"]
