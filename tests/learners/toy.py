"""Policies whose support can be enumerated, and expected loss gradients by enumeration.

Sequence k of the support is token id k of a one-token "completion", so a ScoredBatch carries
sample indices and `EnumeratedLogp` maps them back to the policy's log-probs.
"""

from __future__ import annotations

import itertools

import torch

from learners.base import AdvantageLearner, ScoredBatch
from learners.policy import CausalLMPolicy
from learners.stops import end_completion
from tests.learners.tiny import tiny_llama, tiny_tokenizer


class SoftmaxPolicy(torch.nn.Module):
    """A softmax over K whole sequences."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits, dtype=torch.float64))

    def log_probs(self) -> torch.Tensor:
        return torch.log_softmax(self.logits, dim=-1)

    def sequence_logp(self, batch: ScoredBatch) -> torch.Tensor:
        return EnumeratedLogp(self.log_probs()).sequence_logp(batch)


class _EnumeratedTransformer(torch.nn.Module):
    """A tiny Llama (float64) whose support is the given rows of token ids after a one-token
    prompt; log-probs come from the project's own CausalLMPolicy.sequence_logp."""

    def __init__(self, words: list[str], seed: int) -> None:
        super().__init__()
        self.tokenizer = tiny_tokenizer(words)
        self.model = tiny_llama(len(self.tokenizer), seed).double()
        self.policy = CausalLMPolicy(self.model, self.tokenizer)

    def _enumerate(self, rows: list[tuple[int, ...]], length: int) -> None:
        pad = [0] * (length + 1)
        ids = torch.tensor([[2, *row, *pad][: length + 1] for row in rows])
        completion = torch.tensor([[0, *[1] * len(row), *pad][: length + 1] for row in rows])
        self.support = ScoredBatch(
            input_ids=ids,
            attention_mask=completion.clone().index_fill_(1, torch.tensor([0]), 1),
            completion_mask=completion,
            logp_rollout=torch.zeros(1, len(ids)),
            logp_base=torch.zeros(1, len(ids)),
            v=torch.zeros(1, len(ids)),
            log_z=torch.zeros(1),
            max_length=length,
        )

    def log_probs(self) -> torch.Tensor:
        return self.policy.sequence_logp(self.support)[0]


class TransformerPolicy(_EnumeratedTransformer):
    """Every completion of `length` tokens from the 3-token vocabulary: all 3**length sequences,
    so their probabilities sum to one."""

    def __init__(self, length: int = 2, seed: int = 0) -> None:
        super().__init__([], seed)
        self._enumerate(list(itertools.product(range(len(self.tokenizer)), repeat=length)), length)


class StoppedTransformerPolicy(_EnumeratedTransformer):
    """Every completion its sampler returns with stop strings: each sequence of up to `length`
    tokens of the vocabulary `words` (and the special tokens) as `CausalLMPolicy.sample` ends it,
    at EOS, at the token where a stop string appears, or at `length`; `texts` are their proof
    texts.
    """

    def __init__(self, words: list[str], stops: list[str], length: int, seed: int = 0) -> None:
        super().__init__(words, seed)
        eos = self.tokenizer.eos_token_id
        kept: dict[tuple[int, ...], str] = {}
        for drawn in itertools.product(range(len(self.tokenizer)), repeat=length):
            ids = list(drawn[: drawn.index(eos) + 1] if eos in drawn else drawn)
            n, text = end_completion(ids, self.policy._decode, stops)
            kept[tuple(ids[:n])] = text
        rows = sorted(kept)
        self.texts = [kept[row] for row in rows]
        self._enumerate(rows, length)


class EnumeratedLogp:
    """The policy protocol over given log-probs of the support (computed once, with gradient)."""

    def __init__(self, log_probs: torch.Tensor) -> None:
        self.log_probs = log_probs

    def sequence_logp(self, batch: ScoredBatch) -> torch.Tensor:
        return self.log_probs[batch.input_ids[:, 0]].reshape(batch.v.shape)


def toy_batch(
    policy: SoftmaxPolicy | TransformerPolicy | StoppedTransformerPolicy | torch.Tensor,
    samples: list[list[int]],
    log_base: torch.Tensor,
    v: torch.Tensor,
    log_z: float,
) -> ScoredBatch:
    """Groups of sample indices as a batch; rollout log-probs are the policy's (or given ones)."""
    index = torch.tensor(samples)
    ids = index.reshape(-1, 1)
    if isinstance(policy, torch.Tensor):
        log_pi = policy.detach()
    else:
        with torch.no_grad():
            log_pi = policy.log_probs()
    return ScoredBatch(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        completion_mask=torch.ones_like(ids),
        logp_rollout=log_pi[index],
        logp_base=log_base[index],
        v=v[index],
        log_z=torch.full((index.shape[0],), log_z, dtype=torch.float64),
        max_length=1,
    )


def expected_gradient(
    learner: AdvantageLearner,
    policy: SoftmaxPolicy | TransformerPolicy | StoppedTransformerPolicy,
    log_base: torch.Tensor,
    v: torch.Tensor,
    log_z: float,
    group_size: int,
) -> torch.Tensor:
    """E over groups of `group_size` i.i.d. samples of π_θ of ∇loss, by enumerating every group.

    The surrogate's advantages carry no gradient, so E[∇loss] = ∇ Σ_group P(group)·loss(group)
    with P held fixed: one backward pass, returned flat over the policy's parameters.
    """
    log_pi = policy.log_probs()
    pi = log_pi.detach().exp()
    scored = EnumeratedLogp(log_pi)
    expected_loss = sum(
        torch.prod(pi[list(group)])
        * learner.loss(toy_batch(log_pi, [list(group)], log_base, v, log_z), scored)
        for group in itertools.product(range(len(v)), repeat=group_size)
    )
    grads = torch.autograd.grad(expected_loss, list(policy.parameters()), allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).flatten()
            for g, p in zip(grads, policy.parameters(), strict=True)
        ]
    )
