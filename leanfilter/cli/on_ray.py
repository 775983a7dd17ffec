"""`--ray` and `--ray-actors`, shared by `verify` and `serve`: the engine with provers on Ray."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import Any

import click

from leanfilter.serve.timeouts import TimedVerifier


def ray_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--ray ADDRESS` (into `ray_address`) and `--ray-actors N` to a command."""
    command = click.option(
        "--ray-actors",
        type=click.IntRange(min=1),
        help="With --ray: prover actors, each with --workers provers. Default: one per node.",
    )(command)
    return click.option(
        "--ray",
        "ray_address",
        metavar="ADDRESS",
        help="Check on a Ray cluster: `auto` or host:port joins one, `local` starts one here on "
        "loopback only. Needs the ray extra.",
    )(command)


def on_ray(address: str, actors: int | None) -> Callable[..., TimedVerifier]:
    """`RayVerifier` with its actors, once this process has joined the cluster; a missing extra
    or an unreachable cluster is one line."""
    if importlib.util.find_spec("ray") is None:
        raise click.ClickException("--ray needs its extra: pip install 'leanfilter[ray]'")
    from leanfilter.cluster.connect import connect

    try:
        connect(address)
    except (ConnectionError, RuntimeError) as e:
        raise click.ClickException(f"--ray {address}: {e}") from e
    from leanfilter.cluster.verifier import RayVerifier

    return functools.partial(RayVerifier, actors=actors)
