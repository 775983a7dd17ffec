"""The jail holds against a prover that misbehaves on purpose (tests/doubles/hostile_prover.py)."""

from __future__ import annotations

import re
import shutil
import socket
import sys
import time
from pathlib import Path

import psutil
import pytest
from doubles.readable import jail_readable

from leanfilter.backends.base import ProverCrashed, ProverTimeout
from leanfilter.sandbox import JailedProcess, SandboxConfig, isolation_report

HOSTILE = jail_readable(Path(__file__).parent / "doubles" / "hostile_prover.py")
# The jail drops to an unprivileged uid that cannot read a Python installed under /root.
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
ISOLATED = isolation_report()
needs_namespaces = pytest.mark.skipif(
    not ISOLATED.get("namespaces"), reason=f"the kernel refuses namespaces here: {ISOLATED}"
)


def run(mode: str, *args: str, config: SandboxConfig | None = None, slot: int = 3) -> str:
    proc = JailedProcess([PYTHON, str(HOSTILE), mode, *args], config or SandboxConfig(), slot)
    try:
        proc.write("go\n")
        out, _ = proc.read_until(
            re.compile(r"(WROTE|BLOCKED|CONNECTED|SPAWNED|FILLED).*\n"), time.monotonic() + 30
        )
        return out.strip().splitlines()[-1]
    finally:
        proc.kill()


@needs_namespaces
def test_cannot_write_outside_its_work_directory(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    tmp_path.chmod(0o777)  # even a world-writable folder is out of reach
    assert run("write", str(target)).startswith("BLOCKED")
    assert not target.exists()
    assert run("write", "/tmp/leanfilter-escape.txt").startswith("BLOCKED")


def test_can_write_inside_its_work_directory() -> None:
    assert run("write-workdir").startswith("WROTE")


@needs_namespaces
def test_no_network() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.5)
        answer = run("network", str(server.getsockname()[1]))
        with pytest.raises(TimeoutError):
            server.accept()
    assert answer.startswith("BLOCKED")


def test_cannot_start_a_process_when_limited_to_one() -> None:
    assert run("spawn", config=SandboxConfig(nproc=1)).startswith("BLOCKED")


def test_memory_is_capped() -> None:
    answer = run("memory", config=SandboxConfig(memory_mb=512))
    assert answer.startswith("BLOCKED MemoryError")
    assert int(answer.split()[-2]) < 512


@needs_namespaces
def test_disk_is_capped() -> None:
    answer = run("disk", config=SandboxConfig(tmpfs_mb=32, fsize_mb=None))
    assert answer.startswith("BLOCKED")
    assert int(answer.split()[-2]) <= 32


def test_file_size_is_capped() -> None:
    answer = run("disk", config=SandboxConfig(fsize_mb=8, tmpfs_mb=64))
    assert answer.startswith("BLOCKED")


def test_timeout_kills_the_prover() -> None:
    proc = JailedProcess([PYTHON, str(HOSTILE), "hang"], SandboxConfig(), 4)
    proc.write("go\n")
    proc.read_until(re.compile("HANGING"), time.monotonic() + 30)
    with pytest.raises(ProverTimeout):
        proc.read_until(re.compile("never"), time.monotonic() + 0.5)
    assert not proc.alive


def test_an_abort_before_the_prover_has_started_still_stops_it() -> None:
    # aborted at once: the launcher has not forked the prover yet, so there is no tree to kill
    proc = JailedProcess(["sleep", "600"], SandboxConfig(), 4)
    proc.abort()
    with pytest.raises(ProverCrashed):
        proc.read_until(re.compile("never"), time.monotonic() + 30)
    assert not proc.alive


def test_output_flood_is_cut_off() -> None:
    proc = JailedProcess([PYTHON, str(HOSTILE), "flood"], SandboxConfig(output_mb=2), 4)
    proc.write("go\n")
    with pytest.raises(ProverCrashed, match="exceeded"):
        proc.read_until(re.compile("never"), time.monotonic() + 30)
    assert not proc.alive


@needs_namespaces
def test_kill_takes_the_whole_tree_even_a_daemon() -> None:
    slot = 9
    uid = SandboxConfig().uid_base + slot
    proc = JailedProcess([PYTHON, str(HOSTILE), "daemon"], SandboxConfig(nproc=8), slot)
    proc.write("go\n")
    proc.read_until(
        re.compile(r"DAEMON.*\n(.|\n)*PARENT|PARENT(.|\n)*DAEMON"), time.monotonic() + 30
    )
    if not ISOLATED.get("uid"):
        pytest.skip("the jail runs provers under their own uid only when started as root")
    assert _processes_of(uid), "the double and its daemon should be running"
    proc.kill()
    deadline = time.monotonic() + 5
    while _processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes_of(uid)


def _processes_of(uid: int) -> list[int]:
    found = []
    for p in psutil.process_iter(["uids"]):
        uids = p.info["uids"]
        if uids is not None and uids.real == uid:
            found.append(p.pid)
    return found


def test_environment_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEANFILTER_SECRET_TOKEN", "hunter2")
    proc = JailedProcess(["sh", "-c", "read x; env; echo END"], SandboxConfig(), 5)
    try:
        proc.write("go\n")
        out, _ = proc.read_until(re.compile("END"), time.monotonic() + 30)
    finally:
        proc.kill()
    assert "hunter2" not in out
    assert "PATH=" in out
