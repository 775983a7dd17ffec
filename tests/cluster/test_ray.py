"""The engine on a local Ray cluster (`ray.init(num_cpus=2)` in this process), real Coq behind it.

Verdicts and keys are a local run's; the driver records each verdict once; a prover actor killed
mid-run (a real SIGKILL) loses no candidate; and every socket Ray opens stays on loopback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from leanfilter.cluster.connect import LOCAL, connect
from leanfilter.db import ProofDB
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Verdict

if importlib.util.find_spec("ray") is None:
    pytest.skip("no ray here: pip install 'leanfilter[ray]'", allow_module_level=True)

pytestmark = [pytest.mark.coq, pytest.mark.slow]

CONFIG = VerifierConfig(pool=PoolConfig(workers=1))
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


@pytest.fixture(scope="module")
def RayVerifier() -> Iterator[type]:  # the class, imported once Ray is up
    connect(LOCAL, num_cpus=2)  # before Ray is first imported: it keeps Ray on loopback
    import ray

    from leanfilter.cluster.verifier import RayVerifier

    yield RayVerifier
    ray.shutdown()


def coq(name: str, statement: str, proof: str = "Proof. reflexivity. Qed.") -> Candidate:
    return Candidate(
        name=name, backend=BackendName.COQ, header="", statement=f"Theorem {name} : {statement}.",
        proof=proof,
    )  # fmt: skip


MIXED = [
    coq("two", "1 + 1 = 2"),
    coq("three", "1 + 1 = 3"),
    coq("gave_up", "2 + 2 = 4", "Proof. admit. Admitted."),
    coq("lemma_free", "forall n : nat, n + 0 = n", "Proof. intros n. lia. Qed."),
    coq("two", "1 + 1 = 2"),  # a repeat: shared, or answered from the cache
]


def comparable(verdict: Verdict) -> dict:
    return verdict.model_dump(exclude={"time_s", "peak_rss_mb", "cached"})


def recorded(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as c:
        return c.execute("select sample, status from verdicts order by sample").fetchall()


def test_verdicts_keys_and_records_are_a_local_runs(RayVerifier, tmp_path: Path) -> None:
    with ProofDB(tmp_path / "local.db") as db, Verifier(CONFIG, cache=db, recorder=db) as local:
        expected = local.verify_all(MIXED)
    with (
        ProofDB(tmp_path / "ray.db") as db,
        RayVerifier(CONFIG, actors=2, cache=db, recorder=db) as spread,
    ):
        got = spread.verify_all(MIXED)
        again = spread.verify_all(MIXED[:2])
    assert [comparable(v) for v in got] == [comparable(v) for v in expected]
    assert all(v.key for v in got)  # the engine's keys, computed on the driver
    assert [v.status.value for v in got] == ["proved", "failed", "rejected", "failed", "proved"]
    assert [v.cached for v in again] == [True, True]
    rows = recorded(tmp_path / "ray.db")
    assert [sample for sample, _ in rows] == list(range(1, len(MIXED) + 3))  # each once
    assert rows[: len(MIXED)] == recorded(tmp_path / "local.db")


def test_an_actor_killed_mid_run_loses_no_candidate(RayVerifier, tmp_path: Path) -> None:
    import ray

    # About half a second of the kernel's unary arithmetic each, distinct keys.
    slow = [coq(f"slow{n}", f"Nat.pow 2 14 + {n} = {16384 + n}") for n in range(10)]
    with (
        ProofDB(tmp_path / "ray.db") as db,
        RayVerifier(CONFIG, actors=2, cache=db, recorder=db) as spread,
    ):
        futures = [spread.submit(c) for c in slow]
        victim = ray.get(spread.fleet.actors[1].pid.remote())  # it is up, its provers busy
        time.sleep(1)  # into its first proofs (answers come in batches, seconds from now)
        assert spread.fleet.busy[1] > 0  # it dies holding checks
        os.kill(victim, signal.SIGKILL)
        verdicts = [f.result(timeout=300) for f in futures]
        restarted = ray.get(spread.fleet.actors[1].pid.remote())
    assert restarted != victim  # Ray started the actor again
    assert [v.name for v in verdicts] == [c.name for c in slow]
    assert {v.status.value for v in verdicts} == {"proved"}
    assert [sample for sample, _ in recorded(tmp_path / "ray.db")] == list(range(1, 11))


def test_every_socket_of_the_cluster_is_on_loopback(RayVerifier) -> None:
    with RayVerifier(CONFIG, actors=1) as spread:
        assert spread.verify_all([coq("two", "1 + 1 = 2")])[0].status.value == "proved"
        me = psutil.Process()
        sockets = []
        for process in [me, *me.children(recursive=True)]:
            try:
                sockets += process.net_connections(kind="inet")
            except psutil.NoSuchProcess:
                continue
    assert sockets, "no socket seen: the check would prove nothing"
    ends = {c.laddr.ip for c in sockets} | {c.raddr.ip for c in sockets if c.raddr}
    assert ends <= LOOPBACK, f"Ray used addresses beyond loopback: {ends - LOOPBACK}"


def ray_sessions() -> set[Path]:
    """Ray's session folders: each cluster started on this machine adds one."""
    return set(Path(tempfile.gettempdir(), "ray").glob("session_2*"))


def test_verify_on_ray_writes_a_local_runs_verdicts(tmp_path: Path) -> None:
    """`leanfilter verify --ray local` in its own process, against the same file checked here."""
    source = tmp_path / "in.jsonl"
    lines = [
        {"name": c.name, "header": c.header, "formal_statement": c.statement, "proof": c.proof}
        for c in MIXED
    ]
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    outputs, started = {}, {}
    for label, extra in (("local", []), ("ray", ["--ray", "local", "--ray-actors", "2"])):
        before = ray_sessions()
        out = tmp_path / f"{label}.jsonl"
        subprocess.run(
            [sys.executable, "-m", "leanfilter", "verify", str(source), "-o", str(out),
             "--workers", "1", "--backend", "coq", "--db", str(tmp_path / f"{label}.db"), *extra],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        started[label] = len(ray_sessions() - before)
        outputs[label] = [
            {k: v for k, v in json.loads(x).items() if k not in {"time_s", "peak_rss_mb", "cached"}}
            for x in out.read_text().splitlines()
        ]
    assert started == {"local": 0, "ray": 1}  # the ray run did start a cluster of its own
    assert outputs["ray"] == outputs["local"]
    statuses = [v["status"] for v in outputs["ray"]]
    assert statuses == ["proved", "failed", "rejected", "failed", "proved"]
    assert recorded(tmp_path / "ray.db") == recorded(tmp_path / "local.db")
