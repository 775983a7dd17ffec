"""A LoRA policy: π_base is the same weights with the adapter off, held once, never trained."""

from __future__ import annotations

import pytest
import torch

from learners.base import ScoredBatch
from learners.loop import scored_batch
from learners.policy import CausalLMPolicy
from learners.registry import make_learner
from tests.learners.tiny import save_tiny_model

pytest.importorskip("peft", reason="LoRA needs peft (the learn extra)")

PROMPTS = ["intros.", "lia. auto."]
COMPLETIONS = [["lia.", "auto. nia."], ["reflexivity.", "intros. lra."]]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=1)


def batch_of(policy: CausalLMPolicy) -> ScoredBatch:
    rollout = policy.encode(PROMPTS, COMPLETIONS)
    with torch.no_grad():
        logp = policy.sequence_logp(rollout).double()
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    return scored_batch(rollout, logp, policy.base_logp(rollout).double(), v, torch.zeros(2), 4)


def one_step(policy: CausalLMPolicy, learner: str = "rloo") -> None:
    params = [p for p in policy.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=0.05)
    optimizer.zero_grad()
    make_learner(learner).loss(batch_of(policy), policy).backward()
    optimizer.step()


def weight_storages(policy: CausalLMPolicy) -> set[int]:
    """Distinct storages of every parameter the policy object holds, π_base's included."""
    modules = [m for m in vars(policy).values() if isinstance(m, torch.nn.Module)]
    return {p.untyped_storage().data_ptr() for m in modules for p in m.parameters()}


def test_only_adapter_parameters_change_in_a_learner_step(model_dir):
    policy = CausalLMPolicy.from_pretrained(str(model_dir), lora_rank=2)
    before = {k: v.clone() for k, v in policy.model.state_dict().items()}
    one_step(policy)
    after = policy.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "the step changed nothing"
    assert all("lora_" in k for k in changed), sorted(changed)


def test_base_log_probs_are_the_frozen_models_after_training(model_dir):
    policy = CausalLMPolicy.from_pretrained(str(model_dir), lora_rank=2)
    frozen = CausalLMPolicy.from_pretrained(str(model_dir))
    for _ in range(3):
        one_step(policy)
    rollout = policy.encode(PROMPTS, COMPLETIONS)
    with torch.no_grad():
        trained = policy.sequence_logp(rollout)
        expected = frozen.sequence_logp(rollout)
    assert not torch.allclose(trained, expected, atol=1e-4), "the adapter did not move π_θ"
    assert torch.equal(policy.base_logp(rollout), expected)


def test_base_samples_come_from_the_adapter_switched_off(model_dir):
    policy = CausalLMPolicy.from_pretrained(str(model_dir), lora_rank=2)
    frozen = CausalLMPolicy.from_pretrained(str(model_dir))
    for _ in range(3):
        one_step(policy)
    torch.manual_seed(7)
    drawn = policy.sample(PROMPTS, 3, 4, from_base=True)
    torch.manual_seed(7)
    assert drawn.texts == frozen.sample(PROMPTS, 3, 4).texts


def test_a_lora_policy_holds_one_copy_of_the_base_weights(model_dir):
    lora = CausalLMPolicy.from_pretrained(str(model_dir), lora_rank=2)
    full = CausalLMPolicy.from_pretrained(str(model_dir))
    base_tensors = len(list(full.model.parameters()))
    adapters = [p for p in lora.model.parameters() if p.requires_grad]
    # the frozen-copy policy holds every weight twice; the LoRA one once, plus its adapters
    assert len(weight_storages(full)) == 2 * base_tensors
    assert len(weight_storages(lora)) == base_tensors + len(adapters)
    adapter_size = sum(p.numel() for p in adapters)
    assert adapter_size < sum(p.numel() for p in full.model.parameters()) / 2


def test_a_peft_model_given_directly_is_recognised(model_dir):
    from peft import LoraConfig, get_peft_model

    plain = CausalLMPolicy.from_pretrained(str(model_dir))
    adapted = get_peft_model(plain.model, LoraConfig(r=2, target_modules="all-linear"))
    policy = CausalLMPolicy(adapted, plain.tokenizer)
    assert policy.lora and policy.base is None
