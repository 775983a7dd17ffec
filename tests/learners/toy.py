"""A policy whose support can be enumerated: a softmax over K whole sequences.

Token id k in a one-token completion is sequence k, so a ScoredBatch carries sample indices.
"""

from __future__ import annotations

import itertools

import torch

from learners.base import AdvantageLearner, ScoredBatch


class SoftmaxPolicy(torch.nn.Module):
    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits, dtype=torch.float64))

    def log_probs(self) -> torch.Tensor:
        return torch.log_softmax(self.logits, dim=-1)

    def sequence_logp(self, batch: ScoredBatch) -> torch.Tensor:
        return self.log_probs()[batch.input_ids[:, 0]].reshape(batch.v.shape)


def toy_batch(
    policy: SoftmaxPolicy,
    samples: list[list[int]],
    log_base: torch.Tensor,
    v: torch.Tensor,
    log_z: float,
) -> ScoredBatch:
    index = torch.tensor(samples)
    ids = index.reshape(-1, 1)
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
    policy: SoftmaxPolicy,
    log_base: torch.Tensor,
    v: torch.Tensor,
    log_z: float,
    group_size: int,
) -> torch.Tensor:
    """E over groups of `group_size` i.i.d. samples of π_θ of ∇loss, by enumerating every group."""
    support = range(len(v))
    with torch.no_grad():
        pi = policy.log_probs().exp()
    total = torch.zeros_like(policy.logits)
    for group in itertools.product(support, repeat=group_size):
        policy.zero_grad()
        learner.loss(toy_batch(policy, [list(group)], log_base, v, log_z), policy).backward()
        total += torch.prod(pi[list(group)]) * policy.logits.grad
    return total
