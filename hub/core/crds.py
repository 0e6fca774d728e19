"""CustomResourceDefinitions for Federated types of both API generations (DESIGN.md §5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import yaml

from hub.core import gitspec, objectsync_crds
from hub.core.federation import FEDERATED_GROUPS, FEDERATED_PREFIX, FEDERATION_GROUP, KUBEFED_GROUP
from hub.core.objectsync import REPLIKA_GROUP, RUSTRIAL_GROUP, SYNCHUB_GROUP

DEFAULT_KINDS = ("Secret", "ConfigMap", "Deployment", "HelmRelease")
VERSIONS = {KUBEFED_GROUP: "v1beta1", FEDERATION_GROUP: "v1alpha1"}

#: CRDs of SyncHub's own group and of the accepted tools' groups: one builder per CRD.
#: Each feature adds its builders to its group's tuple.
GROUP_CRDS: dict[str, tuple[Callable[[], dict[str, Any]], ...]] = {
    SYNCHUB_GROUP: (objectsync_crds.synchub_objectsync_crd, gitspec.gitsync_crd),
    RUSTRIAL_GROUP: (objectsync_crds.rustrial_objectsync_crd,),
    REPLIKA_GROUP: (objectsync_crds.replika_crd,),
}
#: Every group ``synchub crds --group`` accepts.
ALL_GROUPS = (*FEDERATED_GROUPS, *GROUP_CRDS)
#: What ``synchub crds`` prints without ``--group``.
DEFAULT_GROUPS = (KUBEFED_GROUP, SYNCHUB_GROUP)

_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def federated_crd(group: str, kind: str) -> dict[str, Any]:
    """The CRD of ``Federated<kind>`` in ``group``: open template and overrides, status on."""
    federated = f"{FEDERATED_PREFIX}{kind}"
    names = {
        "kind": federated,
        "listKind": f"{federated}List",
        "plural": plural(federated),
        "singular": federated.lower(),
    }
    spec_schema = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "template": _OPEN,
            "placement": _OPEN,
            "overrides": {"type": "array", "items": _OPEN},
        },
    }
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": _OPEN,
        },
    }
    metadata: dict[str, Any] = {"name": f"{names['plural']}.{group}"}
    if group.endswith((".k8s.io", ".kubernetes.io")):
        # Protected groups need this annotation; "unapproved" is the honest value for the
        # archived federation-v2 group, and the API server accepts it.
        metadata["annotations"] = {
            "api-approved.kubernetes.io": "unapproved, legacy federation-v2 API group"
        }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": names,
            "versions": [
                {
                    "name": VERSIONS[group],
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def render_crds(
    groups: Sequence[str] = FEDERATED_GROUPS, kinds: Sequence[str] = DEFAULT_KINDS
) -> str:
    """A multi-document YAML stream of the CRDs, stable for diffing against ``deploy/crds``.

    ``kinds`` picks the Federated kinds; the other groups always print all their CRDs.
    """
    documents = [
        crd
        for g in groups
        for crd in (
            [federated_crd(g, k) for k in kinds]
            if g in FEDERATED_GROUPS
            else [build() for build in GROUP_CRDS[g]]
        )
    ]
    return yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)
