"""KubeFed v0.10.0 on a bench sandbox: install it the way its Helm chart and kubefedctl do,
run its controller-manager as a process, stop it by pid.

``make kubefed`` builds the controller-manager (tools/kubefed) into
``.cache/bin/kubefed-<version>/controller-manager`` and copies the chart's CRDs to
``.cache/crds/kubefed-<version>.yaml``. :func:`install` then creates on the master what the
chart (KubeFedConfig with the chart's defaults), ``kubefedctl enable`` (FederatedTypeConfigs)
and ``kubefedctl join`` (a ServiceAccount with cluster-wide rights on each member, its token
in a Secret next to the KubeFedCluster) would. The Federated CRDs are SyncHub's (``synchub
crds``), so both tools see the very same objects. No webhook runs: every field the webhook
would default is written out.

Where this differs from a real install: the controller-manager runs as a process on the host
with the sandbox's admin kubeconfig (not in a Pod under the chart's ServiceAccount and RBAC);
the members' ServiceAccount is bound to ``cluster-admin`` (kubefedctl join makes a ClusterRole
of its own) and its token is a 24 h TokenRequest token (no token controller writes legacy
token Secrets); the Federated CRDs have SyncHub's open template schema, not the target's
OpenAPI schema kubefedctl enable copies; it is built with today's Go, json-iterator and
reflect2 raised (tools/kubefed/go.mod), and talks client-go 0.22 to kube-apiserver 1.35.

Not a benchmark itself (``make bench`` runs every ``bench/*.py``; this one does nothing).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _common as c
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.core.crds import federated_crd
from hub.core.federation import KUBEFED_GROUP
from hub.sandbox import MASTER
from hub.sandbox.binaries import cache_roots
from hub.sandbox.process import alive, spawn, stop
from hub.testing import create_crds, free_port, install_federated_crds, wait_for

SYSTEM_NAMESPACE = "kube-federation-system"
CORE_GROUP, CORE_VERSION = "core.kubefed.io", "v1beta1"
BINARY = "controller-manager"
JOINED_ACCOUNT = "kubefed-member"  # the ServiceAccount kubefedctl join would create
LOCK = "kubefed-controller-manager"
READY_TIMEOUT = 120.0
#: Federated kinds enabled with ``kubefedctl enable``: (target kind, plural, scope).
ENABLED = (
    ("Namespace", "namespaces", "Cluster"),
    ("Secret", "secrets", "Namespaced"),
    ("ConfigMap", "configmaps", "Namespaced"),
)


class KubeFedNotBuilt(RuntimeError):
    """``make kubefed`` has not built the controller-manager or copied its CRDs."""


def _newest(pattern: str) -> Path:
    for root in cache_roots(os.environ):
        found = sorted(root.glob(pattern), reverse=True)
        if found:
            return found[0]
    raise KubeFedNotBuilt(f"{pattern} not found in .cache/: run `make kubefed`")


def binary() -> Path:
    """The controller-manager ``make kubefed`` built."""
    return _newest(f"bin/kubefed-v*/{BINARY}")


def crds_file() -> Path:
    """KubeFed's own CRDs (core.kubefed.io, scheduling.kubefed.io), as the chart ships them."""
    return _newest("crds/kubefed-v*.yaml")


def version() -> str:
    """The KubeFed version of the build (from its cache directory's name)."""
    return binary().parent.name.removeprefix("kubefed-")


# --- installation ------------------------------------------------------------------------


def kubefed_config(workers: int) -> dict[str, Any]:
    """KubeFedConfig ``kubefed`` with the chart's defaults (the webhook would fill them)."""
    return _core(
        "KubeFedConfig",
        "kubefed",
        {
            "scope": "Cluster",
            "controllerDuration": {
                "availableDelay": "20s",
                "unavailableDelay": "60s",
                "cacheSyncTimeout": "5m",
            },
            "leaderElect": {
                "leaseDuration": "15s",
                "renewDeadline": "10s",
                "retryPeriod": "5s",
                "resourceLock": "configmaps",
            },
            "clusterHealthCheck": {
                "period": "10s",
                "failureThreshold": 3,
                "successThreshold": 1,
                "timeout": "3s",
            },
            "syncController": {"maxConcurrentReconciles": workers, "adoptResources": "Enabled"},
            "statusController": {"maxConcurrentReconciles": 1},
            "featureGates": [
                {"name": "PushReconciler", "configuration": "Enabled"},
                {"name": "SchedulerPreferences", "configuration": "Enabled"},
            ],
        },
    )


