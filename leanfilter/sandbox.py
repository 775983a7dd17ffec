"""Prover processes treated as hostile: confined, time-bounded, killed as a whole.

Every prover runs through `leanfilter._jail` (see its docstring for the isolation it sets up).
`JailedProcess` is the one way the backends talk to a prover: write text, read until a pattern
or a deadline, measure memory, kill.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from pydantic import BaseModel, Field

from leanfilter._jail import EXIT_CANNOT_START
from leanfilter.backends.base import ProverCrashed, ProverError, ProverTimeout

_READ_CHUNK = 1 << 16
_WINDOW = 1 << 16  # the longest text a read_until pattern may need to match
_REAP_TIMEOUT = 5.0
_TREE_TTL = 5.0
_JAIL = Path(__file__).with_name("_jail.py")
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM")


class ProverOutputTooLarge(ProverCrashed):
    """The prover wrote more than `output_mb` for one request; it has been killed."""


class ProverCannotStart(ProverError):
    """The jail could not start the prover at all (a limit this machine will not grant, a
    binary that cannot run): a fault of the environment, not of any candidate."""


class SandboxConfig(BaseModel):
    """Limits for one prover process tree. None means no limit of that kind."""

    memory_mb: int | None = Field(default=4096, description="address space (RLIMIT_AS)")
    cpu_s: int | None = Field(default=None, description="CPU seconds over the process's life")
    nofile: int = 1024
    nproc: int | None = Field(default=512, description="processes and threads of the jail's uid")
    fsize_mb: int | None = Field(default=64, description="largest file the prover may write")
    tmpfs_mb: int = Field(default=256, description="size of its private working directory")
    output_mb: int = Field(default=64, description="most output read back for one request")
    network: bool = Field(default=False, description="allow network access")
    uid_base: int = Field(
        default=61000, description="unprivileged uid = uid_base + slot (when root)"
    )
    drop_uid: bool = Field(
        default=True, description="when root, run the prover under its own unprivileged uid"
    )
    strict: bool = Field(
        default=False, description="refuse to run where isolation cannot be set up"
    )
    env: dict[str, str] = Field(default_factory=dict, description="extra environment variables")


class JailedProcess:
    """One confined prover process, driven over pipes."""

    def __init__(
        self, argv: list[str], config: SandboxConfig, slot: int = 0, *, merge_stderr: bool = True
    ) -> None:
        self.config = config
        self.workdir = tempfile.mkdtemp(prefix="leanfilter-")
        os.chmod(self.workdir, 0o755)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            _launcher_argv(argv, config, slot, self.workdir, report=False),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else self._stderr,
            start_new_session=True,
        )
        self._fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = _Chunks()
        self._tree_cache: list[psutil.Process] = []
        self._tree_at = -_TREE_TTL
        self._words = ""

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def write(self, text: str) -> None:
        try:
            self.proc.stdin.write(text.encode())  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError) as e:
            raise self._die(ProverCrashed(f"prover stopped reading its input ({e})")) from e

    def read_until(self, pattern: re.Pattern[str], deadline: float) -> tuple[str, re.Match[str]]:
        """Read until `pattern` matches; return the text up to the match's end, and the match.

        Text after the match stays buffered for the next read. A match must fit in the last
        `_WINDOW` characters read, so each chunk is searched once: reading is linear in the output.
        """
        searched = 0
        while True:
            window = max(0, searched - _WINDOW)
            match = pattern.search(self._buffer.tail(window), 0)
            if match:
                whole = self._buffer.take()
                match = pattern.search(whole, window)
                assert match is not None
                text, rest = whole[: match.end()], whole[match.end() :]
                self._buffer.put(rest)
                return text, match
            searched = len(self._buffer)
            if not self._fill(deadline):
                raise self._die(ProverCrashed("prover exited"))

    def close_input(self) -> None:
        """End the prover's input, for one-shot provers that read it whole (`lean --stdin`)."""
        with _gone():
            self.proc.stdin.close()  # type: ignore[union-attr]

    def read_to_end(self, deadline: float) -> str:
        """Everything the prover writes until it closes its output (one-shot provers)."""
        while self._fill(deadline):
            pass
        return self._buffer.take() + self._decoder.decode(b"", final=True)

    def _fill(self, deadline: float) -> bool:
        """Wait for output and buffer it; False once the prover has closed its output."""
        limit = self.config.output_mb * 1024 * 1024
        while True:
            if len(self._buffer) > limit:
                raise self._die(ProverOutputTooLarge(f"output exceeded {self.config.output_mb} MB"))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._die(ProverTimeout("deadline passed"))
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if ready:
                break
        chunk = os.read(self._fd, _READ_CHUNK)
        self._buffer.put(self._decoder.decode(chunk))
        return bool(chunk)

    def _die(self, error: ProverCrashed | ProverTimeout) -> ProverError:
        """Kill the tree; the error to raise, with the last words the prover wrote, or
        `ProverCannotStart` if the jail never started the prover."""
        tail = self._tail()
        self.kill()
        if self.proc.returncode == EXIT_CANNOT_START:
            return ProverCannotStart(tail.removeprefix(": ") or "the prover cannot start")
        return type(error)(f"{error}{tail}")

    def rss_mb(self) -> float:
        return sum(p.memory_info().rss for p in self._tree()) / 2**20

    def peak_rss_mb(self) -> float | None:
        """Largest resident size any process of the tree has had (VmHWM)."""
        peaks = []
        for p in self._tree():
            try:
                status = Path(f"/proc/{p.pid}/status").read_text()
            except OSError:
                continue
            m = re.search(r"VmHWM:\s+(\d+) kB", status)
            if m:
                peaks.append(int(m.group(1)) / 1024)
        return max(peaks, default=None)

    def abort(self) -> None:
        """Kill the prover now, from any thread. Whoever is reading gets ProverCrashed and then
        calls kill(), which reaps and closes."""
        self._tree_at = -_TREE_TTL  # a fresh look: the prover may have started since
        with _gone():
            for p in self._tree()[1:]:
                p.kill()
        with _gone():  # and the launcher's group, for a prover not forked yet (no tree to kill)
            os.killpg(self.proc.pid, signal.SIGKILL)

    def kill(self) -> None:
        """Kill the whole tree and reap it, so no process of the jail's uid outlives this call.

        The prover dies first and the launcher reaps it (with a PID namespace, the prover's
        death takes every process it started); the launcher then exits and is reaped here.
        """
        if self.proc.returncode is None:
            self._tree_at = -_TREE_TTL  # a fresh look: the prover may have started processes
            rest = self._tree()[1:]  # everything below the launcher
            for p in rest:
                with _gone():
                    p.kill()
            try:
                self.proc.wait(timeout=_REAP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with _gone():
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            psutil.wait_procs(rest, timeout=_REAP_TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout):
            with _gone():
                stream.close()  # type: ignore[union-attr]
        self._words = self.last_words()
        self._stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _tree(self) -> list[psutil.Process]:
        """The launcher and its descendants; looked up again at most every few seconds, since
        finding children means reading every process on the machine."""
        now = time.monotonic()
        if now - self._tree_at > _TREE_TTL or not all(p.is_running() for p in self._tree_cache):
            try:
                root = psutil.Process(self.proc.pid)
                self._tree_cache = [root, *root.children(recursive=True)]
            except psutil.Error:
                self._tree_cache = []
            self._tree_at = now
        return self._tree_cache

    def last_words(self) -> str:
        """The end of what the prover wrote to stderr; kept after it is killed.

        Runtimes say why they die there (Lean: "INTERNAL PANIC: out of memory").
        """
        if self._stderr.closed:
            return self._words
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 2000))
            return self._stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def _tail(self) -> str:
        tail = self.last_words() or self._buffer.tail(len(self._buffer) - 2000).strip()
        return f": {tail}" if tail else ""


