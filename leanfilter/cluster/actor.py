"""The Ray actor: warm prover pools on one node, checking what the driver's engine sends.

It judges nothing, caches nothing and records nothing: it answers a check request with the
prover's raw result, as a local pool would. If it dies, Ray starts it again (fresh pools) and
retries the calls it had in flight, so no candidate is lost.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

import ray

from leanfilter.backends import create_backend
from leanfilter.backends.base import Backend, CheckRequest, ProverUnavailable, RawResult
from leanfilter.pool import PoolConfig, ProverPool
from leanfilter.records import BackendName


@ray.remote(max_restarts=3, max_task_retries=3)
class ProverActor:
    def __init__(self, backends: Mapping[BackendName, Backend], config: PoolConfig) -> None:
        self.backends = {name: backends.get(name) or create_backend(name) for name in BackendName}
        self.config = config
        self.pools: dict[BackendName, ProverPool] = {}

    async def check(
        self, name: BackendName, header: str, request: CheckRequest, timeout: float
    ) -> RawResult:
        if name not in self.pools:
            self.pools[name] = ProverPool(self.backends[name], self.config)
        return await asyncio.wrap_future(self.pools[name].submit(header, request, timeout))

    def toolchain(self, name: BackendName) -> str | ProverUnavailable:
        """The prover's version on this node, or why it is missing."""
        try:
            return self.backends[name].toolchain()
        except ProverUnavailable as e:
            return e

    def close(self, name: BackendName, cancel: bool) -> None:
        pool = self.pools.pop(name, None)
        if pool is not None:
            pool.close(cancel)

    def pid(self) -> int:
        return os.getpid()
