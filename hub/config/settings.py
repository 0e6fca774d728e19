"""The settings of ``clusters.yaml`` as frozen dataclasses (parsed by :mod:`hub.config.loader`).

Each field's docstring gives its ``clusters.yaml`` key, meaning, unit and default; users'
documentation of the file is ``docs/configuration.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hub.kube.kubeconfig import ClientConfig

PropagationMode = Literal["auto", "federation", "direct"]
CrossNamespacePolicy = Literal["deny", "source-opt-in", "allow"]


@dataclass(frozen=True)
class ClusterConfig(ClientConfig):
    """One cluster of ``clusters.yaml``: how to reach it, plus what placement needs."""

    labels: Mapping[str, str]
    """``labels``: configured labels for placement; the master always carries
    ``cluster-master: "true"``. Default: none."""
    is_master: bool = False
    """Whether this is the master cluster (the ``master:`` entry)."""


@dataclass(frozen=True)
class PropagationConfig:
    """``propagation:``: how the hub pushes Federated objects to members itself."""

    mode: PropagationMode = "auto"
    """``mode``: ``federation`` leaves propagation to a federation controller, ``direct``
    makes the hub propagate, ``auto`` chooses ``federation`` only while a federation
    controller runs on the master. Default ``auto``."""
    create_namespaces: bool = True
    """``createNamespaces``: create a missing namespace on a member before writing a copy
    into it. Default true."""
    adopt: bool = False
    """``adopt``: take over member objects the hub did not create (else they are reported
    ``AlreadyExists``; the per-object annotation can still allow it). Default false."""
    deletion_timeout: float = 300.0
    """``deletionTimeout``: longest an unreachable cluster may hold a deletion, in seconds
    (written as a duration: ``30s``, ``5m``, ``1h30m``). Default 5m."""
    concurrency: int = 4
    """``concurrency``: objects written at once per cluster (each cluster's lane has this
    many workers). Default 4 (measured: docs/configuration.md, "Throughput")."""


@dataclass(frozen=True)
class ClientLimits:
    """``client:``: how hard the hub may drive each API server."""

    qps: float = 0.0
    """``qps``: requests per second per cluster, on average; 0 (the default) is no limit
    (measured: docs/configuration.md, "Throughput")."""
    burst: int = 100
    """``burst``: requests a cluster may receive at once above ``qps``. Default 100."""


@dataclass(frozen=True)
class LeaderElectionConfig:
    """``leaderElection:``: one active hub among replicas, through a Lease on the master."""

    enabled: bool = False
    """``enabled``: hold a ``coordination.k8s.io`` Lease before writing. Default false
    (true in deploy/)."""
    namespace: str = "synchub-system"
    """``namespace``: the master namespace of the Lease. Default ``synchub-system``."""


@dataclass(frozen=True)
class CopyConfig:
    """``copy:``: limits on copy rules."""

    cross_namespace: CrossNamespacePolicy = "source-opt-in"
    """``crossNamespace``: may a rule read a source in another namespace? ``deny``,
    ``allow``, or ``source-opt-in`` (the source must list the target's namespace in its
    allow annotation). Default ``source-opt-in``."""


@dataclass(frozen=True)
class ObjectSyncConfig:
    """``objectSync:``: limits on ObjectSync (docs/objectsync.md)."""

    allowed_resources: tuple[str, ...] = ("secrets", "configmaps")
    """``allowedResources``: the resources (``resource[.group]``, e.g. ``cronjobs.batch``) an
    ObjectSync may copy; a sync of any other kind is refused on the object. Default
    ``[secrets, configmaps]``, matching the RBAC in deploy/."""


@dataclass(frozen=True)
class GitConfig:
    """``git:``: GitSync settings (docs/gitsync.md)."""

    allow_transforms: bool = False
    """``allowTransforms``: may GitSync transform commands run? They execute code from the
    repository on the hub. Default false."""
    system_namespace: str = "synchub-system"
    """``systemNamespace``: GitSyncs here apply with the hub's own identity; GitSyncs anywhere
    else must name a ServiceAccount to impersonate. Default ``synchub-system``."""


@dataclass(frozen=True)
class Config:
    """The whole of ``clusters.yaml``, validated (kubeconfig contexts included)."""

    path: Path
    """The file it was read from (named in messages)."""
    master: ClusterConfig
    """``master:``: the cluster holding the Federated objects and copy sources."""
    members: tuple[ClusterConfig, ...]
    """``members:``: the clusters the hub propagates to. Default none."""
    targets: tuple[str, ...] = ()
    """``targets``: resources whose copy annotations are resolved, as
    ``{KIND|RESOURCE}[[.VERSION].GROUP]``; empty (the default) means every resource of the
    Federated type groups the master serves."""
    namespaces: tuple[str, ...] = ()
    """``namespaces``: master namespaces to watch (sources too, so no cluster-wide read
    access is needed); empty (the default) means all."""
    propagation: PropagationConfig = field(default_factory=PropagationConfig)
    """``propagation:`` settings."""
    client: ClientLimits = field(default_factory=ClientLimits)
    """``client:`` settings."""
    leader_election: LeaderElectionConfig = field(default_factory=LeaderElectionConfig)
    """``leaderElection:`` settings."""
    copy: CopyConfig = field(default_factory=CopyConfig)
    """``copy:`` settings."""
    object_sync: ObjectSyncConfig = field(default_factory=ObjectSyncConfig)
    """``objectSync:`` settings."""
    git: GitConfig = field(default_factory=GitConfig)
    """``git:`` settings."""

    @property
    def clusters(self) -> tuple[ClusterConfig, ...]:
        """The master first, then the members."""
        return (self.master, *self.members)
