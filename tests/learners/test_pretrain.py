"""Pretraining the cpu-coq base model: a few steps on a tiny corpus, then load and sample it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from leanfilter.inputs import load_problems
from learners.config import TrainConfig
from learners.families import generate, write_split_files
from learners.policy import CausalLMPolicy
from learners.pretrain import (
    LOG_FILE,
    Batcher,
    PretrainConfig,
    build_tokenizer,
    load_examples,
    main,
    pretrain,
)

TINY = {"hidden_size": 16, "layers": 1, "heads": 2, "vocab_size": 300, "batch_size": 8}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("corpus")
    write_split_files(directory, *generate(12, 6, seed=0))
    return directory


def settings(corpus: Path, out: Path, **changes) -> PretrainConfig:
    files = {"problems": corpus / "train.jsonl", "corpus": corpus / "corpus.jsonl"}
    return PretrainConfig(out=out, **(TINY | {"steps": 3} | files | changes))


@pytest.fixture(scope="module")
def model_dir(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "base"
    return pretrain(settings(corpus, out, steps=40, learning_rate=1e-2, warmup_steps=5))


def test_the_saved_directory_loads_and_samples_through_the_policy(model_dir, corpus):
    policy = CausalLMPolicy.from_pretrained(str(model_dir))
    problems = list(load_problems(corpus / "eval.jsonl").values())[:2]
    template = TrainConfig.model_fields["prompt"].default
    prompts = [template.format(header=p.header, statement=p.statement) for p in problems]
    torch.manual_seed(0)
    rollout = policy.sample(prompts, group_size=3, max_new_tokens=12)
    assert [len(group) for group in rollout.texts] == [3, 3]
    assert all(isinstance(text, str) for group in rollout.texts for text in group)
    logp = policy.sequence_logp(rollout)
    assert logp.shape == (2, 3) and torch.isfinite(logp).all() and (logp < 0).all()


def test_transformers_loads_tokenizer_and_model_and_the_tokenizer_round_trips(model_dir, corpus):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert model.config.vocab_size == len(tokenizer)
    for line in (corpus / "corpus.jsonl").read_text().splitlines()[:50]:
        proof = json.loads(line)["proof"]
        ids = tokenizer.encode(proof, add_special_tokens=False)
        assert tokenizer.decode(ids) == proof
    assert tokenizer.decode(tokenizer.encode("∀ x, x ≠ ä.", add_special_tokens=False)) == (
        "∀ x, x ≠ ä."
    )


def test_training_lowers_the_loss(model_dir):
    losses = [json.loads(line)["loss"] for line in (model_dir / LOG_FILE).read_text().splitlines()]
    assert len(losses) >= 2
    assert losses[-1] < 0.7 * losses[0], losses


def test_pretraining_is_a_function_of_the_seed(corpus, tmp_path):
    runs = {
        name: AutoModelForCausalLM.from_pretrained(
            pretrain(settings(corpus, tmp_path / name, seed=s))
        )
        for name, s in (("a", 1), ("b", 1), ("c", 2))
    }
    weights = {name: torch.cat([p.flatten() for p in m.parameters()]) for name, m in runs.items()}
    assert torch.equal(weights["a"], weights["b"])
    assert not torch.equal(weights["a"], weights["c"])


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_mix_draws_wrong_scripts_at_the_share_asked(corpus, tmp_path, share):
    config = settings(corpus, tmp_path, wrong_share=share, batch_size=64)
    examples = load_examples(config)
    tokenizer = build_tokenizer([e.prompt for e in examples] + [e.proof for e in examples], 300)
    labels = {(e.prompt, e.proof): e.correct for e in examples}
    ids, mask, target = Batcher(examples, tokenizer, config).batch()
    drawn = [
        (
            tokenizer.decode(row[(goal < 0) & (used == 1)].tolist()),
            tokenizer.decode(goal[goal >= 0].tolist()[:-1]),
        )
        for row, used, goal in zip(ids, mask, target, strict=True)
    ]
    assert all(labels[pair] == (share == 0.0) for pair in drawn)


def test_the_command_line_reads_every_field(corpus, tmp_path):
    main(
        ["--out", str(tmp_path / "cli"), "--steps", "2", "--wrong-share", "0.5"]
        + [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
        + ["--problems", str(corpus / "train.jsonl"), "--corpus", str(corpus / "corpus.jsonl")]
    )
    saved = json.loads((tmp_path / "cli" / "pretrain_config.json").read_text())
    assert saved["steps"] == 2 and saved["wrong_share"] == 0.5 and saved["hidden_size"] == 16
