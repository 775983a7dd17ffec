"""RS-SFT offline: base samples drawn once into a real database with real Coq, then trained on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from leanfilter.db import ProofDB
from learners.config import TrainConfig
from learners.offline import MODEL, accepted_samples, draw_base_samples, train_on_samples
from learners.policy import CausalLMPolicy
from tests.learners.tiny import HEADER, save_tiny_model

pytestmark = [
    pytest.mark.coq,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("coqtop") is None, reason="coqtop is not on PATH"),
]

# one-tactic proofs: lia, nia, auto and reflexivity prove these, the other tactics do not
PROBLEMS = [
    {"name": "one_plus_one", "statement": "Theorem one_plus_one : 1 + 1 = 2."},
    {"name": "two_times", "statement": "Theorem two_times : 2 * 3 = 6."},
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two rounds of base samples drawn once; the config and the samples' run id."""
    root = tmp_path_factory.mktemp("offline")
    problems = root / "problems.jsonl"
    problems.write_text(
        "".join(json.dumps(p | {"backend": "coq", "header": HEADER}) + "\n" for p in PROBLEMS)
    )
    config = TrainConfig(
        model=str(save_tiny_model(root / "model", seed=2)),
        problems=problems,
        sampling={"group_size": 4, "max_new_tokens": 1},
        prompts_per_step=2,
        steps=6,
        learning_rate=5e-2,
        database=root / "proofs.db",
        output_dir=root / "run",
    )
    return config, draw_base_samples(config, rounds=2)


def test_base_samples_are_recorded_once_with_their_sampler(setup):
    config, run_id = setup
    with ProofDB(config.database) as db:
        stored = list(db.results(run_id=run_id))
        (run,) = [r for r in db.runs() if r.id == run_id]
    assert run.outcome == "completed"
    assert len(stored) == 2 * len(PROBLEMS) * 4
    samplers = [r.candidate.sampler for r in stored]
    assert {s.step for s in samplers} == {0, 1}
    assert all(s.model == config.model and s.logp_policy == s.logp_base < 0 for s in samplers)
    assert {r.verdict.status.value for r in stored} >= {"proved", "failed"}
    accepted = accepted_samples(config.database, run_id)
    assert len(accepted) == sum(r.verdict.accepted for r in stored)
    assert {c.proof for c in accepted} <= {"lia.", "nia.", "auto.", "reflexivity."}


def mean_logp(model_dir: Path, config: TrainConfig, run_id: str) -> float:
    policy = CausalLMPolicy.from_pretrained(str(model_dir))
    samples = accepted_samples(config.database, run_id)
    rollout = policy.encode(
        [config.prompt.format(header=c.header, statement=c.statement) for c in samples],
        [[c.proof] for c in samples],
    )
    with torch.no_grad():
        return float(policy.sequence_logp(rollout).mean())


def test_training_raises_the_likelihood_of_accepted_samples_without_a_prover(setup, monkeypatch):
    config, run_id = setup
    monkeypatch.setenv("PATH", "")  # no coqtop: training must not ask a prover
    records = train_on_samples(config, run_id)
    assert [r["step"] for r in records] == list(range(6))
    assert all(r["samples"] == 8 and r["pool"] >= 1 for r in records)
    lines = (config.output_dir / "steps.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == records
    trained = mean_logp(config.output_dir / MODEL, config, run_id)
    assert trained > mean_logp(Path(config.model), config, run_id) + 0.5


def test_a_run_without_accepted_samples_is_refused(setup, tmp_path):
    config, _ = setup
    with ProofDB(config.database) as db:
        empty = db.start_run("nothing", {}).id
    with pytest.raises(ValueError, match="no accepted sample"):
        train_on_samples(config.model_copy(update={"output_dir": tmp_path}), empty)
