"""`leanfilter verify`: check a JSONL file of candidate proofs, one verdict line per input line."""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click
from tqdm import tqdm

from leanfilter.backends import create_backend
from leanfilter.backends.base import Backend
from leanfilter.backends.lean_common import LeanSettings
from leanfilter.cli import main
from leanfilter.cli.on_ray import on_ray, ray_options
from leanfilter.cli.output import OutputError, VerdictOutput
from leanfilter.db import ProofDB, ProofDBError
from leanfilter.engine import Verifier, VerifierConfig, done
from leanfilter.inputs import InputError, load_problems, read_candidates
from leanfilter.policy import StrictPolicy, load_policy_config
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Problem, RunInfo, Status, Verdict
from leanfilter.sandbox import ProverCannotStart

EXIT_PROVER_MISSING = 3  # a prover is missing, or cannot start here
STDIN = "-"


def verifier_settings(
    workers: int | None,
    timeout: float | None,
    replay: bool,
    lean_mode: str,
    lean_project: str | None,
) -> tuple[VerifierConfig, dict[BackendName, Backend]]:
    """The verifier's configuration and backends from verify's options, which serve shares."""
    pool = PoolConfig(workers=workers) if workers else PoolConfig()
    config = VerifierConfig(pool=pool, timeout=timeout, replay=replay)
    lean = LeanSettings(mode=lean_mode, **({"project": lean_project} if lean_project else {}))
    backends = {
        BackendName.LEAN: create_backend(BackendName.LEAN, lean=lean),
        BackendName.COQ: create_backend(BackendName.COQ),
    }
    return config, backends


def start_run(db: ProofDB, known: dict[str, Problem] | None, config: VerifierConfig) -> RunInfo:
    """The run's record, with the problems it is about, before any verdict is written."""
    if known:
        db.add_problems(known.values())
    return db.start_run(" ".join(["leanfilter", *sys.argv[1:]]), config.model_dump(mode="json"))


