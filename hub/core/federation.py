"""Constants and small helpers about Federated types (docs/federated.md).

Two API generations are read: ``types.kubefed.io/v1beta1`` (KubeFed, final) and
``types.federation.k8s.io/v1alpha1`` (Federation v2, the seed era). Everything here is pure.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from hub.core import objects

KUBEFED_GROUP = "types.kubefed.io"
SYNCHUB_GROUP = "synchub.io"
FEDERATION_GROUP = "types.federation.k8s.io"
FEDERATED_GROUPS = (KUBEFED_GROUP, FEDERATION_GROUP)

#: The API groups of a federation control plane (KubeFedCluster, FederatedCluster objects).
CONTROL_GROUPS = ("core.kubefed.io", "core.federation.k8s.io")
#: Where a running federation controller keeps its leader-election lock (docs/modes.md).
CONTROLLER_NAMESPACES = ("kube-federation-system", "federation-system")
#: Lock names KubeFed and Federation v2 use, read one by one when listing is forbidden.
CONTROLLER_LOCK_NAMES = ("kubefed-controller-manager", "federation-controller-manager")
#: The annotation of ConfigMap and Endpoints leader locks (client-go resourcelock).
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
#: A lock renewed longer ago than this belongs to no running controller.
CONTROLLER_FRESHNESS = 60.0

KUBEFED_API_VERSION = f"{KUBEFED_GROUP}/v1beta1"
FEDERATION_API_VERSION = f"{FEDERATION_GROUP}/v1alpha1"

FEDERATED_PREFIX = "Federated"

# Labels, annotations and the finalizer SyncHub puts on objects (docs/federated.md).
MANAGED_LABEL = "synchub.io/managed"
ORIGIN_ANNOTATION = "synchub.io/origin"
HASH_ANNOTATION = "synchub.io/desired-hash"
ADOPT_ANNOTATION = "synchub.io/adopt"
ORPHAN_ANNOTATIONS = ("synchub.io/orphan", "kubefed.io/orphan")
UPDATE_MODE_ANNOTATION = "synchub.io/update-mode"
UPDATE_MODE_CREATE_ONLY = "create-only"
ON_IMMUTABLE_ANNOTATION = "synchub.io/on-immutable"
ON_IMMUTABLE_RECREATE = "recreate"
SUSPEND_ANNOTATION = "synchub.io/suspend"
RECONCILE_AT_ANNOTATION = "synchub.io/reconcile-at"
FINALIZER = "synchub.io/propagation"
#: ``replace`` makes member copies exactly the rendered object (docs/propagation.md).
STRATEGY_ANNOTATION = "synchub.io/strategy"
STRATEGY_REPLACE = "replace"
#: KubeFed's own configuration; ``spec.adoptResources: Enabled`` there means adopt.
KUBEFED_CONFIG_GROUP = "core.kubefed.io"
KUBEFED_CONFIG_KIND = "KubeFedConfig"
KUBEFED_SYSTEM_NAMESPACE = "kube-federation-system"
MASTER_LABEL = "cluster-master"
PROPAGATION_CONDITION = "Propagation"
FIELD_MANAGER = "synchub"
#: Status field a controller sets to the reconcile-at value it has handled (docs/cli.md).
LAST_HANDLED_FIELD = "lastHandledReconcileAt"


class ApiGeneration(StrEnum):
    """Which Federated API generation an object belongs to."""

    KUBEFED = "kubefed"  # types.kubefed.io/v1beta1
    FEDERATION = "federation"  # types.federation.k8s.io/v1alpha1


class ClusterStatus(StrEnum):
    """Per-cluster propagation status written to ``status.clusters[].status``."""

    PROPAGATED = "Propagated"
    ALREADY_EXISTS = "AlreadyExists"
    CLUSTER_NOT_READY = "ClusterNotReady"
    APPLY_FAILED = "ApplyFailed"
    DELETION_FAILED = "DeletionFailed"
    WAITING_FOR_REMOVAL = "WaitingForRemoval"
    ORPHANED = "Orphaned"
    CREDENTIALS_INVALID = "CredentialsInvalid"
    SUSPENDED = "Suspended"


def api_group(api_version: str) -> str:
    """Return the group of an apiVersion (``"apps/v1"`` -> ``"apps"``, core ``"v1"`` -> ``""``)."""
    group, sep, _ = api_version.rpartition("/")
    return group if sep else ""


def api_generation(api_version_or_group: str) -> ApiGeneration:
    """Return the Federated API generation of an apiVersion or bare group.

    Raises ``ValueError`` when the group is not one of the two Federated type groups.
    """
    group = api_version_or_group.split("/", 1)[0]
    if group == KUBEFED_GROUP:
        return ApiGeneration.KUBEFED
    if group == FEDERATION_GROUP:
        return ApiGeneration.FEDERATION
    raise ValueError(f"{api_version_or_group!r} is not a Federated type group or apiVersion")


def is_federated_kind(kind: str) -> bool:
    """True for ``Federated<Kind>`` names with a non-empty target kind."""
    return kind.startswith(FEDERATED_PREFIX) and len(kind) > len(FEDERATED_PREFIX)


def target_kind(federated_kind: str) -> str:
    """Return the member kind of a Federated kind (``FederatedSecret`` -> ``Secret``).

    Raises ``ValueError`` when the prefix is missing or nothing follows it.
    """
    if not is_federated_kind(federated_kind):
        raise ValueError(f"kind {federated_kind!r} is not a {FEDERATED_PREFIX}<Kind> type")
    return federated_kind[len(FEDERATED_PREFIX) :]


def federated_kind(kind: str) -> str:
    """Return the Federated kind for a member kind (``Secret`` -> ``FederatedSecret``)."""
    return f"{FEDERATED_PREFIX}{kind}"


def annotation_is_true(obj: Mapping[str, Any], *names: str) -> bool:
    """True when any of the named annotations on ``obj`` is the string ``"true"``.

    Used for boolean opt-ins such as adopt and orphan; only the exact string counts, so a
    typo never turns a destructive default off or on by accident.
    """
    annotations = objects.annotations_of(obj)
    return any(annotations.get(name) == "true" for name in names)


def deletion_timed_out(obj: Mapping[str, Any], timeout: float, now: datetime.datetime) -> bool:
    """True when ``obj`` has been deleting longer than ``timeout`` seconds at ``now``.

    Deleting is ``metadata.deletionTimestamp``; past the timeout an unreachable cluster no
    longer holds its finalizer (``propagation.deletionTimeout``, docs/propagation.md). An
    unreadable stamp counts as timed out, so a malformed object never stays forever.
    """
    stamp = str((obj.get("metadata") or {}).get("deletionTimestamp", ""))
    try:
        since = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return True
    if since.tzinfo is None:
        since = since.replace(tzinfo=datetime.UTC)
    return (now - since).total_seconds() > timeout


def lock_renew_time(lock: Mapping[str, Any]) -> datetime.datetime | None:
    """When a leader-election lock was last renewed; ``None`` when it has no renew time.

    That is a Lease's ``spec.renewTime``, or the ``renewTime`` in a ConfigMap/Endpoints lock
    annotation.
    """
    raw: object = None
    if lock.get("kind") == "Lease":
        raw = (lock.get("spec") or {}).get("renewTime")
    else:
        annotations = (lock.get("metadata") or {}).get("annotations") or {}
        try:
            record = json.loads(annotations.get(LEADER_ANNOTATION) or "null")
        except ValueError:
            return None
        raw = record.get("renewTime") if isinstance(record, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        stamp = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.UTC)


def controller_running(
    locks: Iterable[Mapping[str, Any]],
    now: datetime.datetime,
    freshness: float = CONTROLLER_FRESHNESS,
) -> bool:
    """True when any lock was renewed within ``freshness`` seconds before ``now``.

    A renew time a little in the future (clock skew between hub and master) counts as fresh.
    """
    for lock in locks:
        renewed = lock_renew_time(lock)
        if renewed is not None and (now - renewed).total_seconds() <= freshness:
            return True
    return False


def propagation_mode(configured: str, controller_running: bool) -> str:
    """The mode in force.

    ``auto`` means ``federation`` while a federation controller runs (its leader lock is
    fresh), else ``direct`` (the hub propagates). CRDs alone never count.
    """
    if configured != "auto":
        return configured
    return "federation" if controller_running else "direct"
