"""Evaluation of one model: n samples per eval problem, verified through the shared oracle.

One JSONL line per problem, appended as soon as the problem is done, so an interrupted evaluation
resumes at the first problem it has no line for. A line keeps the verdict status of every sample,
the accepted texts (for distinct proofs and diversity), and log π(y) of the target samples: the
base model's accepted samples of that problem, which are exact draws of p_x (at the evaluation's
temperature and top_p), so that KL(p‖π) = E_p[log π_base - log Ẑ_x - log π] can be estimated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from leanfilter.oracle import Oracle, log_z_acceptance
from leanfilter.records import Problem, SamplerInfo, Status
from learners.compare.config import EvalConfig
from learners.compare.sampling import Sampler, sequence_logps
from learners.policy import CausalLMPolicy


class ProblemEval(BaseModel):
    problem: str
    statuses: list[Status]
    accepted: list[str]
    """Accepted samples, repeats kept: they are draws, not a set."""
    logp_targets: list[float]
    """log π(y) of this model for each target sample y (the base model's accepted samples)."""

    @property
    def v(self) -> np.ndarray:
        return np.array(
            [np.nan if s is Status.ERROR else float(s is Status.PROVED) for s in self.statuses]
        )


def read_evals(path: Path) -> dict[str, ProblemEval]:
    """The problems already evaluated; a line cut short by a kill is dropped (and redone)."""
    if not path.exists():
        return {}
    done = {}
    for line in path.read_text().splitlines():
        try:
            record = ProblemEval.model_validate_json(line)
        except ValueError:
            continue
        done[record.problem] = record
    return done


def evaluate(
    label: str,
    problems: Sequence[Problem],
    prompt: str,
    sampler: Sampler,
    scorer: CausalLMPolicy,
    oracle: Oracle,
    settings: EvalConfig,
    *,
    targets: Mapping[str, list[str]] | None,
    path: Path,
    stop: Sequence[str] = (),
) -> dict[str, ProblemEval]:
    """Evaluate the problems not yet in `path`, `settings.problems_per_call` at a time: one
    sampler call and one verifier batch for them all, so the GPU and the provers work on many.
    Each problem's samples are seeded by its place in `problems`, whatever the batch.

    `targets` are the base model's accepted samples by problem; None while evaluating the base
    model itself, whose own accepted samples they are. `stop` ends the targets when rescored, as
    the sampler's stop strings ended them.
    """
    done = read_evals(path)
    _drop_torn_tail(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pending = [(i, p) for i, p in enumerate(problems) if p.name not in done]
    info = SamplerInfo(model=label, run_id=f"eval/{label}", temperature=settings.temperature)
    for start in range(0, len(pending), settings.problems_per_call):
        block = pending[start : start + settings.problems_per_call]
        prompts = [prompt.format(header=p.header, statement=p.statement) for _, p in block]
        seeds = [settings.seed * 1_000_003 + i for i, _ in block]
        sampled = sampler.sample(prompts, settings.samples, seeds)
        results = oracle.score_batch(
            [(p, texts) for (_, p), texts in zip(block, sampled, strict=True)],
            [[info] * len(texts) for texts in sampled],
        )
        for text, texts, result in zip(prompts, sampled, results, strict=True):
            name = result.problem.name
            accepted = [t for t, v in zip(texts, result.v, strict=True) if v == 1.0]
            target = accepted if targets is None else targets.get(name, [])
            done[name] = ProblemEval(
                problem=name,
                statuses=[v.status for v in result.verdicts],
                accepted=accepted,
                logp_targets=(
                    sequence_logps(scorer, text, target, settings.chunk, stop) if target else []
                ),
            )
            with open(path, "a") as out:
                out.write(done[name].model_dump_json() + "\n")
    return done


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a kill left without its newline, so appends start on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def kl_to_target(base: Mapping[str, ProblemEval], model: Mapping[str, ProblemEval]) -> dict:
    """Per problem, KL(p_x‖π) ≈ mean over base-accepted y of log π_base - log Ẑ_x - log π.

    Ẑ_x is the base model's acceptance rate on x; problems the base model never solved have no
    samples of p_x and no estimate. For the base model itself the estimate is -log Ẑ_x exactly.
    """
    estimates = {}
    for name, b in base.items():
        m = model.get(name)
        if m is None or not b.logp_targets or len(m.logp_targets) != len(b.logp_targets):
            continue
        log_z = log_z_acceptance(b.v)
        diff = np.asarray(b.logp_targets) - log_z - np.asarray(m.logp_targets)
        estimates[name] = float(diff.mean())
    return estimates
