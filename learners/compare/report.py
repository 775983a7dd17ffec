"""The comparison's results, read back from its output folder: results.json, a markdown table and
the Pareto plot.

Per model (the base, and every arm per seed and pooled over seeds): pass@k with bootstrap
intervals over problems; paired bootstrap tests against the base model and against GRPO (same
seed, or pooled against pooled); distinct accepted proofs per problem and the diversity indices of
`leanfilter stats`; the estimate of KL(p‖π) on the eval problems; training time split into
sampling, verifying and learning. Pooled values are per-problem means over seeds, so every seed
weighs the same and intervals still resample problems.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, computed_field

from leanfilter.diversity import ProofRecord, diversity_table
from leanfilter.inputs import load_problems
from leanfilter.metrics import (
    Interval,
    RunTally,
    bootstrap_mean_ci,
    paired_bootstrap_pvalue,
    summarize_diversity,
)
from leanfilter.pareto import ParetoPoint, plot_pareto
from leanfilter.records import Problem
from learners.compare.config import CompareConfig
from learners.compare.evaluate import ProblemEval, kl_to_target, read_evals
from learners.loop import LOG

PerProblem = dict[str, float]


class Estimate(BaseModel):
    interval: Interval
    problems: int


class Paired(BaseModel):
    against: str
    k: int
    difference: float
    p_value: float
    problems: int


class Diversity(BaseModel):
    """Distinct accepted proofs per eval problem, and `leanfilter stats`' indices (means over
    solved problems); pooled rows average the seeds' values."""

    distinct_per_problem: float
    tactic_shannon: float | None
    tactic_simpson: float | None
    premise_shannon: float | None
    premise_simpson: float | None


_INDICES = ("tactic_shannon", "tactic_simpson", "premise_shannon", "premise_simpson")


class TrainTime(BaseModel):
    """Seconds over the logged steps (per run: pooled rows average the seeds)."""

    steps: float
    sampling_s: float
    verifying_s: float
    learning_s: float


class ModelRow(BaseModel):
    label: str
    seed: int | None
    """None: the base model, or an arm pooled over seeds."""
    pass_at_k: dict[int, Estimate]
    paired: list[Paired]
    diversity: Diversity
    kl: Estimate | None
    train_time: TrainTime | None


class CacheStats(BaseModel):
    """Verdicts recorded in the comparison's database, and how many the cache answered."""

    verdicts: int
    hits: int
    train_verdicts: int
    train_hits: int

    @computed_field
    @property
    def rate(self) -> float:
        return self.hits / self.verdicts if self.verdicts else 0.0


class CompareResults(BaseModel):
    name: str
    base_model: str
    eval_problems: int
    eval_samples: int
    ks: list[int]
    confidence: float
    rows: list[ModelRow]
    cache: CacheStats
    unfinished: list[str]


class _Model(BaseModel):
    """One evaluated model (a seed of an arm, or the base): what its rows are computed from."""

    label: str
    seed: int | None
    evals: dict[str, ProblemEval]
    steps: list[dict] | None


def build_results(config: CompareConfig, out: Path) -> CompareResults:
    problems = load_problems(out / "problems" / "eval.jsonl")
    base = _load(out, "base", None, problems, with_steps=False)
    if base is None:
        raise ValueError(f"{out}: the base model has no finished evaluation")
    arms, unfinished = {}, []
    for arm in config.arms():
        seeds = [_load(out, arm.label, seed, problems, with_steps=True) for seed in config.seeds]
        unfinished += [
            f"{arm.label}-s{s}" for s, m in zip(config.seeds, seeds, strict=True) if not m
        ]
        if any(seeds):
            arms[arm.label] = [m for m in seeds if m is not None]
    grpo = next((a.label for a in config.arms() if a.learner == "grpo"), None)
    rows_of = _Rows(config, problems, base)
    rows = [rows_of.row("base", None, [base], {})]
    for label, models in arms.items():
        references = {"base": [base]}
        for model in models:
            if grpo in arms and label != grpo:
                references["grpo"] = [m for m in arms[grpo] if m.seed == model.seed]
            rows.append(rows_of.row(label, model.seed, [model], references))
        if len(config.seeds) > 1:
            pooled = {"base": [base]} | (
                {"grpo": arms[grpo]} if grpo in arms and label != grpo else {}
            )
            rows.append(rows_of.row(label, None, models, pooled))
    return CompareResults(
        name=config.name,
        base_model=config.base_model,
        eval_problems=len(problems),
        eval_samples=config.eval.samples,
        ks=config.eval.k,
        confidence=config.eval.confidence,
        rows=rows,
        cache=cache_stats(out / "proofs.db"),
        unfinished=unfinished,
    )


