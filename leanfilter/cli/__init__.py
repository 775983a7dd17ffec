"""`leanfilter` command line: a thin skin over the library; every command is a short function."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leanfilter")
def main() -> None:
    """Verify machine-generated proofs (Lean 4, Coq) at scale, and measure the verified target."""


from leanfilter.cli import db as _db  # noqa: E402,F401
from leanfilter.cli import serve as _serve  # noqa: E402,F401
from leanfilter.cli import setup as _setup  # noqa: E402,F401
from leanfilter.cli import stats as _stats  # noqa: E402,F401
from leanfilter.cli import verify as _verify  # noqa: E402,F401


def _add_plugin_commands() -> None:
    """Commands other packages declare in the entry-point group `leanfilter.commands`."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="leanfilter.commands"):
        main.add_command(entry.load(), entry.name)


_add_plugin_commands()
