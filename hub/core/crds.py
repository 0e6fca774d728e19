"""CustomResourceDefinitions: Federated types of both API generations, and SyncHub's own.

Federated CRDs (docs/federated-types.md) have a structural schema for ``placement`` and
``overrides``, so a misspelt field there is refused by the API server (kubectl validates
strictly), while ``template`` and override values stay open. The ``synchub.io`` CRDs come from
their own modules (:mod:`hub.core.crd_cluster`, :mod:`hub.core.objectsync_crds`, ...) and are
listed in :data:`GROUP_CRDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import yaml

from hub.core import crd_cluster, gitspec, objectsync_crds
from hub.core.crd_schema import STRING, STRINGS, crd_document, label_selector, object_schema
from hub.core.federation import (
    FEDERATED_GROUPS,
    FEDERATED_PREFIX,
    FEDERATION_GROUP,
    KUBEFED_GROUP,
    PROPAGATION_CONDITION,
    SYNCHUB_GROUP,
)
from hub.core.objects import Obj
from hub.core.objectsync import REPLIKA_GROUP, RUSTRIAL_GROUP

DEFAULT_KINDS = ("Secret", "ConfigMap", "Deployment", "HelmRelease")
VERSIONS = {KUBEFED_GROUP: "v1beta1", FEDERATION_GROUP: "v1alpha1"}
CATEGORY = "federated"
#: Short names of the target kinds (kubectl's), prefixed with "f" as kubefedctl did.
_TARGET_SHORT_NAMES = {"Deployment": ("deploy",), "ConfigMap": ("cm",), "HelmRelease": ("hr",)}

#: CRDs of SyncHub's own group and of the accepted tools' groups: one builder per CRD.
#: Each feature adds its builders to its group's tuple.
GROUP_CRDS: dict[str, tuple[Callable[[], dict[str, Any]], ...]] = {
    SYNCHUB_GROUP: (
        objectsync_crds.synchub_objectsync_crd,
        gitspec.gitsync_crd,
        crd_cluster.cluster_crd,
    ),
    RUSTRIAL_GROUP: (objectsync_crds.rustrial_objectsync_crd,),
    REPLIKA_GROUP: (objectsync_crds.replika_crd,),
}
#: Every group ``synchub crds --group`` accepts.
ALL_GROUPS = (*FEDERATED_GROUPS, *GROUP_CRDS)
#: What ``synchub crds`` prints without ``--group``: one Federated group, so a bare
#: ``kubectl get federatedsecrets`` is never shadowed by the other generation.
DEFAULT_GROUPS = (KUBEFED_GROUP, SYNCHUB_GROUP)

_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_ANY: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}  # any JSON value

#: A metav1.LabelSelector, closed: a misspelt ``matchLabel`` is refused, not ignored.
LABEL_SELECTOR: dict[str, Any] = label_selector(
    {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]}
)


def _placement(group: str) -> dict[str, Any]:
    """KubeFed lists clusters as ``[{name}]``, the seed era as ``clusterNames: [name]``."""
    properties: dict[str, Any] = {"clusterSelector": LABEL_SELECTOR}
    if group == KUBEFED_GROUP:
        properties["clusters"] = {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": STRING}},
        }
    else:
        properties["clusterNames"] = STRINGS
    return {"type": "object", "properties": properties}


def _overrides(group: str) -> dict[str, Any]:
    override: dict[str, Any] = {
        "type": "object",
        "required": ["path"],
        "properties": {"path": STRING, "value": _ANY},
    }
    if group == KUBEFED_GROUP:
        override["properties"]["op"] = {"type": "string", "enum": ["add", "remove", "replace"]}
    entry = {
        "type": "object",
        "required": ["clusterName"],
        "properties": {
            "clusterName": STRING,
            "clusterOverrides": {"type": "array", "items": override},
        },
    }
    return {"type": "array", "items": entry}


def _columns() -> list[dict[str, Any]]:
    ready = f'.status.conditions[?(@.type=="{PROPAGATION_CONDITION}")].status'
    return [
        {"name": "Ready", "type": "string", "jsonPath": ready},
        {
            "name": "Clusters",
            "type": "integer",
            "jsonPath": ".status.clusterCount",
            "description": "Clusters the object is placed on",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def federated_name(kind: str) -> str:
    """``Secret`` or ``FederatedSecret`` -> ``FederatedSecret`` (never ``FederatedFederated…``)."""
    return kind if kind.startswith(FEDERATED_PREFIX) else f"{FEDERATED_PREFIX}{kind}"


def plural(kind: str) -> str:
    """The lower-case English plural of a kind, as kubebuilder makes it."""
    lower = kind.lower()
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def _names(group: str, federated: str) -> dict[str, Any]:
    names: dict[str, Any] = {
        "kind": federated,
        "listKind": f"{federated}List",
        "plural": plural(federated),
        "singular": federated.lower(),
        "categories": [CATEGORY],
    }
    if group == KUBEFED_GROUP:
        # Only one generation gets short names: the two never shadow each other's.
        target = federated[len(FEDERATED_PREFIX) :]
        shorts = (target.lower(), *_TARGET_SHORT_NAMES.get(target, ()))
        names["shortNames"] = [f"f{short}" for short in shorts]
    return names


def _schema(group: str) -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "properties": {
            "template": _OPEN,
            "placement": _placement(group),
            "overrides": _overrides(group),
        },
    }
    return object_schema(spec_schema, _OPEN)


def federated_crd(group: str, kind: str) -> dict[str, Any]:
    """The CRD of ``Federated<kind>`` in ``group``.

    Open template, closed placement and overrides, status subresource, category
    ``federated`` and printer columns.
    """
    names = _names(group, federated_name(kind))
    metadata: dict[str, Any] = {"name": f"{names['plural']}.{group}"}
    if group.endswith((".k8s.io", ".kubernetes.io")):
        # Protected groups need this annotation; "unapproved" is the honest value for the
        # archived federation-v2 group, and the API server accepts it.
        metadata["annotations"] = {
            "api-approved.kubernetes.io": "unapproved, legacy federation-v2 API group"
        }
    version = {
        "name": VERSIONS[group],
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": _schema(group)},
        "additionalPrinterColumns": _columns(),
    }
    return crd_document(group, names, [version], metadata=metadata)


def group_crds(group: str, kinds: Sequence[str] = ()) -> list[Obj]:
    """The CRDs of a non-Federated group: all, or those ``kinds`` names (by kind or alias)."""
    documents = [build() for build in GROUP_CRDS[group]]
    if not kinds:
        return documents
    return [d for d in documents if _names_kind(d, kinds)]


def _names_kind(crd: Obj, kinds: Sequence[str]) -> bool:
    kind = crd["spec"]["names"]["kind"]
    aliases = crd_cluster.KIND_ALIASES if kind == crd_cluster.KIND else {kind}
    return any(k in aliases for k in kinds)


def crd_documents(groups: Sequence[str], kinds: Sequence[str] = ()) -> list[Obj]:
    """The CRDs of ``groups``; ``kinds`` narrows them.

    A Federated kind is named by its target kind, with or without the prefix.
    ``FederatedCluster`` names the ``synchub.io`` cluster registry (its short name is
    ``federatedcluster``, as the seeds' kubectl commands use).
    """
    own = {k for k in kinds if any(group_crds(g, [k]) for g in GROUP_CRDS)}
    documents: list[Obj] = []
    for group in groups:
        if group in GROUP_CRDS:
            documents += group_crds(group, kinds)
            continue
        wanted = [k for k in kinds if k not in own] if kinds else list(DEFAULT_KINDS)
        documents += [federated_crd(group, k) for k in wanted]
    return documents


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
    return dump(documents)


def dump(documents: Sequence[Obj]) -> str:
    """CRDs as one multi-document YAML stream, keys in writing order."""
    return yaml.safe_dump_all(list(documents), sort_keys=False, explicit_start=True)