class _Chunks:
    """Output read but not yet consumed: appended in chunks and joined once, when taken, so a
    flood costs linear time (adding to one growing string would copy it at every chunk)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def put(self, text: str) -> None:
        if text:
            self._parts.append(text)
            self._size += len(text)

    def take(self) -> str:
        whole = "".join(self._parts)
        self._parts, self._size = [], 0
        return whole

    def tail(self, start: int) -> str:
        """The text from offset `start` on (0 or less: all of it)."""
        out: list[str] = []
        size = self._size
        for part in reversed(self._parts):
            if size <= max(start, 0):
                break
            size -= len(part)
            out.append(part)
        text = "".join(reversed(out))
        return text[max(start, 0) - size :]


def _gone() -> contextlib.suppress:
    """For signals and closes racing a process that has already ended."""
    return contextlib.suppress(ProcessLookupError, psutil.Error, OSError)


def _launcher_argv(
    argv: list[str], config: SandboxConfig, slot: int, workdir: str, *, report: bool
) -> list[str]:
    env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
    env.update(config.env)
    cfg = {
        "network": config.network,
        "strict": config.strict,
        "workdir": workdir,
        "tmpfs_mb": config.tmpfs_mb,
        "uid": config.uid_base + slot if config.drop_uid else None,
        "memory_mb": config.memory_mb,
        "cpu_s": config.cpu_s,
        "nofile": config.nofile,
        "nproc": config.nproc,
        "fsize_mb": config.fsize_mb,
        "env": env,
        "report": report,
    }
    return [sys.executable, "-I", "-S", str(_JAIL), json.dumps(cfg), "--", *argv]


@functools.cache
def isolation_report() -> dict[str, object]:
    """What the jail achieves on this machine: namespaces, network, read-only filesystem, uid."""
    workdir = tempfile.mkdtemp(prefix="leanfilter-probe-")
    try:
        out = subprocess.run(
            _launcher_argv(["true"], SandboxConfig(), 0, workdir, report=True),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError, subprocess.TimeoutExpired):
        return {"namespaces": False, "network_isolated": False, "filesystem_readonly": False}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
