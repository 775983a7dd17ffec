"""Per-request time limits: shorter than the server's on request, never longer.

Against real Coq through a real server process, and against a fault-injection double that hangs
deaf to every deadline, so only the pool's watchdog, bounded by the limit asked, can end it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from leanfilter.engine import VerifierConfig
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate
from leanfilter.serve.app import create_app
from leanfilter.serve.timeouts import TimedVerifier, TimeoutTooLong
from tests.serve.conftest import API_KEY, Server, coq_line
from tests.serve.limit_noting_prover import LimitNotingCoq

pytestmark = pytest.mark.coq

AUTH = {"Authorization": f"Bearer {API_KEY}"}
SERVER_LIMIT = 30.0
# Seconds of the kernel's unary arithmetic (about 4.5 s here, and 2^17 alone about 1 s, too close
# to the 1 s asked), far inside Coq's 60 s default; no large literal, which Coq parses slowly.
SLOW = coq_line(
    "slow", "Theorem slow : Nat.pow 2 19 - Nat.pow 2 19 = 0.", "Proof. reflexivity. Qed."
)


def test_real_coq_answers_timeout_under_the_limit_asked(server: Server) -> None:
    reply = httpx.post(
        f"{server.url}/v1/verify", json={"candidates": [SLOW], "timeout": 1}, headers=AUTH,
        timeout=120,
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    verdict = reply.json()["verdicts"][0]
    assert (verdict["status"], verdict["reason"]) == ("timeout", "prover.timeout")


def test_a_longer_limit_than_the_servers_is_refused_naming_it(server: Server) -> None:
    for url, body in [
        ("/v1/verify", {"candidates": [SLOW], "timeout": 61}),
        (
            "/api/check",
            {
                "snippets": [{"id": "slow", "code": "Theorem slow : True.\nProof. exact I. Qed."}],
                "timeout": 61,
            },
        ),
    ]:
        reply = httpx.post(f"{server.url}{url}", json=body, headers=AUTH, timeout=60)
        assert reply.status_code == 422, reply.text
        assert "over this server's limit for coq: 60 s" in reply.text
    health = httpx.get(f"{server.url}/health").json()
    assert health["queue_depth"] == 0  # nothing of a refused request was admitted


@pytest.fixture
def noting() -> Iterator[tuple[LimitNotingCoq, TimedVerifier]]:
    prover = LimitNotingCoq()
    config = VerifierConfig(timeout=SERVER_LIMIT, pool=PoolConfig(workers=1, watchdog_grace_s=0.5))
    verifier = TimedVerifier(config, backends={BackendName.COQ: prover})
    try:
        yield prover, verifier
    finally:
        prover.release()
        verifier.close()


def test_a_hanging_prover_is_given_up_at_the_limit_asked(noting) -> None:
    prover, verifier = noting
    client = TestClient(create_app(verifier, backend=BackendName.COQ))
    hang = coq_line("hang", "Theorem hang : True.", "Proof. hang. Qed.")
    reply = client.post("/v1/verify?timeout=0.5", json={"candidates": [hang]})
    assert reply.status_code == 200, reply.text
    verdict = reply.json()["verdicts"][0]
    assert verdict["status"] == "timeout"
    assert prover.limits == [0.5]  # the watchdog's bound: 3 x 0.5 s + 0.5 s, not 90.5 s


@settings(max_examples=25, deadline=None)
@given(asked=st.one_of(st.none(), st.floats(min_value=0.01, max_value=2 * SERVER_LIMIT)))
def test_the_limit_handed_to_the_prover_is_never_over_the_servers(asked: float | None) -> None:
    prover = LimitNotingCoq()
    config = VerifierConfig(timeout=SERVER_LIMIT, pool=PoolConfig(workers=1))
    with TimedVerifier(config, backends={BackendName.COQ: prover}) as verifier:
        candidate = Candidate(
            name="t",
            backend=BackendName.COQ,
            header="",
            statement="Theorem t : True.",
            proof=f"Proof. exact I. Qed. (* {asked} *)",  # a new key each time: no cache hit
        )
        if asked is not None and asked > SERVER_LIMIT:
            with pytest.raises(TimeoutTooLong, match="limit for coq: 30 s"):
                verifier.allow(BackendName.COQ, asked)
        verifier.submit_within(candidate, asked).result(timeout=30)
    expected = SERVER_LIMIT if asked is None else min(asked, SERVER_LIMIT)
    assert prover.limits == [expected]
