"""`leanfilter verify`: check a JSONL file of candidate proofs, one verdict line per input line."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

import click
from tqdm import tqdm

from leanfilter.backends import create_backend
from leanfilter.backends.lean_common import LeanSettings
from leanfilter.cli import main
from leanfilter.db import ProofDB, ProofDBError
from leanfilter.engine import Verifier, VerifierConfig, done, in_order
from leanfilter.inputs import InputError, load_problems, read_candidates
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Status, Verdict

EXIT_PROVER_MISSING = 3


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--problems",
    type=click.Path(exists=True, dir_okay=False),
    help="JSONL of trusted statements by name (miniF2F, ProofNet, miniCodeProps, miniF2F-rocq).",
)
@click.option(
    "--backend",
    type=click.Choice([b.value for b in BackendName]),
    help="Prover for every line. Default: from the problem, or detected from the text.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Verdicts JSONL. Default: stdout."
)
@click.option("--workers", type=click.IntRange(min=1), help="Prover processes. Default: cores.")
@click.option(
    "--timeout", type=click.FloatRange(min=0.1), help="Seconds per proof (Lean 300, Coq 60)."
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    help="Proof database (SQLite): every verdict is recorded as it arrives, and a rerun skips "
    "what it already knows.",
)
@click.option(
    "--lean-mode",
    type=click.Choice(["repl", "file"]),
    default="repl",
    show_default=True,
    help="Warm REPL sessions, or one `lean --json` process per proof.",
)
@click.option(
    "--lean-project",
    type=click.Path(file_okay=False, exists=True),
    help="Built Lake project for Lean (default: $LEANFILTER_LEAN_PROJECT or lean_project/).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
def verify(
    input_path: str,
    problems: str | None,
    backend: str | None,
    output: str | None,
    workers: int | None,
    timeout: float | None,
    db_path: str | None,
    lean_mode: str,
    lean_project: str | None,
    progress: bool | None,
) -> None:
    """Check every candidate proof in INPUT (JSONL) and write one verdict per line.

    \b
    Input lines, one JSON object each, in any of these forms:
      {"name", "code"}                                  a whole file
      {"name", "header"?, "formal_statement", "proof"}  a statement and its proof
      {"name", "proof"}                                 with --problems for the statement
    Output lines carry line, name, status (proved | failed | timeout | rejected | error),
    reason, detail, messages, time_s and cached, in input order. A bad input line gets an
    `error` verdict naming what is wrong, and the run goes on.
    """
    try:
        known = load_problems(problems) if problems else None
        db = ProofDB(db_path) if db_path else None
    except (OSError, ValueError, ProofDBError) as e:
        raise click.ClickException(str(e)) from e
    kind = BackendName(backend) if backend else None
    pool = PoolConfig(workers=workers) if workers else PoolConfig()
    config = VerifierConfig(pool=pool, timeout=timeout)
    lean = LeanSettings(mode=lean_mode, **({"project": lean_project} if lean_project else {}))
    backends = {
        BackendName.LEAN: create_backend(BackendName.LEAN, lean=lean),
        BackendName.COQ: create_backend(BackendName.COQ),
    }
    run = None
    if db is not None:
        if known:
            db.add_problems(known.values())
        run = db.start_run(" ".join(["leanfilter", *sys.argv[1:]]), config.model_dump(mode="json"))
    total = _count_lines(Path(input_path))
    show = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    counts: Counter[Status] = Counter()
    solved: set[str] = set()
    names: set[str] = set()
    cached = 0
    missing_prover: str | None = None
    verifier = Verifier(
        config, backends=backends, cache=db, recorder=db, run_id=run.id if run else None
    )
    with _open_output(output) as out, verifier:
        entries = read_candidates(input_path, known, kind)
        bar = tqdm(total=total, disable=not show, unit="proof", file=sys.stderr, dynamic_ncols=True)
        try:
            for line, verdict in _verdicts(verifier, entries):
                out.write(json.dumps({"line": line, **verdict.model_dump(mode="json")}) + "\n")
                out.flush()
                counts[verdict.status] += 1
                cached += verdict.cached
                names.add(verdict.name)
                if verdict.accepted:
                    solved.add(verdict.name)
                if verdict.reason == "prover.unavailable" and missing_prover is None:
                    missing_prover = verdict.detail
                    click.echo(f"leanfilter: {missing_prover}", err=True)
                bar.update()
        except KeyboardInterrupt:
            bar.close()
            click.echo(
                "leanfilter: interrupted; every verdict written so far is complete", err=True
            )
            _summary(counts, cached, solved, names, time.monotonic() - started)
            sys.exit(130)
        bar.close()
    if db is not None and run is not None:
        db.end_run(run.id)
        db.close()
    _summary(counts, cached, solved, names, time.monotonic() - started)
    if missing_prover:
        sys.exit(EXIT_PROVER_MISSING)


def _verdicts(
    verifier: Verifier, entries: Iterator[tuple[int, Candidate | InputError]]
) -> Iterator[tuple[int, Verdict]]:
    lines: list[int] = []

    def futures():  # noqa: ANN202 - a generator of futures, read ahead by in_order
        for line, entry in entries:
            lines.append(line)
            if isinstance(entry, InputError):
                yield done(_input_error(entry))
            else:
                yield verifier.submit(entry, sample=line)

    for i, verdict in enumerate(in_order(futures(), verifier.config.window)):
        yield lines[i], verdict


def _input_error(error: InputError) -> Verdict:
    return Verdict(
        name=error.name or "",
        status=Status.ERROR,
        reason="input.invalid",
        detail=f"line {error.line}: {error.message}",
    )


def _summary(
    counts: Counter[Status], cached: int, solved: set[str], names: set[str], seconds: float
) -> None:
    total = sum(counts.values())
    parts = ", ".join(f"{s.value} {counts[s]}" for s in Status if counts[s])
    rate = total / seconds if seconds > 0 else 0.0
    click.echo(
        f"{total} candidates in {seconds:.1f} s ({rate:.1f}/s): {parts or 'nothing'}; "
        f"{cached} from cache; problems solved {len(solved)}/{len(names - {''})}",
        err=True,
    )


def _count_lines(path: Path) -> int:
    newlines, last = 0, b"\n"
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            newlines, last = newlines + chunk.count(b"\n"), chunk[-1:]
    return newlines + (last != b"\n")


def _open_output(path: str | None) -> AbstractContextManager[IO[str]]:
    return open(path, "w") if path else contextlib.nullcontext(sys.stdout)