def type_config(kind: str, plural: str, scope: str) -> dict[str, Any]:
    """The FederatedTypeConfig ``kubefedctl enable <plural>`` creates."""
    federated = federated_crd(KUBEFED_GROUP, kind)["spec"]
    return _core(
        "FederatedTypeConfig",
        plural,
        {
            "targetType": {"version": "v1", "kind": kind, "pluralName": plural, "scope": scope},
            "federatedType": {
                "group": KUBEFED_GROUP,
                "version": federated["versions"][0]["name"],
                "kind": federated["names"]["kind"],
                "pluralName": federated["names"]["plural"],
                "scope": "Namespaced",
            },
            "propagation": "Enabled",
        },
    )


def _core(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{CORE_GROUP}/{CORE_VERSION}",
        "kind": kind,
        "metadata": {"name": name, "namespace": SYSTEM_NAMESPACE},
        "spec": spec,
    }


def _create(call: Any, *args: Any) -> None:
    """Create, already there is fine."""
    try:
        call(*args)
    except ApiException as exc:
        if exc.status != 409:
            raise


def join_token(bench: c.Bench, member: str) -> str:
    """What ``kubefedctl join`` sets up on ``member``: a ServiceAccount bound to cluster-wide
    rights; its token comes from the TokenRequest API (the sandbox signs ServiceAccount
    tokens but runs no token controller).
    """
    core = bench.core(member)
    _create(core.create_namespace, {"metadata": {"name": SYSTEM_NAMESPACE}})
    _create(
        core.create_namespaced_service_account,
        SYSTEM_NAMESPACE,
        {"metadata": {"name": JOINED_ACCOUNT}},
    )
    binding = {
        "metadata": {"name": f"kubefed-controller-manager:{JOINED_ACCOUNT}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole"}
        | {"name": "cluster-admin"},
        "subjects": [
            {"kind": "ServiceAccount", "name": JOINED_ACCOUNT, "namespace": SYSTEM_NAMESPACE}
        ],
    }
    _create(k8s.RbacAuthorizationV1Api(bench.api[member]).create_cluster_role_binding, binding)
    request = {"spec": {"audiences": [], "expirationSeconds": 24 * 3600}}
    answer = core.create_namespaced_service_account_token(JOINED_ACCOUNT, SYSTEM_NAMESPACE, request)
    return str(answer.status.token)


def join(bench: c.Bench, member: str) -> None:
    """The KubeFedCluster of ``member`` and its credentials Secret on the master."""
    configuration = bench.api[member].configuration
    with open(str(configuration.ssl_ca_cert), "rb") as ca:
        ca_bundle = ca.read()
    secret = f"{member}-token"
    bench.core().create_namespaced_secret(
        SYSTEM_NAMESPACE,
        k8s.V1Secret(metadata={"name": secret}, string_data={"token": join_token(bench, member)}),
    )
    cluster = _core(
        "KubeFedCluster",
        member,
        {
            "apiEndpoint": configuration.host,
            "caBundle": base64.b64encode(ca_bundle).decode(),
            "secretRef": {"name": secret},
        },
    )
    bench.custom().create_namespaced_custom_object(
        CORE_GROUP, CORE_VERSION, SYSTEM_NAMESPACE, "kubefedclusters", cluster
    )


def install(bench: c.Bench, workers: int = 1) -> None:
    """KubeFed's CRDs, namespace, KubeFedConfig, type configs and joined members (master)."""
    master = bench.api[MASTER]
    create_crds([master], list(yaml.safe_load_all(crds_file().read_text())))
    install_federated_crds(master)
    create_crds([master], [federated_crd(KUBEFED_GROUP, "Namespace")])
    bench.create_namespace(SYSTEM_NAMESPACE, on=[MASTER])
    custom = bench.custom()
    documents = [kubefed_config(workers), *(type_config(*e) for e in ENABLED)]
    for document in documents:
        plural = document["kind"].lower() + "s"
        custom.create_namespaced_custom_object(
            CORE_GROUP, CORE_VERSION, SYSTEM_NAMESPACE, plural, document
        )
    for member in bench.members:
        join(bench, member)


