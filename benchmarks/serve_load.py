"""`leanfilter serve` under load against `leanfilter verify` on the same candidates, in one run.

    python3 benchmarks/serve_load.py [--count 200] [--workers 2] [--clients 1 8 64]
        [--ray-actors 1 2] [--ray-clients 8]

COUNT distinct cheap Coq candidates (one in four wrong), so that what serving costs shows beside
the prover's work: checked once by the CLI and once per client count by a fresh server (memory
cache, so nothing is answered from an earlier round), both with WORKERS provers and both timed
from a cold prover pool. Each client sends one
candidate per request over loopback, taking the next unsent one, until all are sent. Prints
throughput, per-request p50/p99 latency, the ratio to the CLI, and checks that every candidate is
answered exactly once and with the CLI's status.

With the ray extra, the same load at `--ray-clients` clients against `serve --ray local` (a Ray
cluster on this machine, loopback only) with each count of `--ray-actors`, the WORKERS provers
shared out among the actors. Every server row says how much CPU the server process (for Ray:
the driver, which keys, caches, judges and records) spent per candidate. Then, for what a large
cluster would ask of its driver: proof-database writes per second (one durable write per
verdict), and the bytes a check costs on the wire (its request and raw result, pickled).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
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
import psutil

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


def start_server(workers: int, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [*LEANFILTER, "serve", "--port", str(port), "--workers", str(workers), *extra],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
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


def served(records: list[dict], expected: list[str], clients: int, workers: int, *extra: str,
           label: str, cli_s: float) -> None:  # fmt: skip
    """One server, `clients` clients, one printed row."""
    process, url = start_server(workers, *extra)
    try:
        server = psutil.Process(process.pid)
        cpu_before = sum(server.cpu_times()[:2])
        seconds, latencies, answers = asyncio.run(load(url, records, clients))
        cpu = sum(server.cpu_times()[:2]) - cpu_before
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(120)
    n = len(records)
    per_index = Counter(index for index, _, _ in answers)
    lost = n - len(per_index)
    twice = sum(1 for c in per_index.values() if c > 1)
    differ = sum(1 for i, name, status in answers if status != expected[i] or
                 name != records[i]["name"])  # fmt: skip
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else p50
    print(
        f"  {label}, {clients:2d} clients: {seconds:6.1f} s  {n / seconds:6.1f} proofs/s  "
        f"p50 {p50 * 1000:6.0f} ms  p99 {p99 * 1000:6.0f} ms  "
        f"throughput vs CLI {cli_s / seconds:4.2f}x  lost {lost}  twice {twice}  "
        f"status differs {differ}  server CPU {cpu / n * 1000:4.1f} ms/candidate"
    )


def database_writes(count: int, tmp: Path) -> float:
    """Verdicts recorded per second, each durable when `record` returns, as the driver does."""
    from leanfilter.db import ProofDB
    from leanfilter.records import BackendName, Candidate, Status, Verdict

    with ProofDB(tmp / "writes.db") as db:
        run = db.start_run("benchmark", {})
        started = time.perf_counter()
        for i, record in enumerate(candidate(i) for i in range(count)):
            name = record["name"]
            db.record(
                Candidate(name=name, backend=BackendName.COQ, header=record["header"],
                          statement=record["formal_statement"], proof=record["proof"]),
                Verdict(name=name, status=Status.PROVED, key=f"{i:064x}"),
                run.id, sample=i,
            )  # fmt: skip
        return count / (time.perf_counter() - started)


def wire_bytes() -> int:
    """Bytes of one check's request and raw result, pickled as Ray sends them (a real check)."""
    import pickle

    from leanfilter.backends.coq import CoqBackend
    from leanfilter.pool import engine_slot
    from leanfilter.records import BackendName, Candidate

    record = candidate(0)
    backend = CoqBackend()
    request = backend.assemble(
        Candidate(name=record["name"], backend=BackendName.COQ, header=record["header"],
                  statement=record["formal_statement"], proof=record["proof"]), tag=1,
    )  # fmt: skip
    session = backend.open_session(record["header"], engine_slot(0))
    try:
        outcomes = session.check(request, 60) or session.flush(60)
    finally:
        session.close()
    return len(pickle.dumps(request)) + len(pickle.dumps(outcomes[0][1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--ray-actors", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--ray-clients", type=int, default=8)
    args = parser.parse_args()
    records = [candidate(i) for i in range(args.count)]
    with tempfile.TemporaryDirectory() as tmp:
        cli_s, expected = cli(records, args.workers, Path(tmp))
        writes = database_writes(args.count, Path(tmp))
    n = len(records)
    print(f"{n} candidates, {args.workers} workers, loopback, one candidate per request")
    print(f"  leanfilter verify: {cli_s:6.1f} s  {n / cli_s:6.1f} proofs/s")
    for clients in args.clients:
        served(records, expected, clients, args.workers, label="serve", cli_s=cli_s)
    ray_actors = args.ray_actors if importlib.util.find_spec("ray") else []
    if args.ray_actors and not ray_actors:
        print("  (no Ray rows: pip install 'leanfilter[ray]')")
    for actors in ray_actors:
        each = max(1, args.workers // actors)
        served(
            records, expected, args.ray_clients, each, "--ray", "local", "--ray-actors",
            str(actors), label=f"serve --ray, {actors} actor(s) x {each} workers", cli_s=cli_s,
        )  # fmt: skip
    print(f"  proof database: {writes:.0f} verdicts recorded per second, each durable")
    print(f"  on the wire per check (request + raw result, pickled): {wire_bytes()} bytes")


if __name__ == "__main__":
    main()
