"""A tiny causal LM built in-process (no download) whose tokens are whole Coq tactics.

With a vocabulary of tactics, even random weights sample proofs the prover sometimes accepts, so a
few steps of real training see both verdicts.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

TACTICS = ["intros.", "lia.", "nia.", "lra.", "nra.", "auto.", "reflexivity.", "admit."]
SPECIAL = ["<pad>", "<eos>", "<unk>"]
HEADER = "Require Import Lia Lra Psatz.\n"
"""What the tactics need loaded: appended to a problem's header."""


def tiny_tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    """One token per whitespace-separated word, after the special tokens (pad 0, eos 1, unk 2)."""
    vocab = {token: i for i, token in enumerate(SPECIAL + words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )


def tiny_llama(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    """A one-layer Llama of width 16 with seeded random weights."""
    import torch

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    return LlamaForCausalLM(config)


def save_tiny_model(directory: Path, seed: int = 0) -> Path:
    tokenizer = tiny_tokenizer(TACTICS)
    tiny_llama(len(tokenizer), seed).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