def federate_namespace(bench: c.Bench, namespace: str) -> None:
    """The FederatedNamespace ``kubefedctl federate namespace`` creates: KubeFed propagates
    a namespaced object only to clusters its namespace is placed on.
    """
    federated = {
        "apiVersion": f"{KUBEFED_GROUP}/v1beta1",
        "kind": "FederatedNamespace",
        "metadata": {"name": namespace, "namespace": namespace},
        "spec": {"placement": {"clusters": [{"name": m} for m in bench.members]}},
    }
    bench.custom().create_namespaced_custom_object(
        KUBEFED_GROUP, "v1beta1", namespace, "federatednamespaces", federated
    )


# --- the controller-manager process ----------------------------------------------------------


class ControllerManager:
    """KubeFed's controller-manager as a process against the master (no webhook)."""

    def __init__(self, bench: c.Bench) -> None:
        self.bench = bench
        self.log = c.workdir(bench) / "kubefed.log"
        self.metrics_port = free_port()
        self.args = [
            str(binary()),
            f"--kubeconfig={bench.kubeconfig}",  # its current context is the master
            f"--kubefed-namespace={SYSTEM_NAMESPACE}",
            f"--healthz-addr=127.0.0.1:{free_port()}",
            f"--metrics-addr=127.0.0.1:{self.metrics_port}",
            "--v=1",
        ]
        self.pid = 0
        self.started = 0.0

    def start(self) -> ControllerManager:
        """Start it (returns at once; see :meth:`wait_ready`)."""
        self.started = time.monotonic()
        self.pid = spawn(self.args, self.log)
        c.say(f"kubefed controller-manager started, pid {self.pid}")
        return self

    def running(self) -> bool:
        """True while the process runs."""
        return bool(self.pid) and alive(self.pid, str(self.bench.kubeconfig))

    def check_running(self) -> None:
        """Fail with the log's tail when the process has exited."""
        if not self.running():
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"kubefed controller-manager exited:\n{tail}")

    def stop(self) -> None:
        """SIGTERM (SIGKILL after 15 s), by pid; waits until it is gone."""
        if self.pid:
            stop(self.pid, str(self.bench.kubeconfig))
            c.say("kubefed controller-manager stopped")

    def ready(self) -> bool:
        """Every member's KubeFedCluster Ready, every type config's sync controller running."""
        self.check_running()
        custom = self.bench.custom()
        clusters = self._list(custom, "kubefedclusters")
        ready = sum(1 for o in clusters if _condition(o, "Ready") == "True")
        configs = self._list(custom, "federatedtypeconfigs")
        running = sum(
            1 for o in configs if c.dig(o, "status", "propagationController") == "Running"
        )
        return ready == len(self.bench.members) and running == len(ENABLED)

    @staticmethod
    def _list(custom: k8s.CustomObjectsApi, plural: str) -> list[dict[str, Any]]:
        raw = custom.list_namespaced_custom_object(
            CORE_GROUP, CORE_VERSION, SYSTEM_NAMESPACE, plural, _preload_content=False
        )
        return list(json.loads(raw.data).get("items") or [])

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Seconds from start until :meth:`ready`."""
        wait_for(self.ready, timeout, interval=0.5, what="KubeFed clusters and type configs")
        seconds = time.monotonic() - self.started
        c.say(f"kubefed ready after {seconds:.1f}s")
        return seconds

    def rss_mb(self) -> float | None:
        """Resident memory (VmRSS), MB."""
        return c.rss_mb(self.pid)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time used so far."""
        return c.cpu_seconds(self.pid)

    def output(self) -> str:
        """Everything the process wrote so far."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for condition in c.dig(obj, "status", "conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


@contextmanager
def running(bench: c.Bench) -> Iterator[ControllerManager]:
    """A started controller-manager (not yet waited for); stopped by pid on leaving, and its
    leader-election lock removed, so the next controller starts on a clean master.
    """
    manager = ControllerManager(bench).start()
    try:
        yield manager
    finally:
        manager.stop()
        try:
            bench.core().delete_namespaced_config_map(LOCK, SYSTEM_NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise


if __name__ == "__main__":
    c.say("bench/_kubefed.py installs and runs KubeFed for bench/kubefed.py")
