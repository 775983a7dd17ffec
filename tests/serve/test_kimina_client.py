"""The published kimina-client 0.2.1, unchanged, against `leanfilter serve` (Coq behind it)."""

from __future__ import annotations

import asyncio
import typing

import pytest
import typing_extensions

from tests.serve.conftest import API_KEY, Server

pytestmark = pytest.mark.coq

# kimina-client 0.2.1 imports on Python 3.11 only with this (pydantic wants typing_extensions'
# TypedDict below 3.12); the client's own code, not the server, needs it.
typing.TypedDict = typing_extensions.TypedDict  # type: ignore[misc]
kimina_client = pytest.importorskip("kimina_client")

GOOD = "Theorem two : 1 + 1 = 2.\nProof. reflexivity. Qed."
WRONG = "Theorem three : 1 + 1 = 3.\nProof. reflexivity. Qed."
SORRY = "Theorem later : 2 + 2 = 4.\nProof. admit. Admitted."


def snippets() -> list:
    Snippet = kimina_client.Snippet
    return [Snippet(id="two", code=GOOD), Snippet(id="three", code=WRONG),
            Snippet(id="later", code=SORRY)]  # fmt: skip


def statuses(response) -> dict[str, str]:
    return {r.id: r.analyze().status.value for r in response.results}


def test_sync_client_reads_our_verdicts(server: Server) -> None:
    client = kimina_client.KiminaClient(api_url=server.url, api_key=API_KEY, n_retries=1)
    response = client.check(snippets(), timeout=60, show_progress=False)
    got = statuses(response)
    assert got["two"] == "valid"
    assert got["three"] == "lean_error"
    assert got["later"] in {"sorry", "lean_error"}  # rejected either way, never valid
    assert client.health()["status"] == "ok"


def test_async_client_reads_our_verdicts(server: Server) -> None:
    client = kimina_client.AsyncKiminaClient(api_url=server.url, api_key=API_KEY, n_retries=1)
    response = asyncio.run(client.check(snippets(), timeout=60, show_progress=False))
    got = statuses(response)
    assert got["two"] == "valid"
    assert got["three"] == "lean_error"
    assert got["later"] != "valid"


def test_client_without_the_key_is_refused(server: Server) -> None:
    client = kimina_client.KiminaClient(api_url=server.url, api_key="wrong", n_retries=1)
    with pytest.raises(Exception, match=r"401|retries"):
        client.api_check([kimina_client.Snippet(id="two", code=GOOD)])
