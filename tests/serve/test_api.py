"""Our own API over real Coq: three input forms, JSON and JSON lines, stored verdicts, limits."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import API_KEY, Server, coq_line, start_server, stop_server

pytestmark = pytest.mark.coq

AUTH = {"Authorization": f"Bearer {API_KEY}"}
GOOD = coq_line("two", "Theorem two : 1 + 1 = 2.", "Proof. reflexivity. Qed.")
WRONG = coq_line("three", "Theorem three : 1 + 1 = 3.", "Proof. reflexivity. Qed.")
WHOLE = {"name": "four", "code": "Theorem four : 2 + 2 = 4.\nProof. reflexivity. Qed."}


def post(server: Server, body: object, headers: dict[str, str] = AUTH) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/verify", json=body, headers=headers, timeout=120)


def test_json_verdicts_in_input_order_and_stored_by_key(server: Server) -> None:
    reply = post(server, {"candidates": [GOOD, WRONG, WHOLE, {"name": "bad"}]})
    assert reply.status_code == 200, reply.text
    verdicts = reply.json()["verdicts"]
    assert [v["name"] for v in verdicts] == ["two", "three", "four", "bad"]
    assert [v["status"] for v in verdicts] == ["proved", "failed", "proved", "error"]
    assert verdicts[3]["reason"] == "input.invalid"
    stored = httpx.get(f"{server.url}/v1/verdicts/{verdicts[0]['key']}", headers=AUTH)
    assert stored.status_code == 200
    assert stored.json()["status"] == "proved"
    assert httpx.get(f"{server.url}/v1/verdicts/nope", headers=AUTH).status_code == 404
    again = post(server, {"candidates": [GOOD]}).json()["verdicts"][0]
    assert again["cached"] is True
    with sqlite3.connect(server.db) as db:  # the proof database recorded what was served
        assert db.execute("select count(*) from runs").fetchone()[0] == 1


def test_json_lines_in_and_streamed_out(server: Server) -> None:
    body = "\n".join(json.dumps(x) for x in [WRONG, GOOD]) + "\n"
    headers = {**AUTH, "Content-Type": "application/x-ndjson", "Accept": "application/x-ndjson"}
    with httpx.stream(
        "POST", f"{server.url}/v1/verify", content=body, headers=headers, timeout=120
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    assert [(x["index"], x["name"], x["status"]) for x in lines] == [
        (0, "three", "failed"),
        (1, "two", "proved"),
    ]


def test_refusals_name_their_limit(server: Server) -> None:
    assert post(server, {"candidates": [GOOD]}, headers={}).status_code == 401
    assert httpx.get(f"{server.url}/health").status_code == 200  # health needs no key
    bad = httpx.post(f"{server.url}/v1/verify", content=b"{", headers=AUTH)
    assert bad.status_code == 422
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'leanfilter_verdicts_total{status="proved"}' in metrics
    assert "leanfilter_queue_depth" in metrics


def test_limits_and_problems_form(tmp_path: Path) -> None:
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        json.dumps({"name": "five", "statement": "Theorem five : 2 + 3 = 5.", "backend": "coq"})
        + "\n"
    )
    small = start_server(
        tmp_path, "--problems", str(problems), "--max-queue", "2", "--max-candidates", "3",
        "--max-body-bytes", "2000",
    )  # fmt: skip
    try:
        url = f"{small.url}/v1/verify"
        ok = httpx.post(url, json={"candidates": [{"name": "five", "proof": "reflexivity."}]})
        assert ok.json()["verdicts"][0]["status"] == "proved", ok.text
        swapped = {"name": "five", "formal_statement": "Theorem five : True.", "proof": "exact I."}
        refused = httpx.post(url, json={"candidates": [swapped]}).json()["verdicts"][0]
        assert (refused["status"], refused["reason"]) == ("rejected", "input.untrusted")
        full = httpx.post(url, json={"candidates": [GOOD, WRONG, WHOLE]})
        assert full.status_code == 429 and "max_queue=2" in full.text
        many = httpx.post(url, json={"candidates": [GOOD] * 4})
        assert many.status_code == 413 and "max_candidates=3" in many.text
        big = httpx.post(url, json={"candidates": [{"name": "x", "code": "a" * 3000}]})
        assert big.status_code == 413 and "max_body_bytes=2000" in big.text
    finally:
        assert stop_server(small) == 0
