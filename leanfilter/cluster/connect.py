"""Joining a Ray cluster, or starting a local one whose traffic stays on loopback."""

from __future__ import annotations

import os

LOCAL = "local"

# Read by Ray when it is imported, in this process and in every process it starts (they inherit
# the environment): with clusters "disabled" Ray takes 127.0.0.1 as the node's address instead
# of the host's outward one, so no socket of a local cluster leaves loopback; usage statistics
# are never reported.
_LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def connect(address: str, num_cpus: int | None = None) -> None:
    """Join the cluster at `address` (`auto`, `host:port`, `ray://host:port`), or with `local`
    start one on this machine on loopback only, with `num_cpus` CPUs. Does nothing if Ray is
    up in this process already. A local cluster must be started before Ray is first imported
    in this process; if it was imported earlier, the cluster is stopped and RuntimeError says so.
    """
    if address == LOCAL:
        os.environ.update(_LOOPBACK_ONLY)
    import ray
    import ray.util

    if ray.is_initialized():
        return
    quiet = {"log_to_driver": False, "configure_logging": False}
    if address != LOCAL:
        ray.init(address=address, **quiet)
        return
    ray.init(num_cpus=num_cpus, _node_ip_address="127.0.0.1", include_dashboard=False, **quiet)
    if ray.util.get_node_ip_address() != "127.0.0.1":
        ray.shutdown()
        raise RuntimeError(
            "a local Ray cluster would have left loopback: Ray was imported before connect()"
        )
