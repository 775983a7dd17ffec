"""Pretrain a small causal LM on generated Coq proof scripts: the base model π_base of `cpu-coq`.

The corpus is learners/families.py's: per train problem, proof scripts in several styles and
planted near misses. Each example is a prompt, the problem in the same template the learners
sample with (learners.config.TrainConfig.prompt), then one script and EOS; the loss is on the
script and EOS only. A share `wrong_share` of the examples are the wrong scripts, so the model's
distribution over proofs is diverse and imperfect on purpose. A byte-level BPE tokenizer is
trained on the corpus in-process and saved beside the model, so
`AutoTokenizer/AutoModelForCausalLM.from_pretrained(out)` load both. Deterministic given the
seed (and the number of threads).

    python -m learners.pretrain --out runs/cpu-coq/base [--steps N --wrong-share S ...]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from leanfilter.inputs import load_problems
from learners.config import TrainConfig

PAD, EOS = "<pad>", "<eos>"
CONFIG_FILE = "pretrain_config.json"
LOG_FILE = "pretrain_log.jsonl"


class PretrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out: Path
    problems: Path = Field(default=Path("data/compare/train.jsonl"), description="prompts")
    corpus: Path = Field(
        default=Path("data/compare/corpus.jsonl"), description="{name, proof, correct} lines"
    )
    prompt: str = Field(
        default=TrainConfig.model_fields["prompt"].default,
        description="the learners' prompt template, so the base is sampled as it was trained",
    )
    wrong_share: float = Field(default=0.75, ge=0.0, le=1.0, description="wrong scripts' share")
    steps: int = Field(default=600, ge=1)
    batch_size: int = Field(default=32, ge=1)
    learning_rate: float = Field(default=3e-3, gt=0.0)
    warmup_steps: int = Field(default=50, ge=0)
    weight_decay: float = Field(default=0.01, ge=0.0)
    seed: int = 0
    threads: int = Field(default=2, ge=1)
    vocab_size: int = Field(default=512, ge=300, description="byte-level BPE: 256 bytes + merges")
    hidden_size: int = Field(default=64, ge=8)
    layers: int = Field(default=3, ge=1)
    heads: int = Field(default=4, ge=1)
    log_every: int = Field(default=50, ge=1)


class Example(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt: str
    proof: str
    correct: bool


def load_examples(config: PretrainConfig) -> list[Example]:
    """Every (prompt, script) pair of the corpus, prompts built from the problems file."""
    problems = load_problems(config.problems)
    examples = []
    for line in config.corpus.read_text().splitlines():
        record = json.loads(line)
        problem = problems[record["name"]]
        prompt = config.prompt.format(header=problem.header, statement=problem.statement)
        examples.append(Example(prompt=prompt, proof=record["proof"], correct=record["correct"]))
    return examples


def build_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE fitted to `texts`: any text encodes, and common tactics are few tokens."""
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS)


def build_model(config: PretrainConfig, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    torch.manual_seed(config.seed)
    llama = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=4 * config.hidden_size,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.heads,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(llama)


class Batcher:
    """Seeded batches of the mix: each example a problem drawn uniformly, then a wrong script
    with probability `wrong_share` (a correct one otherwise), uniformly among that kind."""

    def __init__(
        self, examples: list[Example], tokenizer: PreTrainedTokenizerFast, config: PretrainConfig
    ) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.pad, self.eos = tokenizer.pad_token_id, tokenizer.eos_token_id
        by_prompt: dict[str, dict[bool, list[list[int]]]] = {}
        self.prompt_ids: dict[str, list[int]] = {}
        for e in examples:
            ids = tokenizer.encode(e.proof, add_special_tokens=False)
            by_prompt.setdefault(e.prompt, {True: [], False: []})[e.correct].append(ids)
            self.prompt_ids.setdefault(
                e.prompt, tokenizer.encode(e.prompt, add_special_tokens=False)
            )
        self.scripts = by_prompt
        self.prompts = sorted(by_prompt)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """input_ids, attention_mask, labels ([B, T]; labels -100 outside the script and EOS)."""
        rows, labels = [], []
        for _ in range(self.config.batch_size):
            prompt = self.rng.choice(self.prompts)
            kinds = self.scripts[prompt]
            wrong = self.rng.random() < self.config.wrong_share
            script = self.rng.choice(kinds[not wrong] or kinds[wrong])
            head, tail = self.prompt_ids[prompt], [*script, self.eos]
            rows.append(head + tail)
            labels.append([-100] * len(head) + tail)
        width = max(map(len, rows))
        ids = torch.tensor([r + [self.pad] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        target = torch.tensor([t + [-100] * (width - len(t)) for t in labels])
        return ids, mask, target


def pretrain(config: PretrainConfig) -> Path:
    """Train and save model, tokenizer, this config and the loss log under `config.out`."""
    torch.set_num_threads(config.threads)
    examples = load_examples(config)
    texts = sorted({e.prompt for e in examples} | {e.proof for e in examples})
    tokenizer = build_tokenizer(texts, config.vocab_size)
    model = build_model(config, tokenizer)
    batcher = Batcher(examples, tokenizer, config)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _rate(config, step))
    config.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model.train()
    with (config.out / LOG_FILE).open("w") as log:
        for step in range(config.steps):
            ids, mask, target = batcher.batch()
            loss = model(input_ids=ids, attention_mask=mask, labels=target).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            if step % config.log_every == 0 or step + 1 == config.steps:
                elapsed = time.perf_counter() - started
                log.write(json.dumps({"step": step, "loss": loss.item(), "elapsed_s": elapsed}))
                log.write("\n")
                log.flush()
    model.eval()
    model.save_pretrained(config.out)
    tokenizer.save_pretrained(config.out)
    (config.out / CONFIG_FILE).write_text(config.model_dump_json(indent=2) + "\n")
    return config.out


def _rate(config: PretrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, field in PretrainConfig.model_fields.items():
        flag = "--" + name.replace("_", "-")
        if field.is_required():
            parser.add_argument(flag, dest=name, required=True, help=field.description)
        else:
            parser.add_argument(
                flag, dest=name, help=f"{field.description or ''} ({field.default})"
            )
    values = {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}
    config = PretrainConfig.model_validate(values)
    out = pretrain(config)
    last = json.loads((out / LOG_FILE).read_text().splitlines()[-1])
    print(f"{out}: {config.steps} steps, final loss {last['loss']:.3f}, {last['elapsed_s']:.0f} s")


if __name__ == "__main__":
    main()
