"""Every learner through the real loop: a tiny in-process model, real Coq verification.

The model's tokens are whole tactics (tests/learners/tiny.py), so random weights already sample
proofs Coq accepts, and a few steps see both verdicts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from leanfilter.cli import main
from leanfilter.db import ProofDB
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import load_problems
from leanfilter.oracle import Oracle
from learners.config import TrainConfig
from learners.loop import CHECKPOINT, LOG, scored_batch, train
from learners.policy import CausalLMPolicy
from learners.registry import available, make_learner
from tests.learners.tiny import save_tiny_model

pytestmark = [
    pytest.mark.coq,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("coqtop") is None, reason="coqtop is not on PATH"),
]

ROCQ = Path(__file__).parents[2] / "data" / "minif2f_rocq" / "minif2f_rocq.jsonl"
NAMES = ["mathd_algebra_125", "mathd_algebra_107"]
TACTICS = "Require Import Lia Lra Psatz.\n"
LEARNERS = [
    "alpha_dpg",
    "grpo",
    "dr_grpo",
    "rloo",
    "reinforce",
    "kl_rl",
    "pass_at_k",
    "unlikeliness",
    "rs_sft",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def config(model_dir: Path, out: Path, **changes) -> TrainConfig:
    settings = {
        "model": str(model_dir),
        "problems": ROCQ,
        "problem_names": NAMES,
        "header_suffix": TACTICS,
        "sampling": {"group_size": 4, "max_new_tokens": 3},
        "prompts_per_step": 2,
        "steps": 1,
        "learning_rate": 1e-2,
        "output_dir": out,
    }
    return TrainConfig.model_validate(settings | changes)


def test_every_shipped_learner_is_tested():
    assert set(LEARNERS) <= set(available())


@pytest.mark.parametrize("name", LEARNERS)
def test_a_learner_runs_logs_and_checkpoints(model_dir, tmp_path, name):
    settings = config(model_dir, tmp_path / "run", learner=name, database=tmp_path / "p.db")
    (record,) = train(settings)
    logged = [json.loads(line) for line in (tmp_path / "run" / LOG).read_text().splitlines()]
    assert logged == [record]
    assert record["errors"] == 0
    assert 0.0 <= record["reward"] <= 1.0
    assert record["sample_s"] > 0 and record["verify_s"] > 0 and record["learn_s"] > 0
    assert (tmp_path / "run" / CHECKPOINT).exists()
    stats = ProofDB(tmp_path / "p.db").problem_stats()
    assert sum(s.candidates for s in stats) == 8


def test_resuming_gives_the_same_next_step_as_an_uninterrupted_run(model_dir, tmp_path):
    straight = train(config(model_dir, tmp_path / "a", steps=3))
    train(config(model_dir, tmp_path / "b", steps=2))
    resumed = train(config(model_dir, tmp_path / "b", steps=3))
    assert [r["step"] for r in resumed] == [2]
    for key in ("loss", "reward", "kl", "entropy", "distinct_accepted"):
        assert resumed[0][key] == pytest.approx(straight[2][key], rel=1e-6), key


@pytest.fixture(scope="module")
def fixed_batch(model_dir):
    """One group with exactly one accepted proof (lia closes this nat goal; lra and auto fail)."""
    policy = CausalLMPolicy.from_pretrained(str(model_dir))
    first = load_problems(ROCQ)[NAMES[0]]
    first = first.model_copy(update={"header": first.header + TACTICS})
    texts = [["intros. lia.", "intros. lra.", "admit.", "intros. auto."]]
    rollout = policy.encode([first.header + first.statement + "\nProof.\n"], texts)
    with Verifier(VerifierConfig(timeout=20)) as engine:
        (result,) = Oracle(engine).score_batch([(first, texts[0])])
    v = torch.tensor(result.v[None], dtype=torch.float64)
    assert v.tolist() == [[1.0, 0.0, 0.0, 0.0]]
    with torch.no_grad():
        logp = policy.sequence_logp(rollout).double()
    log_z = torch.tensor([-1.0], dtype=torch.float64)
    return rollout, logp, v, log_z


@pytest.mark.parametrize("name", LEARNERS)
def test_the_loss_decreases_on_a_fixed_batch(model_dir, fixed_batch, name):
    rollout, logp, v, log_z = fixed_batch
    policy = CausalLMPolicy.from_pretrained(str(model_dir))
    batch = scored_batch(rollout, logp, logp, v, log_z, max_length=3)
    learner = make_learner(name)
    optimizer = torch.optim.Adam(policy.model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = learner.loss(batch, policy)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


def test_the_train_command_reads_a_config_file(model_dir, tmp_path):
    settings = config(model_dir, tmp_path / "run").model_dump(mode="json")
    path = tmp_path / "train.json"
    path.write_text(json.dumps(settings))
    result = CliRunner().invoke(main, ["train", str(path)])
    assert result.exit_code == 0, result.output
    assert "step 0: loss" in result.output


def test_a_bad_config_field_is_named(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("model: m\nproblems: p.jsonl\nsampling:\n  group_size: 1\n")
    result = CliRunner().invoke(main, ["train", str(path)])
    assert result.exit_code != 0
    assert "sampling.group_size" in result.output
