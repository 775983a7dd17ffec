"""Stop strings: where a completion ends, and that every log-prob is of exactly its kept tokens."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from learners.compare.config import CompareConfig
from learners.config import SamplingConfig, load_config
from learners.policy import CausalLMPolicy, Rollout
from learners.stops import cut_at_stop, stopped_length
from tests.learners.tiny import TACTICS, tiny_llama, tiny_tokenizer
from tests.learners.toy import StoppedTransformerPolicy

STOPS = ["auto", "nia. lra."]
""""auto" ends inside the token "auto."; "nia. lra." spans two tokens."""
PROMPTS = ["intros.", "lia. nra."]


@pytest.fixture(scope="module")
def policy() -> CausalLMPolicy:
    """π_θ moved away from π_base, so the two log-probs differ."""
    tokenizer = tiny_tokenizer(TACTICS)
    policy = CausalLMPolicy(tiny_llama(len(tokenizer), seed=1), tokenizer)
    torch.manual_seed(5)
    with torch.no_grad():
        for p in policy.model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return policy


@pytest.fixture(scope="module")
def rollout(policy) -> Rollout:
    torch.manual_seed(0)
    return policy.sample(PROMPTS, 16, 10, stop=STOPS)


def kept_tokens(rollout: Rollout) -> list[list[int]]:
    return [row[mask.bool()].tolist() for row, mask in zip(*_rows(rollout), strict=True)]


def _rows(rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
    return rollout.input_ids, rollout.completion_mask


def test_cut_at_stop_takes_the_earliest_stop_string():
    assert cut_at_stop("by simp\n```\nThus ```", ["```"]) == "by simp\n"
    assert cut_at_stop("a b c", ["c", "b"]) == "a "
    assert cut_at_stop("a b c", ["d"]) is None


def test_a_stop_string_cuts_the_text_at_the_token_where_it_appears(policy, rollout):
    texts = [t for group in rollout.texts for t in group]
    decode = policy._decode
    ended_inside_a_token = spanning = 0
    for kept, text in zip(kept_tokens(rollout), texts, strict=True):
        assert not any(s in text for s in STOPS)
        whole = decode(kept)
        if cut_at_stop(whole, STOPS) is None:
            assert text == whole.strip()
            continue
        assert text == cut_at_stop(whole, STOPS).strip()
        assert cut_at_stop(decode(kept[:-1]), STOPS) is None  # the last kept token completes it
        ended_inside_a_token += decode(kept[-1:]) == "auto."
        spanning += whole.endswith("nia. lra.")
    assert ended_inside_a_token and spanning


def test_the_log_probs_are_of_exactly_the_kept_tokens(policy, rollout):
    prompts = [p for p in PROMPTS for _ in range(16)]
    with torch.no_grad():
        logp = policy.sequence_logp(rollout).flatten()
    logp_base = policy.base_logp(rollout).flatten()
    for i, (prompt, kept) in enumerate(zip(prompts, kept_tokens(rollout), strict=True)):
        prompt_ids = policy.tokenizer.encode(prompt, add_special_tokens=False)
        ids = torch.tensor([prompt_ids + kept])
        for model, got in ((policy.model, logp[i]), (policy.base, logp_base[i])):
            with torch.no_grad():
                token_logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
            targets = ids[0, 1:]
            expected = token_logp[torch.arange(len(targets)), targets][len(prompt_ids) - 1 :].sum()
            assert float(got) == pytest.approx(float(expected), abs=1e-5)
    assert not torch.allclose(logp, logp_base.float())


def test_generation_ends_once_every_row_has_stopped(policy):
    torch.manual_seed(0)
    stopped = policy.sample(PROMPTS, 4, 64, stop=["."])  # every tactic holds a "."
    torch.manual_seed(0)
    unstopped = policy.sample(PROMPTS, 4, 64)
    assert stopped.input_ids.shape[1] < unstopped.input_ids.shape[1]
    names = {"", *(t.removesuffix(".") for t in TACTICS)}
    assert all(t in names for group in stopped.texts for t in group)


def test_the_ended_completions_carry_all_the_probability():
    # kept sequences are never prefixes of one another and cover every draw: p is a distribution
    toy = StoppedTransformerPolicy(["a", "ba", "c"], ["b", "a c"], length=3, seed=3)
    with torch.no_grad():
        assert float(toy.log_probs().exp().sum()) == pytest.approx(1.0, abs=1e-12)
    assert "" in toy.texts and "a" in toy.texts
    assert not any("b" in t or "a c" in t for t in toy.texts)


def test_stopped_length_is_the_first_prefix_holding_a_stop_string():
    text = ["x", "y", "```", "z", "```"]
    assert stopped_length(list(range(5)), lambda ids: "".join(text[i] for i in ids), ["```"]) == 3
    assert stopped_length([0, 1], lambda ids: "".join(text[i] for i in ids), ["```"]) is None


def test_given_texts_are_ended_by_the_first_stop_string_or_eos(policy):
    tokenizer = policy.tokenizer
    with_stop = policy.encode(["intros."], [["lia."]], stop=[" auto.", " nia."])
    plain = policy.encode(["intros."], [["lia."]])
    assert with_stop.input_ids[0, -1] == tokenizer.convert_tokens_to_ids("auto.")
    assert plain.input_ids[0, -1] == tokenizer.eos_token_id


def test_stop_is_a_sampling_setting_of_training_and_comparison():
    assert SamplingConfig().stop == []
    assert SamplingConfig(stop=["```"]).stop == ["```"]
    with pytest.raises(ValidationError, match=r"stop\.0"):
        SamplingConfig(stop=[""])
    paper = load_config("configs/paper-lean.yaml", CompareConfig)
    assert paper.sampling.stop == ["```"]
    arm = paper.arms()[0]
    assert paper.train_config(arm, 0, "t.jsonl", "out").sampling.stop == ["```"]


def test_vllm_ends_completions_before_a_stop_string(tmp_path):
    pytest.importorskip("vllm", reason="vLLM is not installed; its `stop` is tested where it is")
    from learners.compare.config import EvalConfig
    from learners.compare.sampling import VLLMSampler
    from tests.learners.tiny import save_tiny_model

    sampler = VLLMSampler(save_tiny_model(tmp_path / "m"), 16, EvalConfig(), stop=["auto"])
    texts = sampler.sample(PROMPTS, 32, [0, 1])
    assert not any("auto" in t for group in texts for t in group)
