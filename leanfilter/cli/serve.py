"""`leanfilter serve`: the verifier as an HTTP service (our API and Kimina Lean Server's)."""

from __future__ import annotations

import signal

import click

from leanfilter.cli import main
from leanfilter.cli.on_ray import on_ray, ray_options
from leanfilter.cli.verify import start_run, verifier_settings
from leanfilter.cli.verify import verify as verify_command
from leanfilter.db import ProofDB, ProofDBError
from leanfilter.inputs import load_problems
from leanfilter.policy import StrictPolicy, load_policy_config
from leanfilter.records import BackendName
from leanfilter.serve.timeouts import TimedVerifier

_SHARED_WITH_VERIFY = (
    "problems", "backend", "workers", "timeout", "db_path", "lean_mode", "lean_project",
    "policy_path", "replay",
)  # fmt: skip


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--api-key",
    envvar="LEANFILTER_API_KEY",
    help="Require `Authorization: Bearer KEY` (or X-API-Key). Default: $LEANFILTER_API_KEY.",
)
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=16 << 20, show_default=True)
@click.option("--max-candidates", type=click.IntRange(min=1), default=4096, show_default=True)
@click.option(
    "--max-queue",
    type=click.IntRange(min=1),
    default=16384,
    show_default=True,
    help="Candidates in flight over all requests; past it a request is answered 429.",
)
@ray_options
def serve(
    host: str,
    port: int,
    api_key: str | None,
    max_body_bytes: int,
    max_candidates: int,
    max_queue: int,
    ray_address: str | None,
    ray_actors: int | None,
    problems: str | None,
    backend: str | None,
    workers: int | None,
    timeout: float | None,
    db_path: str | None,
    lean_mode: str,
    lean_project: str | None,
    policy_path: str | None,
    replay: bool,
) -> None:
    """Serve the verifier over HTTP until SIGTERM or Ctrl-C, which finish every accepted request.

    \b
    POST /v1/verify        {"candidates": [verify's input lines]} or JSON lines; ?stream=true
    GET  /v1/verdicts/KEY  a stored verdict
    POST /api/check        Kimina Lean Server's check endpoint (kimina-client works unchanged)
    GET  /health, /metrics
    """
    try:
        import uvicorn

        from leanfilter.serve.app import ServeLimits, create_app
    except ImportError as e:
        raise click.ClickException(
            f"serve needs its extra: pip install 'leanfilter[serve]' ({e})"
        ) from e
    kind_of_verifier = on_ray(ray_address, ray_actors) if ray_address else TimedVerifier
    try:
        known = load_problems(problems) if problems else None
        policy = StrictPolicy(load_policy_config(policy_path)) if policy_path else None
        db = ProofDB(db_path) if db_path else None
    except (OSError, ValueError, ProofDBError) as e:
        raise click.ClickException(str(e)) from e
    config, backends = verifier_settings(workers, timeout, replay, lean_mode, lean_project)
    run = start_run(db, known, config) if db is not None else None
    limits = ServeLimits(
        max_body_bytes=max_body_bytes,
        max_candidates=max_candidates,
        max_queue=max_queue,
        api_key=api_key,
    )
    verifier = kind_of_verifier(
        config, backends=backends, policy=policy, cache=db, recorder=db,
        run_id=run.id if run else None,
    )  # fmt: skip
    kind = BackendName(backend) if backend else None
    try:
        with verifier:
            app = create_app(verifier, problems=known, backend=kind, limits=limits)
            # uvicorn on SIGTERM stops listening and waits for every open request to be answered,
            # then raises the signal again once it has restored this handler: by then all is
            # answered, so the handler only has to leave cleanly (the provers close, the run ends).
            for stop in (signal.SIGTERM, signal.SIGINT):
                signal.signal(stop, _exit_cleanly)
            uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if db is not None:
            if run is not None:
                db.end_run(run.id)
            db.close()


def _exit_cleanly(_signal: int, _frame: object) -> None:
    raise SystemExit(0)


serve.params.extend(p for p in verify_command.params if p.name in _SHARED_WITH_VERIFY)
