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
from leanfilter.inputs import UNTRUSTED, InputError, load_problems, read_candidates
from leanfilter.policy import StrictPolicy, load_policy_config
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
    if replay and backend == BackendName.LEAN.value:
        raise click.UsageError("--replay: Lean has no replay yet (docs/lean.md); Coq has")
    try:
        known = load_problems(problems) if problems else None
        policy = StrictPolicy(load_policy_config(policy_path)) if policy_path else None
        db = ProofDB(db_path) if db_path else None
    except (OSError, ValueError, ProofDBError) as e:
        raise click.ClickException(str(e)) from e
    kind = BackendName(backend) if backend else None
    pool = PoolConfig(workers=workers) if workers else PoolConfig()
    config = VerifierConfig(pool=pool, timeout=timeout, replay=replay)
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
    verifier = Verifier(
        config,
        backends=backends,
        policy=policy,
        cache=db,
        recorder=db,
        run_id=run.id if run else None,
    )
    tally = _Tally()
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(
        total=_count_lines(Path(input_path)), disable=not show, unit="proof", file=sys.stderr
    )
    try:
        with _open_output(output) as out, verifier:
            for line, verdict in _verdicts(verifier, read_candidates(input_path, known, kind)):
                out.write(json.dumps({"line": line, **verdict.model_dump(mode="json")}) + "\n")
                out.flush()
                if tally.add(verdict):
                    click.echo(f"leanfilter: {verdict.detail}", err=True)  # once per reason
                bar.update()
    except KeyboardInterrupt:
        click.echo("leanfilter: interrupted; every verdict written so far is complete", err=True)
        sys.exit(130)
    finally:
        bar.close()
        if db is not None:
            if run is not None:
                db.end_run(run.id)
            db.close()
        click.echo(tally.summary(), err=True)
    if tally.missing_prover:
        sys.exit(EXIT_PROVER_MISSING)


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
                yield done(_input_error(entry))
            else:
                yield verifier.submit(entry, sample=line)

    for i, verdict in enumerate(in_order(futures(), verifier.config.window)):
        yield lines[i], verdict


def _input_error(error: InputError) -> Verdict:
    refused = error.reason == UNTRUSTED  # an attempt to replace trusted text, not a typo
    return Verdict(
        name=error.name or "",
        status=Status.REJECTED if refused else Status.ERROR,
        reason=error.reason,
        detail=f"line {error.line}: {error.message}",
    )


def _count_lines(path: Path) -> int:
    newlines, last = 0, b"\n"
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            newlines, last = newlines + chunk.count(b"\n"), chunk[-1:]
    return newlines + (last != b"\n")


def _open_output(path: str | None) -> AbstractContextManager[IO[str]]:
    return open(path, "w") if path else contextlib.nullcontext(sys.stdout)
