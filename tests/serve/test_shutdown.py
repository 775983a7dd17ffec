"""SIGTERM while a request is in flight: every accepted candidate is answered, then it exits."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import coq_line, start_server

pytestmark = [pytest.mark.coq, pytest.mark.slow]


def slow(n: int) -> dict[str, str]:
    """About a second of the kernel's unary arithmetic each."""
    return coq_line(f"slow{n}", f"Theorem slow{n} : Nat.pow 2 15 + {n} = {32768 + n}.",
                    "Proof. reflexivity. Qed.")  # fmt: skip


def test_sigterm_drains_accepted_work(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--backend", "coq")
    candidates = [slow(n) for n in range(4)]
    lines: list[dict] = []
    first = threading.Event()

    def client() -> None:
        with httpx.stream(
            "POST", f"{server.url}/v1/verify?stream=true", json={"candidates": candidates},
            timeout=120,
        ) as reply:  # fmt: skip
            for line in reply.iter_lines():
                if line:
                    lines.append(json.loads(line))
                    first.set()

    thread = threading.Thread(target=client)
    thread.start()
    assert first.wait(60), "no verdict streamed"
    server.process.send_signal(signal.SIGTERM)
    thread.join(120)
    assert server.process.wait(timeout=60) == 0
    assert [x["name"] for x in lines] == [c["name"] for c in candidates]
    assert {x["status"] for x in lines} == {"proved"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health", timeout=2)
    with sqlite3.connect(server.db) as db:  # the run was closed, its verdicts all recorded
        assert db.execute("select ended from runs").fetchone()[0] is not None
        assert db.execute("select count(*) from verdicts").fetchone()[0] == len(candidates)