@main.command()
@click.argument(
    "input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, allow_dash=True)
)
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
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Soundness policy configuration (JSON, or TOML on Python 3.11+); see docs/soundness.md.",
)
@click.option(
    "--replay",
    is_flag=True,
    help="Highest assurance: compile every proof found again in a fresh process and re-check it "
    "with an independent kernel checker (Coq: coqc and coqchk). A proof that does not replay is "
    "not proved. Lean has no replay yet.",
)
@ray_options
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
    policy_path: str | None,
    replay: bool,
    ray_address: str | None,
    ray_actors: int | None,
    progress: bool | None,
) -> None:
    """Check every candidate proof in INPUT (JSONL; `-` for standard input) and write one
    verdict per line.

    \b
    Input lines, one JSON object each, in any of these forms:
      {"name", "code"}                                  a whole file
      {"name", "header"?, "formal_statement", "proof"}  a statement and its proof
      {"name", "proof"}                                 with --problems for the statement
    Output lines carry line, name, status (proved | failed | timeout | rejected | error),
    reason, detail, messages, time_s and cached, in input order. A bad input line gets an
    `error` verdict naming what is wrong, and the run goes on. A failure of the output file or
    the database ends the run with one line naming the file (exit 1).
    """
    if replay and backend == BackendName.LEAN.value:
        raise click.UsageError("--replay: Lean has no replay yet (docs/lean.md); Coq has")
    source = "/dev/stdin" if input_path == STDIN else input_path
    kind_of_verifier = on_ray(ray_address, ray_actors) if ray_address else Verifier
    try:
        known = load_problems(problems) if problems else None
        policy = StrictPolicy(load_policy_config(policy_path)) if policy_path else None
        kind = BackendName(backend) if backend else None
        entries = _nonempty(read_candidates(source, known, kind), input_path)
        out = VerdictOutput(output)  # before any work: a path it cannot write is said at once
    except (OSError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    try:
        db = ProofDB(db_path) if db_path else None
    except ProofDBError as e:
        out.close()
        raise click.ClickException(str(e)) from e
    config, backends = verifier_settings(workers, timeout, replay, lean_mode, lean_project)
    run = None
    if db is not None:
        try:
            run = start_run(db, known, config)
        except ProofDBError as e:
            out.close()
            db.close()
            raise click.ClickException(str(e)) from e
    verifier = kind_of_verifier(
        config,
        backends=backends,
        policy=policy,
        cache=db,
        recorder=db,
        run_id=run.id if run else None,
    )
    tally = _Tally()
    show = sys.stderr.isatty() if progress is None else progress
    total = None if input_path == STDIN else _count_lines(Path(input_path))
    bar = tqdm(total=total, disable=not show, unit="proof", file=sys.stderr)
    outcome = "failed"
    try:
        with out, verifier:
            for line, verdict in _verdicts(verifier, entries):
                out.write_line(json.dumps({"line": line, **verdict.model_dump(mode="json")}))
                if tally.add(verdict):
                    click.echo(f"leanfilter: {verdict.detail}", err=True)  # once per reason
                bar.update()
        outcome = "completed"
    except KeyboardInterrupt:
        outcome = "interrupted"
        click.echo("leanfilter: interrupted; every verdict written so far is complete", err=True)
        sys.exit(130)
    except (OutputError, ProofDBError) as e:
        raise click.ClickException(f"{e}; the run stopped, every line written is whole") from e
    except ProverCannotStart as e:  # its message names the jail and the limit in the way
        click.echo(str(e), err=True)
        sys.exit(EXIT_PROVER_MISSING)
    finally:
        bar.close()
        if db is not None:
            _close_db(db, run.id if run else None, outcome)
        click.echo(tally.summary(), err=True)
    if tally.missing_prover:
        sys.exit(EXIT_PROVER_MISSING)


def _nonempty(
    entries: Iterator[tuple[int, Candidate | InputError]], input_path: str
) -> Iterator[tuple[int, Candidate | InputError]]:
    """`entries` as they were; a ValueError if there are none: an empty input is no run."""
    first = next(entries, None)
    if first is None:
        name = "standard input" if input_path == STDIN else input_path
        raise ValueError(f"{name}: the input had no candidates")
    return itertools.chain([first], entries)


def _close_db(db: ProofDB, run_id: str | None, outcome: str) -> None:
    """Say how the run ended, if the database still takes writes; close it either way."""
    try:
        try:
            if run_id is not None:
                db.end_run(run_id, outcome)
        finally:
            db.close()
    except ProofDBError as e:
        if outcome != "failed":  # else the failure was said already
            click.echo(f"leanfilter: {e}", err=True)


class _Tally:
    """What the closing summary says: counts per status, problems solved, throughput."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.counts: Counter[Status] = Counter()
        self.cached = 0
        self.names: set[str] = set()
        self.solved: set[str] = set()
        self.unavailable: set[str] = set()

    @property
    def missing_prover(self) -> bool:
        return bool(self.unavailable)

    def add(self, verdict: Verdict) -> bool:
        """Count it; True for the first verdict that says a prover or its replay is missing."""
        self.counts[verdict.status] += 1
        self.cached += verdict.cached
        if verdict.name:
            self.names.add(verdict.name)
        if verdict.accepted:
            self.solved.add(verdict.name)
        reason = verdict.reason or ""
        first = reason.endswith(".unavailable") and reason not in self.unavailable
        if first:
            self.unavailable.add(reason)
        return first

    def summary(self) -> str:
        total = sum(self.counts.values())
        seconds = time.monotonic() - self.started
        parts = ", ".join(f"{s.value} {self.counts[s]}" for s in Status if self.counts[s])
        return (
            f"{total} candidates in {seconds:.1f} s ({total / max(seconds, 1e-9):.1f}/s): "
            f"{parts or 'nothing'}; {self.cached} from cache; "
            f"problems solved {len(self.solved)}/{len(self.names)}"
        )


def _verdicts(
    verifier: Verifier, entries: Iterator[tuple[int, Candidate | InputError]]
) -> Iterator[tuple[int, Verdict]]:
    lines: list[int] = []

    def futures():  # noqa: ANN202 - a generator of futures, read ahead by in_order
        for line, entry in entries:
            lines.append(line)
            if isinstance(entry, InputError):
                yield done(entry.verdict())
            else:
                yield verifier.submit(entry, sample=line)

    for i, verdict in enumerate(verifier.in_order(futures())):
        yield lines[i], verdict


def _count_lines(path: Path) -> int:
    newlines, last = 0, b"\n"
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            newlines, last = newlines + chunk.count(b"\n"), chunk[-1:]
    return newlines + (last != b"\n")
