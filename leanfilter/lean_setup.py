"""Install Lean the standard way for leanfilter: elan, the pinned toolchain, Mathlib, the REPL.

Each step is an ordinary command a person would type, printed before it runs, so a failed setup
can be finished by hand. Offline, setup stops before the first download with one line that says
why: half-installed toolchains are worse than none.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from leanfilter.backends.base import ProverUnavailable
from leanfilter.backends.lean_common import LeanSettings, default_elan_home, locate_toolchain

ELAN_INSTALLER = "https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh"
DOWNLOAD_HOSTS = ("github.com", "raw.githubusercontent.com")


class SetupError(Exception):
    """Setup cannot go on; the message is one line that says why and what to do."""


class SetupStep(BaseModel):
    title: str
    argv: list[str]
    cwd: Path | None = None

    def describe(self) -> str:
        where = f"(in {self.cwd}) " if self.cwd else ""
        return f"{self.title}: {where}{' '.join(self.argv)}"


def plan(project: Path, elan_home: Path) -> list[SetupStep]:
    """The steps still needed for `project`; elan is installed only when it is missing."""
    toolchain = (project / "lean-toolchain").read_text().strip()
    steps = []
    if not (elan_home / "bin" / "elan").is_file():
        installer = (
            f"curl -sSfL {ELAN_INSTALLER} | sh -s -- -y --default-toolchain none --no-modify-path"
        )
        steps.append(SetupStep(title="install elan", argv=["sh", "-c", installer]))
    elan, lake = str(elan_home / "bin" / "elan"), str(elan_home / "bin" / "lake")
    steps += [
        SetupStep(title="install the pinned Lean", argv=[elan, "toolchain", "install", toolchain]),
        SetupStep(
            title="fetch Mathlib and its prebuilt cache",
            argv=[lake, "exe", "cache", "get"],
            cwd=project,
        ),
        SetupStep(title="build the REPL", argv=[lake, "build", "repl"], cwd=project),
    ]
    return steps


def require_network(hosts: tuple[str, ...] = DOWNLOAD_HOSTS, timeout: float = 10.0) -> None:
    for host in hosts:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
        except OSError as e:
            raise SetupError(
                f"cannot reach {host} ({e.strerror or e}); `leanfilter setup` downloads elan, "
                "Lean, Mathlib and the REPL and needs network access to GitHub"
            ) from e


def install(
    project: Path | None = None,
    *,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
) -> str | None:
    """Run (or, with `dry_run`, print) the setup steps; returns the installed toolchain."""
    settings = LeanSettings(
        elan_home=default_elan_home(), **({"project": project} if project else {})
    )
    steps = plan(settings.project.resolve(), settings.elan_home)
    for number, step in enumerate(steps, start=1):
        echo(f"[{number}/{len(steps)}] {step.describe()}")
    if dry_run:
        return None
    if any(step.title == "install elan" for step in steps) and shutil.which("curl") is None:
        raise SetupError("installing elan needs curl: apt-get install -y curl")
    require_network()
    env = {
        **os.environ,
        "ELAN_HOME": str(settings.elan_home),
        "PATH": f"{settings.elan_home / 'bin'}:{os.environ.get('PATH', '')}",
    }
    for number, step in enumerate(steps, start=1):
        echo(f"running [{number}/{len(steps)}] {step.title}")
        done = subprocess.run(step.argv, cwd=step.cwd, env=env, check=False)
        if done.returncode != 0:
            raise SetupError(f"step {number} ({step.title}) failed with code {done.returncode}")
    try:
        description = locate_toolchain(settings)
    except ProverUnavailable as e:
        raise SetupError(f"setup finished but Lean is still not usable: {e}") from e
    echo(f"Lean is ready: {description.description}")
    return description.description
