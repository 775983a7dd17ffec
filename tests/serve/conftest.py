"""A real `leanfilter serve` process on a loopback port, with real Coq behind it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

API_KEY = "test-key"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    db: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path, *extra: str) -> Server:
    port = free_port()
    db = tmp / "proofs.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "leanfilter", "serve", "--port", str(port), "--workers", "2",
         "--db", str(db), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.communicate()[1]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Server(url=url, process=process, db=db)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not come up in 60 s")


def stop_server(server: Server) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("serve"), "--api-key", API_KEY, "--backend", "coq"
    )
    yield running
    stop_server(running)


def coq_line(name: str, statement: str, proof: str) -> dict[str, str]:
    return {"name": name, "header": "", "formal_statement": statement, "proof": proof}
