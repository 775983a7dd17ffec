"""The one training loop: sample → verify through the oracle → Ẑ → loss → step → log → checkpoint.

Read it top to bottom. Every step's randomness is seeded from (seed, step) and the prompts of a step
are a fixed function of (seed, step), so resuming from a checkpoint replays the same next steps as
an uninterrupted run.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from leanfilter.db import ProofDB
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import load_problems
from leanfilter.oracle import Oracle, ZMode, ZTracker, importance_diagnostics
from leanfilter.pool import PoolConfig
from leanfilter.records import Problem, SamplerInfo
from learners.base import AdvantageLearner, ScoredBatch
from learners.config import TrainConfig
from learners.policy import CausalLMPolicy, Rollout
from learners.registry import make_learner

CHECKPOINT = "checkpoint.pt"
LOG = "steps.jsonl"


def train(
    config: TrainConfig, *, run_id: str | None = None, verifier: Verifier | None = None
) -> list[dict]:
    """Run (or resume) the configured training; returns the JSONL records of the steps run.

    With `verifier`, samples are checked, cached and recorded by it (one cache and database
    shared by several runs) and it is left open; otherwise the run makes and closes its own.
    """
    problems = _problems(config)
    learner = make_learner(config.learner, config.learner_options)
    policy = CausalLMPolicy.from_pretrained(config.model, config.lora_rank, config.gguf_file)
    params = [p for p in policy.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    tracker = ZTracker(ZMode(config.z_mode))
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = _resume(out / CHECKPOINT, policy, optimizer, tracker)
    engine = verifier or _verifier(config, run_id)
    records = []
    try:
        oracle = Oracle(engine)
        steps = range(start, config.steps)
        for step in tqdm(steps, desc="train", disable=not sys.stderr.isatty()):
            record = train_step(config, step, problems, learner, policy, optimizer, oracle, tracker)
            records.append(record)
            with open(out / LOG, "a") as log:
                log.write(json.dumps(record) + "\n")
            if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
                _checkpoint(out / CHECKPOINT, step + 1, policy, optimizer, tracker)
    finally:
        if verifier is None:
            engine.close()
    return records


def _verifier(config: TrainConfig, run_id: str | None) -> Verifier:
    database = ProofDB(config.database) if config.database else None
    if database is not None and run_id is None:
        run_id = database.start_run("train", config.model_dump(mode="json")).id
    return Verifier(
        VerifierConfig(
            pool=PoolConfig(workers=config.verify_workers), timeout=config.verify_timeout
        ),
        recorder=database,
        run_id=run_id,
    )


def train_step(
    config: TrainConfig,
    step: int,
    problems: list[Problem],
    learner: AdvantageLearner,
    policy: CausalLMPolicy,
    optimizer: torch.optim.Optimizer,
    oracle: Oracle,
    tracker: ZTracker,
) -> dict:
    chosen = step_problems(problems, config.prompts_per_step, config.seed, step)
    _seed(config.seed, step)

    # 1. sample G completions per prompt, and score them under π_θ and π_base
    clock = time.perf_counter()
    sampling = config.sampling
    rollout = sample_groups(policy, config, chosen, from_base=learner.samples_from_base)
    with torch.no_grad():
        logp_rollout = policy.sequence_logp(rollout).double()
    logp_base = policy.base_logp(rollout).double()
    sampled_s = time.perf_counter() - clock

    # 2. verify through the oracle (cached, recorded with where each sample came from)
    clock = time.perf_counter()
    samplers = [
        [
            SamplerInfo(
                model=config.model,
                run_id=config.output_dir.name,
                step=step,
                temperature=sampling.temperature,
                logp_policy=float(logp_rollout[b, g]),
                logp_base=float(logp_base[b, g]),
            )
            for g in range(sampling.group_size)
        ]
        for b in range(len(chosen))
    ]
    results = oracle.score_batch(list(zip(chosen, rollout.texts, strict=True)), samplers)
    v = torch.tensor(np.stack([r.v for r in results]), dtype=torch.float64)
    verified_s = time.perf_counter() - clock

    # 3. Ẑ per prompt, then the learner's loss and one optimiser step
    clock = time.perf_counter()
    log_z = torch.tensor(
        [
            tracker.update(p.name, logp_base[b].numpy(), logp_rollout[b].numpy(), v[b].numpy())
            for b, p in enumerate(chosen)
        ],
        dtype=torch.float64,
    )
    batch = scored_batch(rollout, logp_rollout, logp_base, v, log_z, sampling.max_new_tokens)
    optimizer.zero_grad()
    loss = learner.loss(batch, policy)
    loss.backward()
    optimizer.step()
    learned_s = time.perf_counter() - clock

    return step_record(step, batch, results, rollout, learner, loss.item(), tracker, chosen) | {
        "sample_s": sampled_s,
        "verify_s": verified_s,
        "learn_s": learned_s,
    }


def scored_batch(
    rollout: Rollout,
    logp_rollout: torch.Tensor,
    logp_base: torch.Tensor,
    v: torch.Tensor,
    log_z: torch.Tensor,
    max_length: int,
) -> ScoredBatch:
    return ScoredBatch(
        input_ids=rollout.input_ids,
        attention_mask=rollout.attention_mask,
        completion_mask=rollout.completion_mask,
        logp_rollout=logp_rollout,
        logp_base=logp_base,
        v=v,
        log_z=log_z,
        max_length=max_length,
    )


def step_record(
    step: int,
    batch: ScoredBatch,
    results: list,
    rollout: Rollout,
    learner: AdvantageLearner,
    loss: float,
    tracker: ZTracker,
    chosen: list[Problem],
) -> dict:
    """One JSONL line: reward is mean v over answered samples, acceptance the share of prompts with
    an accepted sample; log Ẑ statistics are of the clamped values, `z_floored` counts prompts whose
    estimate was raised to the floor; KL and entropy are the sampled estimates
    E[log π_θ - log π_base] and -E[log π_θ] per sequence.
    """
    v = batch.v.numpy()
    answered = ~np.isnan(v)
    raw_z = np.array([tracker.raw_log_z(p.name) for p in chosen])
    log_z = batch.log_z.numpy()
    diagnostics = [
        importance_diagnostics(batch.logp_base[b].numpy(), batch.logp_rollout[b].numpy(), v[b])
        for b in range(len(chosen))
    ]
    accepted = {
        (p.name, text)
        for p, texts, row in zip(chosen, rollout.texts, v, strict=True)
        for text, value in zip(texts, row, strict=True)
        if value == 1.0
    }
    return {
        "step": step,
        "reward": float(v[answered].mean()) if answered.any() else float("nan"),
        "acceptance": float((v == 1.0).any(axis=1).mean()),
        "log_z_mean": float(np.nanmean(log_z)) if not np.isnan(log_z).all() else None,
        "log_z_min": float(np.nanmin(log_z)) if not np.isnan(log_z).all() else None,
        "z_floored": int((raw_z < log_z).sum()),
        "ess": float(np.mean([d.ess for d in diagnostics])),
        "clipped": learner.clipped_fraction(batch),
        "loss": loss,
        "kl": float((batch.logp_rollout - batch.logp_base).mean()),
        "entropy": float(-batch.logp_rollout.mean()),
        "distinct_accepted": len(accepted),
        "errors": int((~answered).sum()),
    }


def sample_groups(
    policy: CausalLMPolicy, config: TrainConfig, chosen: list[Problem], from_base: bool
) -> Rollout:
    """G completions per problem, prompted and sampled as the config says."""
    sampling = config.sampling
    return policy.sample(
        [config.prompt.format(header=p.header, statement=p.statement) for p in chosen],
        sampling.group_size,
        sampling.max_new_tokens,
        sampling.temperature,
        sampling.top_p,
        from_base=from_base,
        stop=sampling.stop,
    )


def step_problems(problems: list[Problem], count: int, seed: int, step: int) -> list[Problem]:
    """The prompts of `step`: epochs of seeded permutations, a pure function of (seed, step)."""
    chosen = []
    for slot in range(step * count, (step + 1) * count):
        epoch, index = divmod(slot, len(problems))
        order = random.Random(seed * 1_000_003 + epoch).sample(range(len(problems)), len(problems))
        chosen.append(problems[order[index]])
    return chosen


def _problems(config: TrainConfig) -> list[Problem]:
    known = load_problems(config.problems)
    names = config.problem_names or list(known)
    missing = [name for name in names if name not in known]
    if missing:
        raise ValueError(f"problem_names: not in {config.problems}: {', '.join(missing)}")
    return [
        known[n].model_copy(update={"header": known[n].header + config.header_suffix})
        for n in names
    ]


def _seed(seed: int, step: int) -> None:
    torch.manual_seed(seed * 1_000_003 + step)


def _checkpoint(
    path: Path,
    step: int,
    policy: CausalLMPolicy,
    optimizer: torch.optim.Optimizer,
    tracker: ZTracker,
) -> None:
    state = {
        "step": step,
        "model": policy.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "tracker": tracker,
    }
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)


def _resume(
    path: Path, policy: CausalLMPolicy, optimizer: torch.optim.Optimizer, tracker: ZTracker
) -> int:
    """Load the checkpoint if there is one; the step to start from."""
    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False)
    policy.model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    tracker.__dict__.update(state["tracker"].__dict__)
    return int(state["step"])
