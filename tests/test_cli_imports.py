"""Each command imports what it needs when it runs: `verify` never pays for plotting (at a
tight memory cap, that import was the traceback)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

HEAVY = ("matplotlib",)  # what only `stats` plots with


@pytest.mark.parametrize("command", ["verify", "db"])
def test_a_command_that_does_not_plot_does_not_import_plotting(command: str) -> None:
    probe = (
        "import sys\n"
        "from leanfilter.cli import main\n"
        f"main.get_command(None, {command!r})\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"


def test_help_still_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "leanfilter", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    listed = {
        line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()
    }
    plugins = {entry.name for entry in entry_points(group="leanfilter.commands")}
    assert listed == {"db", "serve", "setup", "stats", "verify"} | plugins
