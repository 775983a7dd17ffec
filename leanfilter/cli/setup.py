"""`leanfilter setup`: install Lean for the Lean backends (logic in leanfilter.lean_setup)."""

from __future__ import annotations

from pathlib import Path

import click

from leanfilter.cli import main
from leanfilter.lean_setup import SetupError, install


@main.command()
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Lake project to set up (default: LEANFILTER_LEAN_PROJECT, else lean_project/).",
)
@click.option("--dry-run", is_flag=True, help="Print the steps without running them.")
def setup(project: Path | None, dry_run: bool) -> None:
    """Install Lean: elan, the pinned toolchain, Mathlib's cache, and the REPL."""
    try:
        install(project, dry_run=dry_run, echo=click.echo)
    except SetupError as e:
        raise click.ClickException(str(e)) from e
