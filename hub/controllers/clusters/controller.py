"""The cluster registry: one ``synchub.io/v1alpha1`` ``Cluster`` per configured cluster.

What it does, in order (docs/clusters.md):

1. Watches ``Cluster`` objects on the master (the inventory follows their labels, set by
   kubectl or GitOps, for placement: they win over configured labels).
2. For every configured cluster, creates its ``Cluster`` (named like it) when missing, and
   writes ``status`` (ready, version, reason/message, ``conditions[Ready]``) from the
   inventory, only when it changed.
3. Deletes the ``Cluster`` objects it created for clusters no longer in ``clusters.yaml``.

It never writes an object's labels or spec: those belong to the user. Without the CRD on the
master it does nothing (``check`` says so) and starts once the CRD appears.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from hub.core import crd_cluster
from hub.core.conditions import Condition, differs, find, merged, now_rfc3339
from hub.core.errors import Conflict, KubeError, NotFound
from hub.core.federation import MANAGED_LABEL, SYNCHUB_GROUP
from hub.core.objects import Obj
from hub.kube.resources import ResourceInfo, by_kind
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.controller import Controller
from hub.runtime.inventory import Inventory, MemberState
from hub.runtime.wiring import Collaborators, Declaration, Resources

log = logging.getLogger(__name__)

STATUS_INTERVAL = 5.0  # seconds between looks at the inventory (writes happen on change only)


def desired_status(state: MemberState) -> dict[str, Any]:
    """The status fields of a cluster's ``Cluster`` object, conditions aside."""
    status: dict[str, Any] = {"ready": state.ready, "version": state.version}
    if not state.ready:
        status["reason"] = str(state.problem)
        status["message"] = state.message
    return status


def ready_condition(state: MemberState) -> Condition:
    """``conditions[type=Ready]`` for a cluster."""
    if state.ready:
        return Condition(crd_cluster.READY_CONDITION, "True", "Ready", "the cluster answers")
    return Condition(crd_cluster.READY_CONDITION, "False", str(state.problem), state.message)


def status_patch(obj: Obj, state: MemberState) -> Obj | None:
    """The merge patch bringing ``obj``'s status up to date, or None when it already is."""
    current = obj.get("status") or {}
    wanted = desired_status(state)
    condition = ready_condition(state)
    conditions = current.get("conditions")
    same_fields = all(current.get(k) == v for k, v in wanted.items())
    stale = [k for k in ("reason", "message") if k in current and k not in wanted]
    if same_fields and not stale and not differs(find(conditions, condition.type), condition):
        return None
    status: dict[str, Any] = {**wanted, **dict.fromkeys(stale)}
    status["conditions"] = merged(conditions, condition, now=now_rfc3339())
    rv = (obj.get("metadata") or {}).get("resourceVersion", "")
    return {"metadata": {"resourceVersion": rv}, "status": status}


DECLARATION = Declaration(
    for_=Resources("master", "synchub.io Cluster objects, one per configured cluster"),
    owns=(Resources("master", "Cluster objects and their status"),),
    watches=("the member inventory (polled)",),
)


class ClusterRegistry(Controller[str]):
    """Keeps the master's ``Cluster`` objects in step with ``clusters.yaml`` and the inventory.

    Keys are cluster names.
    """

    name = "clusters"
    declaration = DECLARATION

    def __init__(self, deps: Collaborators, inventory: Inventory) -> None:
        super().__init__(deps.metrics, workers=1)
        self.config = deps.config
        self.discovery = deps.discovery
        self.writer = deps.writers.for_client(deps.master)
        self.inventory = inventory
        self.supervisor = deps.supervisor
        self.configured = {c.name for c in deps.config.clusters}
        self.cache = CacheSet(deps.master, deps.supervisor, deps.metrics, self._on_event)
        self.info: ResourceInfo | None = None
        self._said_off = False

    async def refresh(self) -> None:
        """Start once the master serves the CRD (at start or after a later refresh)."""
        if self.info is not None:
            return
        found = by_kind(self.discovery.resources, SYNCHUB_GROUP, crd_cluster.KIND)
        if not found:
            if not self._said_off:
                log.info("cluster registry off: the master does not serve clusters.synchub.io")
                self._said_off = True
            return
        self.info = found[0]
        self.inventory.watch_registry(self.discovery)
        self.cache.ensure(self.info)
        self.supervisor.spawn("cluster-registry-ticks", self._tick)

    def synced(self) -> bool:
        """True once the Cluster objects are cached, refused for good, or there is no registry."""
        return self.info is None or self.cache.settled()

    def _on_event(self, _info: ResourceInfo, _kind: EventType, obj: Obj) -> None:
        self.queue.add(str((obj.get("metadata") or {}).get("name", "")))

    async def _tick(self) -> None:
        while True:
            for name in self.configured:
                self.queue.add(name)
            await asyncio.sleep(STATUS_INTERVAL)

    async def reconcile(self, key: str) -> None:
        """Create, update the status of, or delete the ``Cluster`` named ``key``."""
        assert self.info is not None
        obj = self.cache.get(self.info, "", key)
        if key not in self.configured:
            labels = (obj or {}).get("metadata", {}).get("labels") or {}
            if obj is not None and labels.get(MANAGED_LABEL) == "true":
                log.info("cluster %s left clusters.yaml: deleting its Cluster object", key)
                with contextlib.suppress(NotFound):
                    await self.writer.delete(self.info, "", key)
            return
        if obj is None:
            obj = await self._create(key)
            if obj is None:
                return
        await self._write_status(key, obj)

    async def _create(self, name: str) -> Obj | None:
        assert self.info is not None
        body = {
            "apiVersion": crd_cluster.API_VERSION,
            "kind": crd_cluster.KIND,
            "metadata": {"name": name, "labels": {MANAGED_LABEL: "true"}},
        }
        try:
            created = await self.writer.create(self.info, "", body)
        except Conflict:
            return None  # created meanwhile (by a user): its watch event queues it again
        log.info("cluster %s: created its Cluster object", name)
        return created

    async def _write_status(self, name: str, obj: Obj) -> None:
        assert self.info is not None
        state = self.inventory.get(name)
        if not state.probed:
            return  # nothing known yet; the next pass looks again
        if state.config.is_master and not state.version:
            await self._read_master_version(state)
        patch = status_patch(obj, state)
        if patch is None:
            return
        try:
            await self.writer.merge_patch(self.info, "", name, patch, subresource="status")
        except (Conflict, NotFound):
            self.queue.add(name)  # the cache had not caught up yet; look again

    async def _read_master_version(self, state: MemberState) -> None:
        assert state.client is not None
        try:
            version = await state.client.get("/version")
        except KubeError as exc:
            log.debug("cluster %s: cannot read its version: %s", state.name, exc)
            return
        state.version = str((version or {}).get("gitVersion", ""))
