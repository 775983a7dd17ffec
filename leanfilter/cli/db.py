"""`leanfilter db`: queries, exports and imports over a proof database; each a short function."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import click

from leanfilter.cli import main
from leanfilter.db import ProofDB, ProofDBError
from leanfilter.diversity import ProofRecord, build_graph, diversity_table, write_graphml
from leanfilter.export import write_hf_dataset, write_jsonl
from leanfilter.inputs import load_problems
from leanfilter.records import BackendName
from leanfilter.verdict_files import (
    ImportedResult,
    VerdictFileError,
    VerdictFormat,
    read_verdict_file,
)

F = TypeVar("F", bound=Callable[..., object])
IMPORT_BATCH = 1000

existing_db = click.argument("database", type=click.Path(exists=True, dir_okay=False))


def run_option(f: F) -> F:
    return click.option("--run", "run_id", help="Only verdicts recorded in this run.")(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")(f)


@contextmanager
def opened(path: str) -> Iterator[ProofDB]:
    """The database, with its refusals and bad input turned into one-line errors."""
    try:
        with ProofDB(path) as db:
            yield db
    except (ProofDBError, VerdictFileError, FileExistsError) as e:
        raise click.ClickException(str(e)) from e


def known_run(store: ProofDB, run_id: str) -> str:
    """The full id of the run named by `run_id` or by a prefix of it (as `stats` labels runs);
    a run the database does not hold is refused rather than answered with nothing."""
    ids = [run.id for run in store.runs()]
    if run_id in ids:
        return run_id
    matches = [i for i in ids if i.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise click.ClickException(f"{run_id!r} names {len(matches)} runs in {store.path}")
    raise click.ClickException(
        f"no run {run_id!r} in {store.path} (`leanfilter db runs` lists its runs)"
    )


@main.group()
def db() -> None:
    """Query, export and import a proof database (the file `verify --db` writes)."""


@db.command()
@existing_db
@run_option
@json_option
def stats(database: str, run_id: str | None, as_json: bool) -> None:
    """Per problem: candidates, verdicts by status, distinct accepted proofs."""
    with opened(database) as proofs:
        rows = proofs.problem_stats(known_run(proofs, run_id) if run_id else None)
    if as_json:
        for row in rows:
            click.echo(row.model_dump_json())
        return
    click.echo(f"{'problem':<40} {'cands':>6} {'proved':>6} {'failed':>6} {'rej':>5} "
               f"{'t/o':>5} {'err':>5} {'distinct':>8}")  # fmt: skip
    for r in rows:
        click.echo(
            f"{r.name[:40]:<40} {r.candidates:>6} {r.proved:>6} {r.failed:>6} {r.rejected:>5} "
            f"{r.timeout:>5} {r.error:>5} {r.distinct_proofs:>8}"
        )
    click.echo(f"solved {sum(r.solved for r in rows)}/{len(rows)} problems")


@db.command()
@existing_db
@run_option
def solved(database: str, run_id: str | None) -> None:
    """Names of the problems with at least one accepted proof, one a line."""
    with opened(database) as proofs:
        for name in proofs.solved(known_run(proofs, run_id) if run_id else None):
            click.echo(name)


@db.command()
@existing_db
@click.argument("problem")
@json_option
def proofs(database: str, problem: str, as_json: bool) -> None:
    """The distinct accepted proofs of PROBLEM, most often found first."""
    with opened(database) as store:
        found = store.accepted_proofs(problem)
    if not found:
        raise click.ClickException(f"no accepted proof of {problem!r} in {database}")
    for proof in found:
        if as_json:
            click.echo(proof.model_dump_json())
        else:
            click.echo(f"-- {proof.candidates} candidate(s), {proof.backend.value}\n{proof.proof}")


@db.command()
@existing_db
@click.argument("run_id", metavar="RUN")
def accepted(database: str, run_id: str) -> None:
    """Everything accepted in RUN, as JSON lines."""
    with opened(database) as store:
        write_jsonl(store.accepted_in_run(known_run(store, run_id)), sys.stdout)


@db.command()
@existing_db
def runs(database: str) -> None:
    """The runs recorded in the database, oldest first."""
    with opened(database) as store:
        for run in store.runs():
            click.echo(run.model_dump_json())


@db.command()
@existing_db
@click.argument("destination", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "hf"]),
    default="jsonl",
    show_default=True,
    help="JSON lines, or a folder `datasets.load_dataset` reads.",
)
@run_option
@click.option("--accepted-only", is_flag=True, help="Only proofs that were accepted.")
def export(
    database: str, destination: str, fmt: str, run_id: str | None, accepted_only: bool
) -> None:
    """Write candidates and their verdicts to DESTINATION."""
    with opened(database) as store:
        results = store.results(
            run_id=known_run(store, run_id) if run_id else None, accepted_only=accepted_only
        )
        if fmt == "hf":
            counts = write_hf_dataset(results, Path(destination), title=Path(database).stem)
            total = sum(counts.values())
        else:
            with open(destination, "w", encoding="utf-8") as out:
                total = write_jsonl(results, out)
    click.echo(f"{total} results written to {destination}", err=True)


@db.command(name="import")
@click.argument("database", type=click.Path(dir_okay=False))
@click.argument("verdicts", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in VerdictFormat]),
    help="Default: told from the first record.",
)
@click.option(
    "--inputs",
    type=click.Path(exists=True, dir_okay=False),
    help="The `verify` input the verdicts came from (needed for leanfilter verdicts).",
)
@click.option("--problems", type=click.Path(exists=True, dir_okay=False), help="Problems JSONL.")
@click.option("--backend", type=click.Choice([b.value for b in BackendName]))
def import_(
    database: str,
    verdicts: str,
    fmt: str | None,
    inputs: str | None,
    problems: str | None,
    backend: str | None,
) -> None:
    """Store the verdicts of VERDICTS (leanfilter, DeepSeek-Prover or Kimina results).

    The whole file is read once before anything is written, so a bad record leaves the database
    as it was, with no half-made run.
    """
    try:
        known = load_problems(problems) if problems else None
    except (OSError, ValueError) as e:
        raise click.ClickException(str(e)) from e

    def results() -> Iterator[ImportedResult]:
        return read_verdict_file(
            verdicts,
            VerdictFormat(fmt) if fmt else None,
            candidates=inputs,
            problems=known,
            backend=BackendName(backend) if backend else None,
        )

    with opened(database) as store:
        if not sum(1 for _ in results()):  # the whole file, read before anything is written
            raise click.ClickException(
                f"nothing to import: {verdicts} holds no verdict with a candidate to store (it is"
                " empty, or every verdict is the `error` of an input line that held no candidate)"
            )
        read = added = 0
        run = store.start_run(f"leanfilter db import {verdicts}", {"format": fmt})
        batch: list = []
        for result in results():
            batch.append((result.candidate, result.verdict, result.used_constants))
            if len(batch) == IMPORT_BATCH:
                read, added = read + len(batch), added + store.record_many(batch, run.id)
                batch = []
        read, added = read + len(batch), added + store.record_many(batch, run.id)
        store.end_run(run.id)
    click.echo(f"{added} verdicts imported from {read} records (run {run.id})", err=True)


@db.command()
@existing_db
@run_option
@click.option("--graphml", type=click.Path(dir_okay=False), help="Also write the graph here.")
@json_option
def diversity(database: str, run_id: str | None, graphml: str | None, as_json: bool) -> None:
    """Per problem: distinct accepted proofs, tactic and premise Shannon and Simpson indices."""
    with opened(database) as store:
        records = [
            ProofRecord(
                problem=r.problem,
                backend=r.candidate.backend,
                proof=r.candidate.proof,
                statement=r.candidate.statement,
                used_constants=r.used_constants,
            )
            for r in store.results(
                run_id=known_run(store, run_id) if run_id else None, accepted_only=True
            )
        ]
    graph = build_graph(records)
    table = diversity_table(graph)
    if graphml:
        write_graphml(graph, graphml)
    if as_json:
        for row in table.values():
            click.echo(json.dumps(row.model_dump()))
        return
    click.echo(f"{'problem':<40} {'accepted':>8} {'distinct':>8} {'tactic H':>8} "
               f"{'tactic S':>8} {'premise H':>9} {'premise S':>9}")  # fmt: skip
    for r in sorted(table.values(), key=lambda r: r.problem):
        click.echo(
            f"{r.problem[:40]:<40} {r.accepted:>8} {r.distinct_proofs:>8} "
            f"{r.tactic_shannon:>8.3f} {r.tactic_simpson:>8.3f} "
            f"{r.premise_shannon:>9.3f} {r.premise_simpson:>9.3f}"
        )
