"""The ``synchub.io/v1alpha1`` ``Cluster`` CRD: the cluster registry (docs/clusters.md).

One cluster-scoped object per configured cluster, named like it. Its short names include
``federatedcluster``, so the seeds' ``kubectl label federatedcluster mymaster
cluster-master=true`` works as written; labels set on it feed placement.
"""

from __future__ import annotations

from typing import Any

from hub.core.crd_schema import crd_document, synchub_names
from hub.core.federation import MANAGED_LABEL, SYNCHUB_GROUP

KIND = "Cluster"
VERSION = "v1alpha1"
PLURAL = "clusters"
API_VERSION = f"{SYNCHUB_GROUP}/{VERSION}"
#: ``synchub crds --kind`` accepts either name for this CRD.
KIND_ALIASES = frozenset({KIND, "FederatedCluster"})
SHORT_NAMES = ("federatedcluster", "federatedclusters", "shcluster")
READY_CONDITION = "Ready"

_STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ready": {"type": "boolean"},
        "version": {"type": "string", "description": "Kubernetes version the cluster serves"},
        "reason": {"type": "string"},
        "message": {"type": "string"},
        "conditions": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    },
}


def cluster_crd() -> dict[str, Any]:
    """The CRD document (cluster-scoped, status subresource, READY and VERSION columns)."""
    version = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    # Nothing to configure yet: clusters.yaml says how to reach a cluster.
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "status": _STATUS,
                },
            }
        },
        "additionalPrinterColumns": [
            {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready"},
            {"name": "Version", "type": "string", "jsonPath": ".status.version"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    }
    names = synchub_names(KIND, PLURAL, list(SHORT_NAMES))
    return crd_document(SYNCHUB_GROUP, names, [version], scope="Cluster")


def placement_labels(obj: dict[str, Any]) -> dict[str, str]:
    """The labels a user set on a ``Cluster`` (SyncHub's own marker label left out)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items() if k != MANAGED_LABEL}
