"""A Hugging Face causal LM as the policy π_θ, holding π_base beside it.

π_base is a frozen copy, or, with a LoRA adapter (peft), the same weights with the adapter
disabled, so no second copy is kept. Log-probs are summed over completion tokens only, in float32
or the model's own precision if higher.
Rollout log-probs are π_θ's at temperature 1, rescored after sampling: the ratios p/π_θ of alpha-DPG
are ratios of the model's own distribution, whatever temperature and top_p the sampler used.
A completion is its sampled tokens up to EOS (included), the token budget, or the token where a
stop string appears (included; learners/stops.py says why), and every log-prob is of those tokens.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from learners.base import ScoredBatch
from learners.stops import StopOnStrings, end_completion


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
        stop: Sequence[str] = (),
    ) -> Rollout:
        """G completions per prompt; with `stop`, each ends at the first stop string, cut from its
        text, and generation ends once every row has stopped."""
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True)
        prompt_length = encoded["input_ids"].shape[1]
        model = self.model if not from_base else (self.base or self.model)
        criteria = [StopOnStrings(self._decode, stop, prompt_length)] if stop else []
        with self._base_context() if from_base else nullcontext():
            generated = model.generate(
                **encoded,
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_new_tokens,
                num_return_sequences=group_size,
                pad_token_id=self.tokenizer.pad_token_id,
                stopping_criteria=criteria,
            )
        completion = generated[:, prompt_length:]
        completion_mask = _until_eos(completion, self.tokenizer.eos_token_id)
        texts = []
        for row, mask in zip(completion, completion_mask, strict=True):
            kept, text = end_completion(row[mask.bool()].tolist(), self._decode, stop)
            mask[kept:] = 0  # a view: the rollout's mask ends where the completion does
            texts.append(text)
        prompt_mask = encoded["attention_mask"].repeat_interleave(group_size, dim=0)
        return Rollout(
            input_ids=generated,
            attention_mask=torch.cat([prompt_mask, completion_mask], dim=1),
            completion_mask=torch.cat([torch.zeros_like(prompt_mask), completion_mask], dim=1),
            texts=[texts[i : i + group_size] for i in range(0, len(texts), group_size)],
        )

    def encode(
        self, prompts: list[str], completions: list[list[str]], stop: Sequence[str] = ()
    ) -> Rollout:
        """Given completions as a rollout, to score them or train on them.

        Each is ended as a sample is: by EOS, or with `stop` by its first stop string, tokenised
        with the text. These are the text's tokens, not necessarily those a sampler drew for it
        (the sampled text was stripped of surrounding space, and its last token may run past the
        stop string).
        """
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True)
        rows = [self._completion_ids(text, stop) for group in completions for text in group]
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

    def _completion_ids(self, text: str, stop: Sequence[str]) -> list[int]:
        if stop:
            return self.tokenizer.encode(text + stop[0], add_special_tokens=False)
        return [*self.tokenizer.encode(text, add_special_tokens=False), self.tokenizer.eos_token_id]

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

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