def _load(
    out: Path, label: str, seed: int | None, problems: Mapping[str, Problem], with_steps: bool
) -> _Model | None:
    name = label if seed is None else f"{label}-s{seed}"
    evals = read_evals(out / "eval" / f"{name}.jsonl")
    if set(evals) != set(problems):
        return None
    steps = _steps(out / "train" / name / LOG) if with_steps else None
    return _Model(label=label, seed=seed, evals=evals, steps=steps)


def _steps(path: Path) -> list[dict]:
    """The logged steps, one per step number (a step logged again after a resume counts once)."""
    if not path.exists():
        return []
    by_step = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            by_step[record["step"]] = record
    return [by_step[s] for s in sorted(by_step)]


class _Rows:
    def __init__(
        self, config: CompareConfig, problems: Mapping[str, Problem], base: _Model
    ) -> None:
        self.config = config
        self.problems = problems
        self.base = base

    def row(
        self,
        label: str,
        seed: int | None,
        models: Sequence[_Model],
        references: Mapping[str, Sequence[_Model]],
    ) -> ModelRow:
        ks = self.config.eval.k
        return ModelRow(
            label=label,
            seed=seed,
            pass_at_k={k: self._estimate(_mean(models, lambda m, k=k: _pass(m, k))) for k in ks},
            paired=[
                _paired(name, k, models, reference)
                for name, reference in references.items()
                if reference
                for k in ks
            ],
            diversity=_pooled_diversity([self._diversity(m) for m in models]),
            kl=self._kl(models),
            train_time=_train_time(models),
        )

    def _estimate(self, values: PerProblem) -> Estimate:
        interval = bootstrap_mean_ci(
            list(values.values()),
            confidence=self.config.eval.confidence,
            seed=self.config.eval.seed,
        )
        return Estimate(interval=interval, problems=len(values))

    def _kl(self, models: Sequence[_Model]) -> Estimate | None:
        values = _mean(models, lambda m: kl_to_target(self.base.evals, m.evals))
        return self._estimate(values) if values else None

    def _diversity(self, model: _Model) -> Diversity:
        records = [
            ProofRecord(
                problem=name,
                backend=self.problems[name].backend,
                proof=text,
                statement=self.problems[name].statement,
            )
            for name, record in model.evals.items()
            for text in record.accepted
        ]
        table = diversity_table(records)
        distinct = sum(s.distinct_proofs for s in table.values()) / len(self.problems)
        summary = summarize_diversity(table)
        if summary is None:
            return Diversity(distinct_per_problem=distinct, **dict.fromkeys(_INDICES))
        indices = {name: getattr(summary, name) for name in _INDICES}
        return Diversity(distinct_per_problem=distinct, **indices)


def _tally(model: _Model) -> RunTally:
    return RunTally.from_statuses(
        model.label, [(name, s) for name, e in model.evals.items() for s in e.statuses]
    )


def _pass(model: _Model, k: int) -> PerProblem:
    return _tally(model).pass_at_k(k)


def _mean(models: Sequence[_Model], per_problem: Callable[[_Model], PerProblem]) -> PerProblem:
    """Per problem, the mean over models of a per-problem value; problems all of them have."""
    tables = [per_problem(m) for m in models]
    shared = set.intersection(*(set(t) for t in tables)) if tables else set()
    return {name: float(np.mean([t[name] for t in tables])) for name in sorted(shared)}


def _paired(against: str, k: int, models: Sequence[_Model], reference: Sequence[_Model]) -> Paired:
    a = _mean(models, lambda m: _pass(m, k))
    b = _mean(reference, lambda m: _pass(m, k))
    common = sorted(a.keys() & b.keys())
    va, vb = np.array([a[n] for n in common]), np.array([b[n] for n in common])
    return Paired(
        against=against,
        k=k,
        difference=float(va.mean() - vb.mean()),
        p_value=paired_bootstrap_pvalue(va, vb),
        problems=len(common),
    )


def _pooled_diversity(values: Sequence[Diversity]) -> Diversity:
    def mean(field: str) -> float | None:
        present = [getattr(v, field) for v in values if getattr(v, field) is not None]
        return float(np.mean(present)) if present else None

    return Diversity(**{field: mean(field) for field in Diversity.model_fields})


