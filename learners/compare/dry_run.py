"""`leanfilter compare --dry-run`: build every part a comparison names except the weights.

So a config meant for a GPU cluster is checked where it is written: the problems it reads, its
prompt, its learners and their options, the training runs it expands to, the verifier and the
prover its problems need, the evaluation sampler, and the model's architecture (from its
config, on the meta device, when it is on this machine). Nothing is downloaded: a hub model or a
dataset that is not here is said to be fetched at run time.
"""

from __future__ import annotations

from pathlib import Path

import torch

from leanfilter.backends import create_backend
from leanfilter.backends.base import ProverUnavailable
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.pool import PoolConfig
from learners.compare.config import CompareConfig, ProblemSource
from learners.compare.problems import read_split
from learners.compare.run import check_base_model, run_label
from learners.compare.sampling import resolve_generation
from learners.registry import make_learner


def dry_run(config: CompareConfig) -> list[str]:
    """What was built, one line each; raises on the first part that cannot be built."""
    check_base_model(config)
    lines = [_model(config)]
    splits = {}
    for split in ("train", "eval"):
        sources: list[ProblemSource] = getattr(config.problems, split)
        local = [s for s in sources if s.path is not None]
        splits[split] = read_split(local, config.problems.header_suffix)
        later = [str(s.dataset) for s in sources if s.dataset is not None]
        fetched = f"; datasets read at run time: {', '.join(later)}" if later else ""
        lines.append(f"{split} problems: {len(splits[split])} from local files{fetched}")
    shown = (splits["eval"] or splits["train"])[:1]
    for problem in shown:
        prompt = config.prompt.format(header=problem.header, statement=problem.statement)
        lines.append(f"prompt of {problem.name}: {len(prompt)} characters, ends {prompt[-40:]!r}")
    arms = config.arms()
    for arm in arms:
        learner = make_learner(arm.learner, arm.options)
        lines.append(f"learner {arm.label}: {type(learner).__name__} {learner.config!r}")
        for seed in config.seeds:
            config.train_config(arm, seed, Path("train.jsonl"), Path(run_label(arm, seed)))
    lines.append(
        f"training runs: {len(arms)} arms x {len(config.seeds)} seeds, {config.steps} steps of"
        f" {config.prompts_per_step} prompts x {config.sampling.group_size} samples,"
        f" lr {config.learning_rate:g}"
    )
    stop = config.sampling.stop
    lines.append(
        f"completions end at EOS, after {config.sampling.max_new_tokens} tokens"
        f" ({config.eval_max_new_tokens} in evaluation)"
        + (f", or before a stop string: {', '.join(map(repr, stop))}" if stop else "")
    )
    lines.extend(_provers(config, splits))
    lines.append(
        f"evaluation: {resolve_generation(config.generation)}, {config.eval.samples} samples per"
        f" problem, T {config.eval.temperature:g}, top_p {config.eval.top_p:g},"
        f" pass@{', pass@'.join(map(str, config.eval.k))}"
    )
    return lines


def _model(config: CompareConfig) -> str:
    """The architecture from the model's config, with no weights: local, or already cached."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    name, gguf = config.base_model, config.gguf_file
    try:
        model_config = AutoConfig.from_pretrained(name, gguf_file=gguf, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(name, gguf_file=gguf, local_files_only=True)
    except OSError:
        return f"base model {name}: not on this machine, weights and tokenizer fetched at run time"
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config)
    parameters = sum(p.numel() for p in model.parameters())
    return (
        f"base model {name}: {type(model).__name__}, {parameters / 1e6:.1f}M parameters"
        f" (weights not loaded), tokenizer of {len(tokenizer)} tokens"
    )


def _provers(config: CompareConfig, splits: dict) -> list[str]:
    backends = sorted({p.backend for problems in splits.values() for p in problems})
    lines = []
    with Verifier(
        VerifierConfig(
            pool=PoolConfig(workers=config.verify_workers), timeout=config.verify_timeout
        )
    ):
        for name in backends:
            try:
                found = f"toolchain {create_backend(name).toolchain()}"
            except ProverUnavailable as e:
                found = f"not on this machine ({e})"
            lines.append(f"verifier for {name.value}: {found}")
    return lines
