"""`leanfilter` command line: a thin skin over the library; every command is a short function.

Each command's module is imported only when that command runs (or help lists them all): a
`verify` does not pay for the plotting that `stats` needs, nor fail where it cannot load. Other
packages add commands through the entry-point group `leanfilter.commands` (the learners' `train`),
loaded the same way, only when named.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points

import click

_MODULES = {"db": "db", "serve": "serve", "setup": "setup", "stats": "stats", "verify": "verify"}


def _plugins() -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group="leanfilter.commands")}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_MODULES, *_plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            if cmd_name in _MODULES:
                importlib.import_module(f"leanfilter.cli.{_MODULES[cmd_name]}")
            elif plugin := _plugins().get(cmd_name):
                self.add_command(plugin.load(), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leanfilter")
def main() -> None:
    """Verify machine-generated proofs (Lean 4, Coq) at scale, and measure the verified target."""