def _train_time(models: Sequence[_Model]) -> TrainTime | None:
    runs = [m.steps for m in models if m.steps]
    if not runs:
        return None

    def mean(key: str) -> float:
        return float(np.mean([sum(step[key] for step in steps) for steps in runs]))

    return TrainTime(
        steps=float(np.mean([len(steps) for steps in runs])),
        sampling_s=mean("sample_s"),
        verifying_s=mean("verify_s"),
        learning_s=mean("learn_s"),
    )


def cache_stats(database: Path) -> CacheStats:
    """From the database, so the figure covers every process the comparison ran in."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT c.sampler_run_id LIKE 'eval/%', COUNT(*), SUM(v.cached) FROM verdicts v"
            " JOIN candidates c ON c.id = v.candidate_id GROUP BY 1"
        ).fetchall()
    by_phase = {bool(is_eval): (count, hits or 0) for is_eval, count, hits in rows}
    train = by_phase.get(False, (0, 0))
    evals = by_phase.get(True, (0, 0))
    return CacheStats(
        verdicts=train[0] + evals[0],
        hits=train[1] + evals[1],
        train_verdicts=train[0],
        train_hits=train[1],
    )


# -- writing ---------------------------------------------------------------------------------


def write_report(results: CompareResults, out: Path) -> str:
    """results.json, results.md, pareto.png (coverage at the largest k) and pareto-kK.png for
    every smaller k above 1, since coverage saturates first at the largest; returns the table."""
    partial = out / "results.json.partial"
    partial.write_text(results.model_dump_json(indent=2))
    partial.replace(out / "results.json")
    table = markdown_table(results)
    (out / "results.md").write_text(table + "\n")
    largest = max(results.ks)
    for k in (k for k in results.ks if k > 1):
        name = "pareto.png" if k == largest else f"pareto-k{k}.png"
        plot_pareto(pareto_points(results, k), k, out / name)
    return table


def pareto_points(results: CompareResults, k: int) -> list[ParetoPoint]:
    """The base model and every arm pooled over seeds (each seed, when there is one seed)."""
    pooled = {row.label for row in results.rows if row.seed is None}
    return [
        ParetoPoint(
            label=row.label,
            precision=row.pass_at_k[1].interval,
            coverage=row.pass_at_k[k].interval,
        )
        for row in results.rows
        if row.seed is None or row.label not in pooled
    ]


def markdown_table(results: CompareResults) -> str:
    ks = results.ks
    top = max(ks)
    header = [
        "model",
        "seed",
        *(f"pass@{k}" for k in ks),
        f"Δpass@{top} vs base (p)",
        f"Δpass@{top} vs GRPO (p)",
        "distinct/problem",
        "tactic H",
        "premise H",
        "KL(p‖π)",
        "train s: sample/verify/learn",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in results.rows:
        tested = {(p.against, p.k): p for p in row.paired}
        cells = [
            row.label,
            _seed_cell(row),
            *(_interval(row.pass_at_k[k].interval) for k in ks),
            _test(tested.get(("base", top))),
            _test(tested.get(("grpo", top))),
            f"{row.diversity.distinct_per_problem:.2f}",
            _number(row.diversity.tactic_shannon),
            _number(row.diversity.premise_shannon),
            "-" if row.kl is None else _interval(row.kl.interval),
            _time(row.train_time),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"{results.name}: {results.eval_problems} eval problems x {results.eval_samples} samples;"
        f" {results.confidence:.0%} bootstrap intervals over problems; paired bootstrap p-values."
        f" Verifier cache: {results.cache.hits}/{results.cache.verdicts} verdicts from the cache"
        f" ({results.cache.rate:.1%}), training {results.cache.train_hits}/"
        f"{results.cache.train_verdicts}."
    )
    if results.unfinished:
        lines.append(f"Not finished (left out): {', '.join(results.unfinished)}.")
    return "\n".join(lines)


def _seed_cell(row: ModelRow) -> str:
    if row.seed is not None:
        return str(row.seed)
    return "-" if row.label == "base" else "pooled"


def _interval(i: Interval) -> str:
    return f"{i.estimate:.3f} [{i.low:.3f}, {i.high:.3f}]"


def _test(p: Paired | None) -> str:
    return "-" if p is None else f"{p.difference:+.3f} ({p.p_value:.3f})"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _time(t: TrainTime | None) -> str:
    if t is None:
        return "-"
    return f"{t.sampling_s:.2f}/{t.verifying_s:.2f}/{t.learning_s:.2f}"
