"""Cost of one optimisation step of each learner against GRPO's, and the split of a loop step.

Part 1: one fixed scored batch (B prompts x G samples on a small Llama built in-process), each
learner's loss + backward + AdamW step timed `repeats` times, interleaved, median reported as a
ratio to GRPO's. The learners differ only in a few tensor operations on [B, G], so the ratios
should sit near 1.

Part 2: a short training run of the tiny tactic model with real Coq verification; the share of
wall time spent sampling, verifying and learning, summed over its steps.

Usage: python benchmarks/learner_step.py [repeats] [loop_steps]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from learners.base import ScoredBatch
from learners.config import TrainConfig
from learners.loop import train
from learners.registry import available, make_learner

sys.path.insert(0, str(Path(__file__).parents[1]))
from tests.learners.tiny import save_tiny_model

ROCQ = Path(__file__).parents[1] / "data" / "minif2f_rocq" / "minif2f_rocq.jsonl"


class Policy:
    def __init__(self, model: LlamaForCausalLM) -> None:
        self.model = model

    def sequence_logp(self, batch: ScoredBatch) -> torch.Tensor:
        logits = self.model(input_ids=batch.input_ids).logits.float()
        token = torch.log_softmax(logits[:, :-1], -1).gather(-1, batch.input_ids[:, 1:, None])
        return (token[..., 0] * batch.completion_mask[:, 1:]).sum(-1).reshape(batch.v.shape)


def fixed_batch(prompts: int, group: int, prompt_len: int, completion_len: int) -> ScoredBatch:
    generator = torch.Generator().manual_seed(0)
    rows, length = prompts * group, prompt_len + completion_len
    ids = torch.randint(0, 512, (rows, length), generator=generator)
    completion = torch.zeros(rows, length, dtype=torch.long)
    completion[:, prompt_len:] = 1
    logp = -torch.rand(prompts, group, generator=generator, dtype=torch.float64) * 40
    v = (torch.rand(prompts, group, generator=generator) < 0.4).double()
    return ScoredBatch(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        completion_mask=completion,
        logp_rollout=logp,
        logp_base=logp - 0.5,
        v=v,
        log_z=torch.full((prompts,), -1.5, dtype=torch.float64),
        max_length=completion_len,
    )


def step_times(repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
    )
    policy = Policy(LlamaForCausalLM(config))
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=1e-6)
    batch = fixed_batch(prompts=4, group=8, prompt_len=32, completion_len=32)
    learners = {name: make_learner(name) for name in available()}
    times: dict[str, list[float]] = {name: [] for name in learners}
    for _ in range(repeats):
        for name, learner in learners.items():
            start = time.perf_counter()
            optimizer.zero_grad()
            learner.loss(batch, policy).backward()
            optimizer.step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def loop_split(steps: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        model = save_tiny_model(Path(tmp) / "model")
        config = TrainConfig(
            model=str(model),
            problems=ROCQ,
            problem_names=["mathd_algebra_125", "mathd_algebra_107"],
            header_suffix="Require Import Lia Lra Psatz.\n",
            sampling={"group_size": 4, "max_new_tokens": 3},
            steps=steps,
            output_dir=Path(tmp) / "run",
        )
        records = train(config)
    return {key: sum(r[key] for r in records) for key in ("sample_s", "verify_s", "learn_s")}


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    loop_steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    times = step_times(repeats)
    print(f"one step on a fixed batch (4 prompts x 8 samples x 64 tokens), median of {repeats}:")
    for name, seconds in sorted(times.items()):
        print(f"  {name:14s} {seconds * 1000:8.1f} ms  {seconds / times['grpo']:5.2f}x GRPO")
    split = loop_split(loop_steps)
    total = sum(split.values())
    print(f"tiny-model loop with real Coq, {loop_steps} steps, {total:.1f} s in all:")
    for key, seconds in split.items():
        print(f"  {key[:-2]:8s} {seconds:6.2f} s  {100 * seconds / total:5.1f}%")


if __name__ == "__main__":
    main()
