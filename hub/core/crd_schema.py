"""Building blocks of the CRDs the hub renders: schema pieces and the document around them.

Every CRD module (:mod:`hub.core.crds`, :mod:`hub.core.crd_cluster`,
:mod:`hub.core.objectsync_crds`, :mod:`hub.core.gitspec`) and the test kit's open CRDs build
their documents here, so the envelope and the shared schemas are written once. Pure.

The rendered YAML is compared with ``deploy/crds`` as text, and PyYAML writes an object
used twice in one document as an anchor and an alias: a builder here takes the sub-schemas
it places (shared or fresh) from its caller, so each document keeps its shape.
"""

from __future__ import annotations

from typing import Any

CRD_API_VERSION = "apiextensions.k8s.io/v1"
#: The category of SyncHub's own CRDs (``kubectl get synchub``).
SYNCHUB_CATEGORY = "synchub"

STRING: dict[str, Any] = {"type": "string"}
STRINGS: dict[str, Any] = {"type": "array", "items": STRING}


def label_selector(operator: dict[str, Any]) -> dict[str, Any]:
    """A metav1.LabelSelector schema, closed; ``operator`` is the schema of an operator."""
    expression = {
        "type": "object",
        "required": ["key", "operator"],
        "properties": {"key": STRING, "operator": operator, "values": STRINGS},
    }
    return {
        "type": "object",
        "properties": {
            "matchLabels": {"type": "object", "additionalProperties": STRING},
            "matchExpressions": {"type": "array", "items": expression},
        },
    }


def object_schema(
    spec: dict[str, Any], status: dict[str, Any], *, string: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of an object: ``apiVersion``, ``kind``, ``metadata``, both parts.

    ``string`` is the schema of ``apiVersion`` and ``kind`` (by default a fresh one each).
    """
    return {
        "type": "object",
        "properties": {
            "apiVersion": string if string is not None else {"type": "string"},
            "kind": string if string is not None else {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def synchub_names(kind: str, plural: str, short_names: list[str]) -> dict[str, Any]:
    """The ``names`` of one of SyncHub's own kinds, in the ``synchub`` category."""
    return {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
        "shortNames": short_names,
        "categories": [SYNCHUB_CATEGORY],
    }


def crd_document(
    group: str,
    names: dict[str, Any],
    versions: list[dict[str, Any]],
    *,
    scope: str = "Namespaced",
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The CustomResourceDefinition of ``names`` in ``group``, named ``<plural>.<group>``."""
    return {
        "apiVersion": CRD_API_VERSION,
        "kind": "CustomResourceDefinition",
        "metadata": metadata or {"name": f"{names['plural']}.{group}"},
        "spec": {"group": group, "scope": scope, "names": names, "versions": versions},
    }
