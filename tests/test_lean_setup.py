"""`leanfilter setup`: its plan, its dry run, and its refusal to start offline (for real)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from lean_replay.world import transcripts_dir

from leanfilter.cli import main
from leanfilter.lean_setup import DOWNLOAD_HOSTS, plan

PROJECT = Path(__file__).resolve().parents[1] / "lean_project"


def online() -> bool:
    try:
        socket.create_connection((DOWNLOAD_HOSTS[0], 443), timeout=5).close()
    except OSError:
        return False
    return True


def test_the_project_pins_one_consistent_lean_mathlib_repl_triple():
    toolchain = (PROJECT / "lean-toolchain").read_text().strip()
    version = toolchain.split(":v")[1]
    lakefile = (PROJECT / "lakefile.toml").read_text()  # no tomllib before Python 3.11
    pattern = r'\[\[require\]\]\s+name = "(\w+)"\s+git = "[^"]+"\s+rev = "([^"]+)"'
    requires = {name: {"rev": rev} for name, rev in re.findall(pattern, lakefile)}
    assert requires["mathlib"]["rev"] == f"v{version}"
    assert re.fullmatch(r"[0-9a-f]{40}", requires["REPL"]["rev"])
    recorded = transcripts_dir() / "lean-toolchain.txt"
    if recorded.is_file():  # the replay transcripts come from the pinned REPL and toolchain
        assert recorded.read_text().strip() == toolchain
        assert requires["REPL"]["rev"].startswith("8948401")


def test_the_plan_installs_elan_only_when_missing(tmp_path):
    with_elan = tmp_path / "elan"
    (with_elan / "bin").mkdir(parents=True)
    titles = [step.title for step in plan(PROJECT, tmp_path / "none")]
    assert titles[0] == "install elan" and titles[-1] == "build the REPL"
    (with_elan / "bin" / "elan").write_text("")
    assert [step.title for step in plan(PROJECT, with_elan)] == titles[1:]
    toolchain = (PROJECT / "lean-toolchain").read_text().strip()
    assert plan(PROJECT, with_elan)[0].argv[-1] == toolchain


def test_dry_run_prints_every_step_and_runs_none(tmp_path, monkeypatch):
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "elan"))
    result = CliRunner().invoke(main, ["setup", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split("]")[0] for line in lines] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert "lake build repl" in lines[-1]
    assert not (tmp_path / "elan").exists()


@pytest.mark.skipif(online(), reason="the download hosts are reachable from here")
def test_offline_setup_stops_with_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "elan"))
    result = CliRunner().invoke(main, ["setup"])
    assert result.exit_code == 1
    [error] = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert "cannot reach github.com" in error and "network access" in error
    assert not (tmp_path / "elan").exists()
