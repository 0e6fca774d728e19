"""What ``status``, ``reconcile``, ``suspend`` and ``resume`` share.

The master connection, ``KIND/NAME`` parsing and the synced objects' API groups.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from hub.config.settings import Config
from hub.core.errors import KubeError, UnknownResource, UsageError, UserError
from hub.core.federation import FEDERATED_GROUPS, SYNCHUB_GROUP
from hub.core.objects import Obj
from hub.kube.client import MERGE_PATCH, ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.resources import ResourceInfo

#: Groups whose objects SyncHub syncs and reports on (the Cluster registry is not one).
SYNCED_GROUPS = (*FEDERATED_GROUPS, SYNCHUB_GROUP, "sync.rustrial.org", "replika.prosimcorp.com")
NOT_SYNCED = frozenset({("synchub.io", "clusters")})


@dataclass(frozen=True)
class Target:
    """One object named on the command line, resolved against the master's discovery."""

    info: ResourceInfo
    namespace: str
    name: str

    @property
    def path(self) -> str:
        """The object's API path on the master."""
        return self.info.path(self.namespace, self.name)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.info.resource}.{self.info.group} {where}{self.name}"


def split_ref(text: str) -> tuple[str, str]:
    """``KIND/NAME`` -> (kind, name); anything else is a usage error."""
    kind, sep, name = text.partition("/")
    if not sep or not kind or not name or "/" in name:
        raise UsageError(f"{text!r}: expected KIND/NAME, e.g. federatedsecret/cloud-certificate")
    return kind, name


def synced_resources(discovery: Discovery) -> list[ResourceInfo]:
    """Every preferred-version resource of the synced groups the master serves."""
    return [
        info
        for info in discovery.resources
        if info.group in SYNCED_GROUPS
        and info.preferred
        and (info.group, info.resource) not in NOT_SYNCED
    ]


@asynccontextmanager
async def master_session(config: Config) -> AsyncIterator[tuple[ClusterClient, Discovery]]:
    """A connected, discovered master; its errors become one-line user errors (exit 1)."""
    try:
        async with await ClusterClient.connect(config.master) as master:
            discovery = Discovery(master)
            await discovery.refresh()
            yield master, discovery
    except UnknownResource as exc:
        raise UsageError(str(exc)) from None
    except KubeError as exc:
        raise UserError(str(exc)) from None


async def resolve(discovery: Discovery, ref: str, namespace: str | None) -> Target:
    """The object ``KIND/NAME`` (kubectl-style kind names) in ``namespace`` or ``default``."""
    kind, name = split_ref(ref)
    info = await discovery.resolve(kind)
    return Target(info, (namespace or "default") if info.namespaced else "", name)


async def annotate(
    master: ClusterClient, target: Target, annotations: dict[str, str | None]
) -> Obj:
    """Merge-patch annotations (``None`` removes one); returns the written object."""
    body = {"metadata": {"annotations": annotations}}
    written: Obj = await master.request("PATCH", target.path, body=body, content_type=MERGE_PATCH)
    return written
