"""Evaluation samplers: n completions of one prompt, through transformers or vLLM.

Training always samples through the policy (learners/policy.py); evaluation draws many more
samples per problem (the paper: 256), which vLLM does an order of magnitude faster on a GPU, so it
is used there when installed. Both are seeded per (problem, chunk): a resumed evaluation draws
what an uninterrupted one would have drawn for the problems it has left. Both end a completion at
the first stop string and cut it from the text, the policy as learners/stops.py says, vLLM by
its own `stop`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch

from learners.policy import CausalLMPolicy


class EvalSampling(Protocol):
    temperature: float
    top_p: float
    chunk: int


class Sampler(Protocol):
    def sample(self, prompts: list[str], n: int, seeds: list[int]) -> list[list[str]]:
        """n completions of each prompt, each prompt's drawn with its own seed."""
        ...


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def resolve_generation(choice: str) -> str:
    """`auto` is vLLM when it is installed, transformers otherwise."""
    if choice == "auto":
        return "vllm" if vllm_installed() else "transformers"
    if choice == "vllm" and not vllm_installed():
        raise ValueError("generation: vllm is not installed (pip install vllm), or use auto")
    return choice


class TransformersSampler:
    """Samples through the policy itself, `chunk` completions per generate call."""

    def __init__(
        self,
        policy: CausalLMPolicy,
        max_new_tokens: int,
        settings: EvalSampling,
        stop: Sequence[str] = (),
    ) -> None:
        self.policy = policy
        self.max_new_tokens = max_new_tokens
        self.settings = settings
        self.stop = list(stop)

    def sample(self, prompts: list[str], n: int, seeds: list[int]) -> list[list[str]]:
        return [self._sample(p, n, seed) for p, seed in zip(prompts, seeds, strict=True)]

    def _sample(self, prompt: str, n: int, seed: int) -> list[str]:
        texts: list[str] = []
        for start in range(0, n, self.settings.chunk):
            torch.manual_seed(seed * 1_000_003 + start)
            rollout = self.policy.sample(
                [prompt],
                min(self.settings.chunk, n - start),
                self.max_new_tokens,
                self.settings.temperature,
                self.settings.top_p,
                stop=self.stop,
            )
            texts.extend(rollout.texts[0])
        return texts


class VLLMSampler:
    """vLLM's engine over the model directory; completions stripped as the policy strips them."""

    def __init__(
        self,
        model_dir: Path,
        max_new_tokens: int,
        settings: EvalSampling,
        stop: Sequence[str] = (),
    ) -> None:
        from vllm import LLM

        self.llm = LLM(model=str(model_dir))
        self.max_new_tokens = max_new_tokens
        self.settings = settings
        self.stop = list(stop)

    def sample(self, prompts: list[str], n: int, seeds: list[int]) -> list[list[str]]:
        from vllm import SamplingParams

        params = [
            SamplingParams(
                n=n,
                temperature=self.settings.temperature,
                top_p=self.settings.top_p,
                max_tokens=self.max_new_tokens,
                seed=seed,
                stop=self.stop,  # the text ends before the stop string (vLLM's default)
            )
            for seed in seeds
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [[c.text.strip() for c in output.outputs] for output in outputs]


@torch.no_grad()
def sequence_logps(
    policy: CausalLMPolicy, prompt: str, texts: list[str], chunk: int, stop: Sequence[str] = ()
) -> list[float]:
    """Σ_t log π(y_t | x, y_<t) of given completions (ended as `policy.encode` ends them), at
    temperature 1."""
    logps: list[float] = []
    for start in range(0, len(texts), chunk):
        rollout = policy.encode([prompt], [texts[start : start + chunk]], stop)
        logps.extend(policy.sequence_logp(rollout)[0].double().tolist())
    return logps
