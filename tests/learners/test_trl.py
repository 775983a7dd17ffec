"""TRL's GRPOTrainer with leanfilter's verifier as its reward: a tiny model, real Coq."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from leanfilter.db import ProofDB
from leanfilter.inputs import load_problems
from leanfilter.records import BackendName, Problem
from learners.trl import VerifierReward, completion_text, prompt_dataset
from tests.learners.tiny import HEADER, save_tiny_model

trl = pytest.importorskip("trl", reason="trl is not installed (pip install -e '.[trl]')")

pytestmark = [
    pytest.mark.coq,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("coqtop") is None, reason="coqtop is not on PATH"),
]

MINIF2F = Path(__file__).parents[2] / "data" / "minif2f_rocq" / "minif2f_rocq.jsonl"


@pytest.fixture(scope="module")
def problems():
    """A miniF2F problem (intros. lia. proves it) and one that many single tactics prove."""
    hard = load_problems(MINIF2F)["mathd_algebra_125"]
    easy = Problem(
        name="one_plus_one",
        backend=BackendName.COQ,
        header=HEADER,
        statement="Theorem one_plus_one : 1 + 1 = 2.",
    )
    return [hard.model_copy(update={"header": hard.header + HEADER}), easy]


def test_the_reward_is_the_verdict_and_is_recorded(problems, tmp_path):
    first = problems[0].name
    completions = ["intros. lia.", "intros. lra.", [{"role": "assistant", "content": "admit."}]]
    with VerifierReward(problems, database=tmp_path / "p.db", model="m") as reward:
        rewards = reward(prompts=["x"] * 3, completions=completions, problem=[first] * 3)
        again = reward(prompts=["x"], completions=["intros. lia."], problem=[first])
    assert rewards == [1.0, 0.0, 0.0]
    assert again == [1.0]
    with ProofDB(tmp_path / "p.db") as db:
        (run,) = db.runs()
        stored = list(db.results(run_id=run.id))
    assert run.outcome == "completed"
    assert [r.verdict.cached for r in stored] == [False, False, False, True]
    assert {r.candidate.sampler.model for r in stored} == {"m"}


def test_a_prompt_without_its_problem_is_refused(problems):
    with VerifierReward(problems) as reward, pytest.raises(ValueError, match="'problem' column"):
        reward(prompts=["x"], completions=["lia."])
    with VerifierReward(problems) as reward, pytest.raises(KeyError, match="nope"):
        reward(prompts=["x"], completions=["lia."], problem=["nope"])


def test_completion_text_reads_strings_and_conversations():
    assert completion_text(" lia. ") == "lia."
    assert completion_text([{"role": "assistant", "content": "auto.\n"}]) == "auto."


def test_grpo_trainer_trains_two_steps_on_the_verifier(problems, tmp_path):
    # one-tactic completions: lia, nia, auto and reflexivity prove 1 + 1 = 2, the rest do not,
    # so random weights already see both verdicts; the miniF2F problem stays unproved
    model_dir = save_tiny_model(tmp_path / "model")
    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "out"),
        num_generations=4,
        per_device_train_batch_size=8,
        max_completion_length=1,
        max_steps=2,
        learning_rate=1e-2,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
    )
    dataset = prompt_dataset(problems)
    with VerifierReward(problems, database=tmp_path / "p.db", model="tiny") as reward:
        trainer = trl.GRPOTrainer(
            model=str(model_dir), reward_funcs=reward, args=args, train_dataset=dataset
        )
        before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        trainer.train()
    with ProofDB(tmp_path / "p.db") as db:
        stored = list(db.results())
    assert len(stored) == 2 * 8
    assert {r.candidate.sampler.step for r in stored} == {0, 1}
    accepted = [
        [float(r.verdict.accepted) for r in stored if r.candidate.sampler.step == step]
        for step in (0, 1)
    ]
    logged = [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
    assert logged == pytest.approx([sum(a) / len(a) for a in accepted])
    assert 0.0 < sum(logged) < 2.0, "both verdicts should occur"
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "no step was taken"


@pytest.mark.skipif(
    shutil.which("lake") is not None or "LEANFILTER_LEAN_PROJECT" in os.environ,
    reason="a Lean toolchain is here, so the engine can answer a Lean proof",
)
def test_a_sample_the_engine_cannot_answer_is_none_never_zero():
    lean = Problem(name="two", backend=BackendName.LEAN, statement="theorem two : 1 + 1 = 2 :=")
    metrics = []
    with VerifierReward([lean]) as reward:
        rewards = reward(
            prompts=["x"],
            completions=["by rfl"],
            problem=["two"],
            log_metric=lambda name, value: metrics.append((name, value)),
        )
    assert rewards == [None]
    assert metrics == [("leanfilter/unknown", 1.0)]
