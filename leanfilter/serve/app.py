"""The HTTP application over one `Verifier`: our API, Kimina's `/api/check`, health, metrics.

Every candidate goes through the one verifier (one prover pool, one cache, one database), so a
verdict served is the verdict `leanfilter verify` would write. Requests are admitted whole into a
bounded queue or refused with 429; limits are answered with 4xx errors that name the limit.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from concurrent.futures import Future
from typing import Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from leanfilter.cache import VerdictCache
from leanfilter.engine import done
from leanfilter.inputs import InputError, candidate_or_error
from leanfilter.records import BackendName, Candidate, Problem, Verdict
from leanfilter.serve import kimina
from leanfilter.serve.admission import Admission, QueueFull
from leanfilter.serve.metrics import ServeMetrics
from leanfilter.serve.timeouts import TimeoutTooLong

JSON_LINES = "application/x-ndjson"


class ServeLimits(BaseModel):
    max_body_bytes: int = Field(default=16 << 20, ge=1, description="request body, bytes")
    max_candidates: int = Field(default=4096, ge=1, description="candidates per request")
    max_queue: int = Field(default=16384, ge=1, description="candidates in flight, all requests")
    api_key: str | None = Field(default=None, description="required as a Bearer token if set")


class VerifyRequest(BaseModel):
    candidates: list[dict[str, Any]] = Field(min_length=1)
    timeout: float | None = Field(
        default=None, gt=0, description="seconds per proof, at most the server's"
    )


class Checker(Protocol):
    """What the server needs of a verifier: a local `TimedVerifier` or a Ray cluster's."""

    cache: VerdictCache

    def allow(self, backend: BackendName, timeout: float) -> None: ...

    def submit_within(
        self, candidate: Candidate, timeout: float | None, sample: int | None = None
    ) -> Future[Verdict]: ...


def create_app(
    verifier: Checker,
    *,
    problems: dict[str, Problem] | None = None,
    backend: BackendName | None = None,
    limits: ServeLimits | None = None,
) -> FastAPI:
    limits = limits or ServeLimits()
    admission = Admission(limits.max_queue)
    metrics = ServeMetrics(lambda: admission.depth)
    app = FastAPI(title="leanfilter", summary="Sandboxed Lean 4 / Coq proof verification")

    def authorized(request: Request) -> None:
        if limits.api_key is None:
            return
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "")
        given = given.removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), limits.api_key.encode()):
            raise HTTPException(401, "missing or wrong API key (Authorization: Bearer KEY)")

    async def submit(records: list[Any], timeout: float | None) -> list[Future[Verdict]]:
        """Every record checked under `timeout` seconds per proof (None: the server's), or
        the whole request refused, before any of it is checked, naming the limit it passes."""
        if len(records) > limits.max_candidates:
            raise HTTPException(
                413, f"{len(records)} candidates; limit max_candidates={limits.max_candidates}"
            )
        known = problems or {}
        entries = await run_in_threadpool(
            lambda: [candidate_or_error(n, r, known, backend) for n, r in enumerate(records, 1)]
        )
        if timeout is not None:
            try:
                for entry in entries:
                    if isinstance(entry, Candidate):
                        verifier.allow(entry.backend, timeout)
            except TimeoutTooLong as e:
                raise HTTPException(422, str(e)) from e
        try:
            admission.take(len(entries))
        except QueueFull as e:
            raise HTTPException(429, str(e), headers={"Retry-After": "1"}) from e
        futures = await run_in_threadpool(lambda: [_future(e, timeout) for e in entries])
        for future in futures:
            future.add_done_callback(_settled)
        return futures

    def _future(entry: Candidate | InputError, timeout: float | None) -> Future[Verdict]:
        if isinstance(entry, InputError):
            return done(entry.verdict())
        return verifier.submit_within(entry, timeout)

    def _settled(future: Future[Verdict]) -> None:
        admission.give_back()
        metrics.observe(future.result())

    async def body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise HTTPException(
                413, f"body too large: limit max_body_bytes={limits.max_body_bytes}"
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise HTTPException(
                    413, f"body too large: limit max_body_bytes={limits.max_body_bytes}"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        metrics.requests.labels("health").inc()
        return {"status": "ok", "queue_depth": admission.depth, "max_queue": limits.max_queue}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/check", dependencies=[Depends(authorized)])
    async def kimina_check(request: Request) -> dict[str, Any]:
        """Kimina Lean Server's check endpoint: `{snippets: [{id, code}], timeout, ...}`."""
        metrics.requests.labels("api_check").inc()
        check = kimina.CheckRequest.model_validate_json(await body(request))
        records = [kimina.snippet_record(s) for s in check.snippets]
        futures = await submit(records, check.timeout or None)
        verdicts = [await asyncio.wrap_future(f) for f in futures]
        return {
            "results": [
                kimina.check_result(s.id, v) for s, v in zip(check.snippets, verdicts, strict=True)
            ]
        }

    @app.post("/v1/verify", dependencies=[Depends(authorized)], response_model=None)
    async def verify(
        request: Request, stream: bool = False, timeout: float | None = Query(None, gt=0)
    ) -> dict[str, Any] | Response:
        """`{"candidates": [...], "timeout"?}` or JSON lines (one input line of `verify` each,
        `?timeout=` for the limit); verdicts in input order, as one JSON object or, with
        `?stream=true` or `Accept: JSON lines`, streamed one line per verdict as each and all
        before it are done."""
        metrics.requests.labels("verify").inc()
        raw = await body(request)
        if request.headers.get("content-type", "").startswith(JSON_LINES):
            records = [_parse_line(n, line) for n, line in enumerate(raw.splitlines(), 1) if line]
        else:
            parsed = VerifyRequest.model_validate_json(raw)
            records, timeout = parsed.candidates, parsed.timeout or timeout
        futures = await submit(records, timeout)
        if stream or JSON_LINES in request.headers.get("accept", ""):
            return StreamingResponse(_lines(futures), media_type=JSON_LINES)
        return {"verdicts": [_dump(await asyncio.wrap_future(f)) for f in futures]}

    @app.get("/v1/verdicts/{key}", dependencies=[Depends(authorized)])
    async def stored(key: str) -> dict[str, Any]:
        """A verdict the cache or the proof database holds, by its `key`."""
        metrics.requests.labels("verdict").inc()
        verdict = await run_in_threadpool(verifier.cache.get, key)
        if verdict is None:
            raise HTTPException(404, f"no stored verdict with key {key!r}")
        return _dump(verdict)

    @app.exception_handler(ValidationError)
    async def invalid(_request: Request, error: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": json.loads(error.json())}, status_code=422)

    return app


async def _lines(futures: list[Future[Verdict]]) -> AsyncIterator[bytes]:
    for index, future in enumerate(futures):
        verdict = await asyncio.wrap_future(future)
        yield (json.dumps({"index": index, **_dump(verdict)}) + "\n").encode()


def _dump(verdict: Verdict) -> dict[str, Any]:
    return verdict.model_dump(mode="json")


def _parse_line(number: int, line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError as e:
        raise HTTPException(400, f"line {number}: not JSON ({e})") from e
