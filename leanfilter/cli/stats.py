"""`leanfilter stats`: precision, coverage, difficulty and the Pareto plot of finished runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from leanfilter.cli import main
from leanfilter.db import ProofDB, ProofDBError
from leanfilter.metrics import (
    Bucket,
    BucketRow,
    MetricEstimate,
    ProblemTally,
    RunTally,
    bucket_table,
    compare_runs,
    difficulty_buckets,
    run_metric,
    transition_matrix,
)
from leanfilter.pareto import ParetoPoint, plot_pareto

_SHOWN_NAMES = 8
_RUN_ID_CHARS = 8
_SQLITE_MAGIC = b"SQLite format 3\x00"


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
def stats(
    sources: tuple[Path, ...],
    ks: tuple[int, ...],
    plot: Path | None,
    reference: str | None,
    confidence: float,
    seed: int,
) -> None:
    """Precision, coverage and difficulty of runs, compared with a reference run.

    SOURCES are verdict files (one run per `verify -o` file) or proof databases (one run per run
    id). Samples whose verdict is `error` have no answer and are left out of every estimate. A
    database keeps one row per distinct candidate (text and sampler metadata), so there a sample
    repeated verbatim counts once; a verdict file counts every sample.
    """
    runs = _load_runs(sources)
    base = _reference(runs, reference)
    buckets = difficulty_buckets(base)
    estimates = {}
    for run in runs:
        estimates[run.label] = [
            m for k in ks if (m := run_metric(run, k, confidence=confidence, seed=seed))
        ]
        click.echo(_run_report(run, estimates[run.label], bucket_table(run, buckets), base.label))
    for run in runs:
        if run is not base:
            click.echo(_comparison_report(base, run, ks, seed))
    if plot is not None:
        k = _plotted_k(estimates, ks)
        points = [_pareto_point(run.label, estimates[run.label], k) for run in runs]
        plot_pareto(points, k, plot)
        click.echo(f"Pareto plot of pass@1 against pass@{k} written to {plot}")


def _load_runs(sources: Sequence[Path]) -> list[RunTally]:
    """Every run in every source: a verdict file is one run, a proof database one per run id."""
    stems = [path.stem for path in sources]
    distinct = len(set(stems)) == len(stems)
    runs = []
    for path in sources:
        label = path.stem if distinct else str(path)
        try:
            if _is_sqlite(path):
                runs.extend(_database_runs(path, label))
            else:
                runs.append(RunTally.from_verdict_file(path, label))
        except (OSError, UnicodeDecodeError, ValueError, ProofDBError) as e:
            raise click.ClickException(str(e)) from e
    if not runs:
        raise click.ClickException("no run found in " + ", ".join(map(str, sources)))
    return runs


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC


def _database_runs(path: Path, label: str) -> list[RunTally]:
    """One run per run id that has verdicts, labelled `FILE:ID` with the id's first characters."""
    with ProofDB(path) as db:
        runs = [
            RunTally(
                label=f"{label}:{run.id[:_RUN_ID_CHARS]}",
                problems={
                    s.name: ProblemTally(
                        answered=s.candidates - s.error, proved=s.proved, errors=s.error
                    )
                    for s in db.problem_stats(run.id)
                },
            )
            for run in db.runs()
        ]
    return [run for run in runs if run.problems]


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
    lines.append(f"  buckets by the pass@1 of {reference!r}:")
    lines.append(f"    {'bucket':<10}{'problems':>9}{'solved':>8}{'pass@1':>9}")
    for bucket, row in buckets.items():
        precision = "-" if row.precision is None else f"{row.precision:.3f}"
        lines.append(f"    {bucket.value:<10}{row.problems:>9}{row.solved:>8}{precision:>9}")
    return "\n".join(lines)


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
