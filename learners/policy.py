"""A Hugging Face causal LM as the policy π_θ, holding π_base beside it.

π_base is a frozen copy, or, with a LoRA adapter (peft), the same weights with the adapter
disabled, so no second copy is kept. Log-probs are summed over completion tokens only, in float32
or the model's own precision if higher.
Rollout log-probs are π_θ's at temperature 1, rescored after sampling: the ratios p/π_θ of alpha-DPG
are ratios of the model's own distribution, whatever temperature and top_p the sampler used.
"""

from __future__ import annotations

import copy
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from learners.base import ScoredBatch


@dataclass
class Rollout:
    """G completions per prompt: token tensors [B·G, T], their texts, and π_θ's log-probs [B, G]."""

    input_ids: Tensor
    attention_mask: Tensor
    completion_mask: Tensor
    texts: list[list[str]]


class CausalLMPolicy:
    def __init__(self, model: PreTrainedModel, tokenizer: object) -> None:
        """`model` with a peft adapter makes π_base the adapter switched off; otherwise a copy."""
        self.model = model
        self.tokenizer = tokenizer
        self.lora = _has_adapter(model)
        self.base = None if self.lora else copy.deepcopy(model).requires_grad_(False).eval()
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

    @classmethod
    def from_pretrained(
        cls, name: str, lora_rank: int | None = None, gguf_file: str | None = None
    ) -> CausalLMPolicy:
        """Any local path or hub id (or a GGUF file in it); with `lora_rank`, a LoRA adapter."""
        tokenizer = AutoTokenizer.from_pretrained(name, gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(name, gguf_file=gguf_file, dtype=torch.float32)
        if lora_rank is None:
            return cls(model, tokenizer)
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, target_modules="all-linear")
        return cls(get_peft_model(model, config), tokenizer)

    @torch.no_grad()
    def sample(
        self,
        prompts: list[str],
        group_size: int,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        from_base: bool = False,
    ) -> Rollout:
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True)
        model = self.model if not from_base else (self.base or self.model)
        with self._base_context() if from_base else nullcontext():
            generated = model.generate(
                **encoded,
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_new_tokens,
                num_return_sequences=group_size,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        prompt_length = encoded["input_ids"].shape[1]
        completion = generated[:, prompt_length:]
        completion_mask = _until_eos(completion, self.tokenizer.eos_token_id)
        prompt_mask = encoded["attention_mask"].repeat_interleave(group_size, dim=0)
        texts = [
            self.tokenizer.decode(row[mask.bool()], skip_special_tokens=True).strip()
            for row, mask in zip(completion, completion_mask, strict=True)
        ]
        return Rollout(
            input_ids=generated,
            attention_mask=torch.cat([prompt_mask, completion_mask], dim=1),
            completion_mask=torch.cat([torch.zeros_like(prompt_mask), completion_mask], dim=1),
            texts=[texts[i : i + group_size] for i in range(0, len(texts), group_size)],
        )

    def encode(self, prompts: list[str], completions: list[list[str]]) -> Rollout:
        """Given completions as a rollout (each ended by EOS), to score them or train on them."""
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True)
        rows = [
            [*self.tokenizer.encode(text, add_special_tokens=False), self.tokenizer.eos_token_id]
            for group in completions
            for text in group
        ]
        width = max(len(row) for row in rows)
        completion = torch.tensor(
            [row + [self.tokenizer.pad_token_id] * (width - len(row)) for row in rows]
        )
        completion_mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
        group_size = len(completions[0])
        prompt_ids = encoded["input_ids"].repeat_interleave(group_size, dim=0)
        prompt_mask = encoded["attention_mask"].repeat_interleave(group_size, dim=0)
        return Rollout(
            input_ids=torch.cat([prompt_ids, completion], dim=1),
            attention_mask=torch.cat([prompt_mask, completion_mask], dim=1),
            completion_mask=torch.cat([torch.zeros_like(prompt_mask), completion_mask], dim=1),
            texts=[list(group) for group in completions],
        )

    def sequence_logp(self, batch: ScoredBatch | Rollout) -> Tensor:
        """Σ_t log π_θ(y_t | x, y_<t) over completion tokens, with gradient, shape [B, G]."""
        return self._logp(self.model, batch)

    @torch.no_grad()
    def base_logp(self, batch: ScoredBatch | Rollout) -> Tensor:
        with self._base_context():
            return self._logp(self.base or self.model, batch)

    def _base_context(self) -> AbstractContextManager:
        return self.model.disable_adapter() if self.lora else nullcontext()

    @staticmethod
    def _logp(model: PreTrainedModel, batch: ScoredBatch | Rollout) -> Tensor:
        mask = batch.attention_mask
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(
            input_ids=batch.input_ids, attention_mask=mask, position_ids=positions
        ).logits
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        token_logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(
            -1, batch.input_ids[:, 1:, None]
        )[..., 0]
        summed = (token_logp * batch.completion_mask[:, 1:]).sum(-1)
        groups = len(batch.texts) if isinstance(batch, Rollout) else batch.v.shape[0]
        return summed.reshape(groups, -1)


def _has_adapter(model: PreTrainedModel) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def _until_eos(completion: Tensor, eos_id: int) -> Tensor:
    """1 up to and including the first EOS of each row, 0 after it."""
    is_eos = (completion == eos_id).long()
    before = is_eos.cumsum(-1) - is_eos
    return (before == 0).long()
