"""`leanfilter stats`: precision, coverage, difficulty, diversity and the Pareto plot of runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from leanfilter.cli import main
from leanfilter.db import ProofDBError
from leanfilter.diversity import diversity_table
from leanfilter.inputs import load_problems
from leanfilter.metrics import (
    Bucket,
    BucketRow,
    DiversitySummary,
    MetricEstimate,
    RunTally,
    bucket_table,
    bucket_thresholds,
    compare_runs,
    difficulty_buckets,
    run_metric,
    summarize_diversity,
    transition_matrix,
)
from leanfilter.pareto import ParetoPoint, plot_pareto
from leanfilter.runs import LoadedRun, is_sqlite, load_runs
from leanfilter.verdict_files import VerdictFileError

_SHOWN_NAMES = 8


def _parse_ks(_ctx: click.Context, _param: click.Parameter, text: str) -> tuple[int, ...]:
    """Sorted, without repeats, and always with k = 1, which is precision."""
    try:
        ks = {int(part) for part in text.split(",") if part.strip()}
    except ValueError as e:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from e
    if any(k < 1 for k in ks):
        raise click.BadParameter("every k must be at least 1")
    return tuple(sorted(ks | {1}))


@main.command()
@click.argument(
    "sources",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--k",
    "ks",
    default="1,8,64,256",
    callback=_parse_ks,
    show_default=True,
    help="k values of pass@k; 1 is precision, the others coverage.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the coverage-precision Pareto plot (PNG) here.",
)
@click.option(
    "--reference",
    help="Label of the run whose pass@1 sets the difficulty buckets "
    "and that the others are compared with (default: the first).",
)
@click.option(
    "--confidence",
    default=0.95,
    show_default=True,
    type=click.FloatRange(0.5, 0.999),
    help="Level of the bootstrap intervals.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option(
    "--candidates",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The input file of a verdict file, for the diversity of its accepted proofs; "
    "once per verdict file, in the same order.",
)
@click.option(
    "--problems",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trusted statements by name, for candidate lines that only name their problem.",
)
def stats(
    sources: tuple[Path, ...],
    ks: tuple[int, ...],
    plot: Path | None,
    reference: str | None,
    confidence: float,
    seed: int,
    candidates: tuple[Path, ...],
    problems: Path | None,
) -> None:
    """Precision, coverage, difficulty and diversity of runs, compared with a reference run.

    SOURCES are verdict files (one run per `verify -o` file) or proof databases (one run per run
    id). Samples whose verdict is `error` have no answer and are left out of every estimate.
    """
    loaded = _on_shared_problems(_load(sources, candidates, problems))
    runs = [run.tally for run in loaded]
    base = _reference(runs, reference)
    buckets = difficulty_buckets(base)
    estimates = {}
    for run in loaded:
        tally = run.tally
        estimates[tally.label] = [
            m for k in ks if (m := run_metric(tally, k, confidence=confidence, seed=seed))
        ]
        table = bucket_table(tally, buckets)
        click.echo(_run_report(tally, ks, estimates[tally.label], table, base.label))
        click.echo(_diversity_report(run))
    for run in runs:
        if run is not base:
            click.echo(_comparison_report(base, run, ks, seed))
    if plot is not None:
        k = _plotted_k(estimates, ks)
        points = [_pareto_point(run.label, estimates[run.label], k) for run in runs]
        plot_pareto(points, k, plot)
        click.echo(f"Pareto plot of pass@1 against pass@{k} written to {plot}")


def _load(
    sources: Sequence[Path], candidates: Sequence[Path], problems: Path | None
) -> list[LoadedRun]:
    """Every run of every source, labelled by file name (by path where two names are the same)."""
    stems = [path.stem for path in sources]
    distinct = len(set(stems)) == len(stems)
    try:
        verdict_files = [path for path in sources if not is_sqlite(path)]
        if candidates and len(candidates) != len(verdict_files):
            raise click.BadParameter(
                f"{len(candidates)} given for {len(verdict_files)} verdict files: "
                "give one per verdict file, in the same order",
                param_hint="--candidates",
            )
        inputs = dict(zip(verdict_files, candidates, strict=False))
        known = load_problems(problems) if problems else None
        runs = [
            run
            for path in sources
            for run in load_runs(
                path,
                path.stem if distinct else str(path),
                candidates=inputs.get(path),
                problems=known,
            )
        ]
    except (OSError, UnicodeDecodeError, ValueError, ProofDBError, VerdictFileError) as e:
        raise click.ClickException(str(e)) from e
    if not runs:
        raise click.ClickException("no run found in " + ", ".join(map(str, sources)))
    if len({run.tally.label for run in runs}) < len(runs):
        raise click.ClickException("a source is given twice: every run must have its own label")
    return runs


def _on_shared_problems(loaded: list[LoadedRun]) -> list[LoadedRun]:
    """Runs over different problem sets, cut down to the problems they all share (said so); runs
    that share none are not comparable and are refused."""
    problem_sets = [set(run.tally.problems) for run in loaded]
    shared = set.intersection(*problem_sets)
    if all(problems == shared for problems in problem_sets):
        return loaded
    sizes = ", ".join(
        f"{run.tally.label} {len(problems)}"
        for run, problems in zip(loaded, problem_sets, strict=True)
    )
    if not shared:
        raise click.ClickException(f"the runs share no problem ({sizes}): nothing to compare")
    click.echo(
        f"note: the runs cover different problems ({sizes}); every figure below is over the "
        f"{len(shared)} problems they share"
    )
    return [
        LoadedRun(
            tally=run.tally.restricted(shared),
            accepted=None
            if run.accepted is None
            else [r for r in run.accepted if r.problem in shared],
        )
        for run in loaded
    ]


def _reference(runs: Sequence[RunTally], label: str | None) -> RunTally:
    if label is None:
        return runs[0]
    for run in runs:
        if run.label == label:
            return run
    raise click.BadParameter(f"no run is labelled {label!r}", param_hint="--reference")


def _plotted_k(estimates: dict[str, list[MetricEstimate]], ks: Sequence[int]) -> int:
    """The largest coverage k that every run has an estimate for."""
    shared = [k for k in ks if k > 1 and all(any(m.k == k for m in e) for e in estimates.values())]
    if not shared:
        raise click.UsageError("the plot needs a k > 1 for which every run has enough samples")
    return shared[-1]


def _pareto_point(label: str, estimates: Sequence[MetricEstimate], k: int) -> ParetoPoint:
    by_k = {m.k: m.interval for m in estimates}
    return ParetoPoint(label=label, precision=by_k[1], coverage=by_k[k])


def _run_report(
    run: RunTally,
    ks: Sequence[int],
    estimates: Sequence[MetricEstimate],
    buckets: dict[Bucket, BucketRow],
    reference: str,
) -> str:
    answered = sum(t.answered > 0 for t in run.problems.values())
    lines = [
        f"== {run.label}: {answered} problems answered, {run.samples} samples, "
        f"engine errors {run.errors} (left out)",
        f"  {'metric':<11}{'':<10}{'estimate':>8}  {'interval':<16}{'problems':>10}",
    ]
    for m in estimates:
        name, i = "precision" if m.k == 1 else "coverage", m.interval
        bounds = f"[{i.low:.3f}, {i.high:.3f}]"
        lines.append(
            f"  {name:<11}{f'pass@{m.k}':<10}{i.estimate:>8.3f}  {bounds:<16}{m.problems:>10}"
        )
    dropped = [k for k in ks if k not in {m.k for m in estimates}]
    if dropped:
        most = max((t.answered for t in run.problems.values()), default=0)
        lines.append(
            "  " + ", ".join(f"pass@{k}" for k in dropped) + " not estimated: no problem has "
            f"that many answered samples (the most is {most})"
        )
    lines.append(f"  buckets by the pass@1 of {reference!r} ({bucket_thresholds()}):")
    lines.append(f"    {'bucket':<10}{'problems':>9}{'solved':>8}{'pass@1':>9}")
    for bucket, row in buckets.items():
        precision = "-" if row.precision is None else f"{row.precision:.3f}"
        lines.append(f"    {bucket.value:<10}{row.problems:>9}{row.solved:>8}{precision:>9}")
    return "\n".join(lines)


def _diversity_report(run: LoadedRun) -> str:
    if run.accepted is None:
        return "  diversity: the verdict file holds no proofs (give its input with --candidates)"
    summary = summarize_diversity(diversity_table(run.accepted))
    if summary is None:
        return "  diversity: no accepted proof"
    return _diversity_lines(summary)


def _diversity_lines(d: DiversitySummary) -> str:
    return "\n".join(
        [
            f"  diversity of accepted proofs, {d.distinct_proofs} distinct over {d.problems}"
            " problems (indices averaged over problems):",
            f"    tactics   Shannon {d.tactic_shannon:.3f}  Simpson {d.tactic_simpson:.3f}"
            + _by_construction(d.single_tactic, d.problems, "tactics"),
            f"    premises  Shannon {d.premise_shannon:.3f}  Simpson {d.premise_simpson:.3f}"
            + _by_construction(d.single_premise, d.problems, "premises"),
        ]
    )


def _by_construction(few: int, problems: int, kind: str) -> str:
    """Why an index is (near) 0: problems whose proofs use fewer than two distinct names."""
    if not few:
        return ""
    return (
        f"  ({few} of {problems} problems: their proofs name fewer than 2 distinct {kind}, "
        "so both indices are 0 by construction)"
    )


def _comparison_report(base: RunTally, run: RunTally, ks: Sequence[int], seed: int) -> str:
    lines = [f"== {run.label} against {base.label} (paired bootstrap over common problems)"]
    for k in ks:
        comparison = compare_runs(run, base, k, seed=seed)
        if comparison is not None:
            lines.append(
                f"  pass@{k:<5} difference {comparison.difference:+.3f}  "
                f"p = {comparison.p_value:.4f}  ({comparison.problems} problems)"
            )
    transition = transition_matrix(base, run)
    lines.append(f"  gained {_names(transition.gained)}")
    lines.append(f"  lost   {_names(transition.lost)}")
    lines.append(f"  buckets, {base.label} (rows) to {run.label} (columns):")
    lines.append("    " + " " * 10 + "".join(f"{b.value:>10}" for b in Bucket))
    for before, row in transition.counts.items():
        lines.append(f"    {before.value:<10}" + "".join(f"{row[b]:>10}" for b in Bucket))
    return "\n".join(lines)


def _names(names: Sequence[str]) -> str:
    """`3: a, b, c`, at most a few of them, or `0`."""
    if not names:
        return "0"
    shown = ", ".join(names[:_SHOWN_NAMES])
    more = f", … {len(names) - _SHOWN_NAMES} more" if len(names) > _SHOWN_NAMES else ""
    return f"{len(names)}: {shown}{more}"
