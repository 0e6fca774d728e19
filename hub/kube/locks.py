"""Read leader-election locks (Leases, and ConfigMap/Endpoints locks) from namespaces.

This is the one place that reads them for mode detection (``run`` and ``check``); the
decision is :func:`hub.core.federation.controller_running`. Missing namespaces are empty;
when listing is forbidden, the named locks are read one by one instead.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence

from hub.core.errors import Forbidden, NotFound
from hub.core.federation import (
    CONTROLLER_LOCK_NAMES,
    CONTROLLER_NAMESPACES,
    LEADER_ANNOTATION,
    controller_running,
)
from hub.core.objects import Obj
from hub.kube.client import ClusterClient

log = logging.getLogger(__name__)

_KINDS = (
    ("Lease", "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"),
    ("ConfigMap", "/api/v1/namespaces/{ns}/configmaps"),
    ("Endpoints", "/api/v1/namespaces/{ns}/endpoints"),
)


def _is_lock(kind: str, obj: Obj) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return kind == "Lease" or LEADER_ANNOTATION in annotations


async def _named(client: ClusterClient, kind: str, path: str, names: Sequence[str]) -> list[Obj]:
    found = []
    for name in names:
        try:
            obj = await client.get(f"{path}/{name}")
        except (NotFound, Forbidden):
            continue
        found.append({**obj, "kind": kind})
    return found


async def leader_locks(
    client: ClusterClient, namespaces: Sequence[str], names: Sequence[str]
) -> list[Obj]:
    """Every lock in ``namespaces``, each with its ``kind`` set. Other errors propagate."""
    locks: list[Obj] = []
    for namespace in namespaces:
        for kind, template in _KINDS:
            path = template.format(ns=namespace)
            try:
                listed = await client.get(path)
            except NotFound:
                continue
            except Forbidden:
                log.debug("cluster %s: may not list %s in %s", client.name, path, namespace)
                locks += await _named(client, kind, path, names)
                continue
            items = listed.get("items") or []
            locks += [{**i, "kind": kind} for i in items if _is_lock(kind, i)]
    return locks


async def federation_controller_running(client: ClusterClient) -> bool:
    """True while a federation controller's lock on this cluster was renewed recently."""
    locks = await leader_locks(client, CONTROLLER_NAMESPACES, CONTROLLER_LOCK_NAMES)
    return controller_running(locks, datetime.datetime.now(datetime.UTC))
