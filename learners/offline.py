"""RS-SFT offline: samples of π_base drawn once into the proof database, then learned from.

docs/learners.md, RS-SFT: maximum likelihood on verified samples of π_base, the forward-KL
(alpha → 0) limit. The online `rs_sft` learner draws fresh base samples every step; here
`draw_base_samples` draws them once, verifies them through the oracle and records them in a
database run (each with model, temperature, round as step, and log π_base as both log-probs, since
the sampler is π_base), and `train_on_samples` fits π_θ to the accepted samples of any such run,
for as many steps as asked, without a prover. A step takes prompts_per_step·group_size accepted
samples (seeded permutations of the pool, a function of (seed, step)); each weighs the same, so a
problem counts in proportion to its accepted samples, as in the online loss, whose expectation
weighs problem x by Z_x. The target is π_base·v only for samples drawn at temperature 1, top_p 1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from leanfilter.db import ProofDB
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.oracle import Oracle
from leanfilter.pool import PoolConfig
from leanfilter.records import Candidate, Problem, SamplerInfo
from learners.baselines import RejectionSamplingSFT
from learners.config import TrainConfig
from learners.loop import LOG, _problems, sample_groups, scored_batch, step_problems
from learners.policy import CausalLMPolicy

MODEL = "model"
"""Where `train_on_samples` saves the trained policy, under the output directory."""


def draw_base_samples(config: TrainConfig, rounds: int = 1) -> str:
    """`rounds` groups of G samples of π_base per problem, verified and recorded; the run's id."""
    if config.database is None:
        raise ValueError("database: RS-SFT offline stores its samples in a proof database")
    problems = _problems(config)
    size = config.prompts_per_step
    batches = [
        (round_, problems[i : i + size])
        for round_ in range(rounds)
        for i in range(0, len(problems), size)
    ]
    policy = CausalLMPolicy.from_pretrained(config.model, gguf_file=config.gguf_file)
    with ProofDB(config.database) as db:
        db.add_problems(problems)
        run_id = db.start_run("rs_sft samples", config.model_dump(mode="json")).id
        pool = PoolConfig(workers=config.verify_workers)
        settings = VerifierConfig(pool=pool, timeout=config.verify_timeout)
        outcome = "failed"
        try:
            with Verifier(settings, cache=db, recorder=db, run_id=run_id) as engine:
                oracle = Oracle(engine)
                for index, (round_, chosen) in enumerate(batches):
                    torch.manual_seed(config.seed * 1_000_003 + index)
                    groups, samplers = _draw(config, policy, chosen, run_id, round_)
                    oracle.score_batch(groups, samplers)
            outcome = "completed"
        finally:
            db.end_run(run_id, outcome)
    return run_id


def _draw(
    config: TrainConfig, policy: CausalLMPolicy, chosen: list[Problem], run_id: str, round_: int
) -> tuple[list[tuple[Problem, list[str]]], list[list[SamplerInfo]]]:
    """G samples of π_base per problem, and where each came from (log π_base is its sampler's)."""
    rollout = sample_groups(policy, config, chosen, from_base=True)
    logp = policy.base_logp(rollout).double()
    samplers = [
        [
            SamplerInfo(
                model=config.model,
                run_id=run_id,
                step=round_,
                temperature=config.sampling.temperature,
                logp_policy=float(value),
                logp_base=float(value),
            )
            for value in row
        ]
        for row in logp
    ]
    return list(zip(chosen, rollout.texts, strict=True)), samplers


def accepted_samples(database: str | Path, run_id: str) -> list[Candidate]:
    """The accepted samples of a run, one per sample (a proof drawn twice counts twice)."""
    with ProofDB(database) as db:
        return [r.candidate for r in db.accepted_in_run(run_id)]


def train_on_samples(config: TrainConfig, samples_run: str) -> list[dict]:
    """Fit π_θ by maximum likelihood to the accepted samples of `samples_run`; no prover runs.

    Logs one JSONL line per step to `output_dir/steps.jsonl` and saves the policy to
    `output_dir/model`. Only the problems of `config.problem_names` count, when it is given.
    """
    if config.database is None:
        raise ValueError("database: RS-SFT offline reads its samples from a proof database")
    pool = accepted_samples(config.database, samples_run)
    if config.problem_names is not None:
        pool = [c for c in pool if c.name in config.problem_names]
    if not pool:
        raise ValueError(f"run {samples_run} of {config.database} has no accepted sample to learn")
    policy = CausalLMPolicy.from_pretrained(config.model, config.lora_rank, config.gguf_file)
    params = [p for p in policy.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    learner = RejectionSamplingSFT()
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = config.prompts_per_step * config.sampling.group_size
    records = []
    for step in range(config.steps):
        clock = time.perf_counter()
        chosen = step_problems(pool, size, config.seed, step)
        rollout = policy.encode(
            [config.prompt.format(header=c.header, statement=c.statement) for c in chosen],
            [[c.proof] for c in chosen],
            config.sampling.stop,
        )
        v = torch.ones(len(chosen), 1, dtype=torch.float64)
        unread = torch.zeros_like(v)  # RS-SFT's advantage is v alone: no log-probs, no Ẑ
        batch = scored_batch(
            rollout, unread, unread, v, unread[:, 0], config.sampling.max_new_tokens
        )
        optimizer.zero_grad()
        loss = learner.loss(batch, policy)
        loss.backward()
        optimizer.step()
        record = {
            "step": step,
            "loss": loss.item(),
            "samples": len(chosen),
            "pool": len(pool),
            "learn_s": time.perf_counter() - clock,
        }
        records.append(record)
        with open(out / LOG, "a") as log:
            log.write(json.dumps(record) + "\n")
    policy.model.save_pretrained(out / MODEL)
    policy.tokenizer.save_pretrained(out / MODEL)
    return records
