"""`leanfilter serve` under load against `leanfilter verify` on the same candidates, in one run.

    python3 benchmarks/serve_load.py [--count 200] [--workers 2] [--clients 1 8 64]

COUNT distinct cheap Coq candidates (one in four wrong), so that what serving costs shows beside
the prover's work: checked once by the CLI and once per client count by a fresh server (memory
cache, so nothing is answered from an earlier round), both with WORKERS provers and both timed
from a cold prover pool. Each client sends one
candidate per request over loopback, taking the next unsent one, until all are sent. Prints
throughput, per-request p50/p99 latency, the ratio to the CLI, and checks that every candidate is
answered exactly once and with the CLI's status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
LEANFILTER = [sys.executable, "-m", "leanfilter"]


def candidate(i: int) -> dict[str, str]:
    answer = 2 * i + (1 if i % 4 == 3 else 0)  # every fourth one is wrong
    return {
        "name": f"double_{i}",
        "header": "Require Import Arith.\n",
        "formal_statement": f"Theorem double_{i} : {i} + {i} = {answer}.",
        "proof": "Proof. reflexivity. Qed.",
    }


def cli(records: list[dict], workers: int, tmp: Path) -> tuple[float, list[str]]:
    source, out = tmp / "candidates.jsonl", tmp / "verdicts.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    started = time.perf_counter()
    subprocess.run(
        [*LEANFILTER, "verify", str(source), "--workers", str(workers), "--no-progress", "-o",
         str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return seconds, [json.loads(x)["status"] for x in out.read_text().splitlines()]


def start_server(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [*LEANFILTER, "serve", "--port", str(port), "--workers", str(workers)],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


async def load(url: str, records: list[dict], clients: int) -> tuple[float, list, list]:
    """(seconds, latencies, answers as (index, name, status)) with `clients` concurrent clients."""
    pending = iter(range(len(records)))
    latencies: list[float] = []
    answers: list[tuple[int, str, str]] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        for index in pending:
            sent = time.perf_counter()
            reply = await http.post(f"{url}/v1/verify", json={"candidates": [records[index]]})
            reply.raise_for_status()
            latencies.append(time.perf_counter() - sent)
            answers.extend((index, v["name"], v["status"]) for v in reply.json()["verdicts"])

    async with httpx.AsyncClient(timeout=600, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return time.perf_counter() - started, latencies, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    args = parser.parse_args()
    records = [candidate(i) for i in range(args.count)]
    with tempfile.TemporaryDirectory() as tmp:
        cli_s, expected = cli(records, args.workers, Path(tmp))
    n = len(records)
    print(f"{n} candidates, {args.workers} workers, loopback, one candidate per request")
    print(f"  leanfilter verify: {cli_s:6.1f} s  {n / cli_s:6.1f} proofs/s")
    for clients in args.clients:
        process, url = start_server(args.workers)
        try:
            seconds, latencies, answers = asyncio.run(load(url, records, clients))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        per_index = Counter(index for index, _, _ in answers)
        lost = n - len(per_index)
        twice = sum(1 for c in per_index.values() if c > 1)
        differ = sum(1 for i, name, status in answers if status != expected[i] or
                     name != records[i]["name"])  # fmt: skip
        p50 = statistics.median(latencies)
        p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else p50
        print(
            f"  serve, {clients:2d} clients: {seconds:6.1f} s  {n / seconds:6.1f} proofs/s  "
            f"p50 {p50 * 1000:6.0f} ms  p99 {p99 * 1000:6.0f} ms  "
            f"throughput vs CLI {cli_s / seconds:4.2f}x  lost {lost}  twice {twice}  "
            f"status differs {differ}"
        )


if __name__ == "__main__":
    main()
