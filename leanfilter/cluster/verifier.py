"""`RayVerifier`: the engine with its prover pools on Ray actors.

Only two things change from a local `TimedVerifier`: a backend's pool is a `RemotePool` over the
actors, and the toolchain that goes into keys and verdicts is the actors' (all of them must
agree: keys made from two prover versions would mix verdicts that are not the same). Replays
(`replay=True`) run on the driver, with its own provers.
"""

from __future__ import annotations

from collections.abc import Mapping

import ray
from ray.actor import ActorHandle
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from leanfilter.backends.base import Backend, ProverUnavailable
from leanfilter.cache import VerdictCache
from leanfilter.cluster.actor import ProverActor
from leanfilter.cluster.remote_pool import Fleet, RemotePool
from leanfilter.engine import Recorder, VerifierConfig
from leanfilter.policy import Policy
from leanfilter.pool import PoolConfig, ProverPool
from leanfilter.records import BackendName
from leanfilter.serve.timeouts import TimedVerifier


class ToolchainsDiffer(RuntimeError):
    """The actors run different versions of one prover: their verdicts cannot share keys."""


class RayVerifier(TimedVerifier):
    def __init__(
        self,
        config: VerifierConfig | None = None,
        *,
        actors: int | None = None,
        backends: Mapping[BackendName, Backend] | None = None,
        policy: Policy | None = None,
        cache: VerdictCache | None = None,
        recorder: Recorder | None = None,
        run_id: str | None = None,
    ) -> None:
        """`actors`: how many `ProverActor`s, spread over the nodes; None: one on each node.
        Each runs `config.pool.workers` provers. Ray must be initialised (`connect`)."""
        super().__init__(
            config, backends=backends, policy=policy, cache=cache, recorder=recorder,
            run_id=run_id,
        )  # fmt: skip
        # Backends hold locks and cannot travel: each actor makes its own, with default settings.
        self.fleet = Fleet(start_actors({}, self.config.pool, actors))

    def close(self, cancel: bool = False) -> None:
        try:
            super().close(cancel)
        finally:
            for actor in self.fleet.actors:
                ray.kill(actor)

    def _pool(self, name: BackendName) -> ProverPool:
        with self._lock:
            if name not in self._pools:
                self._pools[name] = RemotePool(name, self.fleet)  # type: ignore[assignment]
            return self._pools[name]

    def _toolchain(self, name: BackendName, backend: Backend) -> str | ProverUnavailable:
        if name not in self._toolchains:
            answers = ray.get([a.toolchain.remote(name) for a in self.fleet.actors])
            versions = {str(answer) for answer in answers}
            if len(versions) > 1:
                raise ToolchainsDiffer(f"the actors' {name.value} differ: {sorted(versions)}")
            self._toolchains[name] = answers[0]
        return self._toolchains[name]


def start_actors(
    backends: dict[BackendName, Backend], config: PoolConfig, count: int | None
) -> list[ActorHandle]:
    """`count` actors spread over the cluster, or one pinned to each live node. They ask Ray
    for no CPU: their provers use the node's cores as `config.workers` says."""
    if count is None:
        nodes = [node["NodeID"] for node in ray.nodes() if node["Alive"]]
        places = [NodeAffinitySchedulingStrategy(node, soft=True) for node in nodes]
    else:
        places = ["SPREAD"] * count
    return [
        ProverActor.options(num_cpus=0, scheduling_strategy=place).remote(backends, config)
        for place in places
    ]
