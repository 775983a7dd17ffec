"""Prometheus metrics of one server: its own registry, so that two apps in a process never clash."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from leanfilter.records import Verdict


class ServeMetrics:
    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "leanfilter_requests", "HTTP requests by endpoint", ["endpoint"], registry=self.registry
        )
        self.verdicts = Counter(
            "leanfilter_verdicts", "verdicts by status", ["status"], registry=self.registry
        )
        self.cache_hits = Counter(
            "leanfilter_cache_hits", "verdicts answered from the cache", registry=self.registry
        )
        self.check_seconds = Histogram(
            "leanfilter_check_seconds", "prover time per candidate", registry=self.registry
        )
        Gauge(
            "leanfilter_queue_depth", "candidates accepted and not yet answered",
            registry=self.registry,
        ).set_function(queue_depth)  # fmt: skip

    def observe(self, verdict: Verdict) -> None:
        self.verdicts.labels(verdict.status.value).inc()
        if verdict.cached:
            self.cache_hits.inc()
        else:
            self.check_seconds.observe(verdict.time_s)
