"""Prometheus metrics (docs/metrics.md). One registry per hub, so tests can run several."""

from __future__ import annotations

from prometheus_client import (
    PLATFORM_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

from hub import __version__
from hub.kube.client import ClusterClient

# *_created series double the output and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """Every metric the hub exports (docs/metrics.md), in a registry of its own."""

    def __init__(self) -> None:
        #: Writes a dry run skipped: `run --once --dry-run` is in sync only when this is 0.
        self.dry_run_skipped = 0
        self.registry = CollectorRegistry()
        r = self.registry
        # process_* (CPU, memory, open files) and python_info, as the default registry has.
        ProcessCollector(registry=r)
        r.register(PLATFORM_COLLECTOR)
        self.build_info = Gauge(
            "synchub_build_info", "Always 1; the version is a label.", ["version"], registry=r
        )
        self.build_info.labels(version=__version__).set(1)
        self.reconcile_total = Counter(
            "synchub_reconcile_total", "Reconciles by result.", ["controller", "result"], registry=r
        )
        self.reconcile_duration = Histogram(
            "synchub_reconcile_duration_seconds",
            "Time spent in one reconcile.",
            ["controller"],
            registry=r,
        )
        self.propagation_seconds = Histogram(
            "synchub_propagation_seconds",
            "From a source or template change observed to the last member write done.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.writes_total = Counter(
            "synchub_member_writes_total",
            "Writes issued to a cluster, by verb.",
            ["cluster", "verb"],
            registry=r,
        )
        self.api_requests = Counter(
            "synchub_api_requests_total",
            "Requests sent to a cluster's API server, by verb (get, list, watch, create, "
            "update, patch, delete) and HTTP status code (0: no answer).",
            ["cluster", "verb", "code"],
            registry=r,
        )
        self.cluster_ready = Gauge(
            "synchub_cluster_ready", "1 when the cluster is reachable.", ["cluster"], registry=r
        )
        self.workqueue_depth = Gauge(
            "synchub_workqueue_depth", "Keys waiting in a work queue.", ["controller"], registry=r
        )
        self.watch_restarts = Counter(
            "synchub_watch_restarts_total",
            "Watches re-established after an error or expiry.",
            ["cluster", "resource"],
            registry=r,
        )
        self.deletion_leftovers = Counter(
            "synchub_deletion_leftovers_total",
            "Copies left on an unreachable cluster when propagation.deletionTimeout ran out "
            "(outcome=left), and those removed when it came back (outcome=removed).",
            ["cluster", "outcome"],
            registry=r,
        )
        self.leader = Gauge(
            "synchub_leader",
            "1 while this process holds the leader lease.",
            ["identity"],
            registry=r,
        )
        self.ownership_conflicts = Counter(
            "synchub_ownership_conflicts_total",
            "Repeated writes to an object another writer keeps changing.",
            ["cluster"],
            registry=r,
        )

    def observe_requests(self, client: ClusterClient) -> ClusterClient:
        """Count every request ``client`` sends (``synchub_api_requests_total``); returns it."""
        cluster = client.name

        def observe(verb: str, status: int) -> None:
            self.api_requests.labels(cluster=cluster, verb=verb, code=str(status)).inc()

        client.observer = observe
        return client
