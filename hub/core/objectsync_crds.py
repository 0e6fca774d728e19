"""CustomResourceDefinitions of the three ObjectSync forms (docs/objectsync.md).

Structural schemas (a misspelt field is refused by the API server), a status subresource,
printer columns READY, DESTINATIONS and AGE, short names. The accepted forms' schemas keep
their tools' field names exactly, so their users' manifests apply unchanged.
"""

from __future__ import annotations

from typing import Any

from hub.core.objectsync import (
    READY_CONDITION,
    REPLIKA_GROUP,
    RUSTRIAL_GROUP,
    SOURCE_SYNCED_CONDITION,
    SYNCHUB_GROUP,
)

_STRING: dict[str, Any] = {"type": "string"}
_STRINGS: dict[str, Any] = {"type": "array", "items": _STRING}
_OPEN: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}

LABEL_SELECTOR: dict[str, Any] = {
    "type": "object",
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": _STRING},
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {"key": _STRING, "operator": _STRING, "values": _STRINGS},
            },
        },
    },
}

_CONDITION: dict[str, Any] = {
    "type": "object",
    "required": ["type", "status"],
    "properties": {
        "type": _STRING,
        "status": _STRING,
        "reason": _STRING,
        "message": _STRING,
        "lastTransitionTime": _STRING,
        "observedGeneration": {"type": "integer"},
    },
}

STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "observedGeneration": {"type": "integer"},
        "conditions": {"type": "array", "items": _CONDITION},
        "destinationSummary": _STRING,
        "destinations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "cluster": _STRING,
                    "namespace": _STRING,
                    "name": _STRING,
                    "status": _STRING,
                    "message": _STRING,
                    "syncedVersion": _STRING,
                },
            },
        },
    },
}


def _source(required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": {
            "group": _STRING,
            "version": _STRING,
            "kind": _STRING,
            "name": _STRING,
            "namespace": _STRING,
        },
    }


_STRATEGY: dict[str, Any] = {"type": "string", "enum": ["apply", "replace"]}


def _columns(condition: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": f'.status.conditions[?(@.type=="{condition}")].status',
        },
        {"name": "Destinations", "type": "string", "jsonPath": ".status.destinationSummary"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def _crd(
    group: str,
    kind: str,
    versions: tuple[str, ...],
    spec: dict[str, Any],
    *,
    condition: str,
    short_names: list[str],
) -> dict[str, Any]:
    plural = kind.lower() + "s"
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": _STRING,
            "kind": _STRING,
            "metadata": {"type": "object"},
            "spec": spec,
            "status": STATUS,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": ["synchub"],
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": version == versions[-1],
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _columns(condition),
                    "schema": {"openAPIV3Schema": schema},
                }
                for version in versions
            ],
        },
    }


def synchub_objectsync_crd() -> dict[str, Any]:
    """``objectsyncs.synchub.io``: SyncHub's own form, with clusters, selectors and keys."""
    destination = {
        "type": "object",
        "properties": {
            "namespace": _STRING,
            "namespaceSelector": LABEL_SELECTOR,
            "exclude": _STRINGS,
            "name": _STRING,
            "clusters": {
                "type": "object",
                "properties": {"names": _STRINGS, "selector": LABEL_SELECTOR},
            },
            # A list of keys to keep, or a map of keys to rename: two shapes, so left open.
            "keys": _OPEN,
            "strategy": _STRATEGY,
        },
    }
    spec = {
        "type": "object",
        "required": ["source", "destinations"],
        "properties": {
            "source": _source(["kind", "name"]),
            "destinations": {"type": "array", "items": destination},
            "strategy": _STRATEGY,
            "updateMode": {"type": "string", "enum": ["sync", "create-only"]},
        },
    }
    return _crd(
        SYNCHUB_GROUP,
        "ObjectSync",
        ("v1alpha1",),
        spec,
        condition=READY_CONDITION,
        short_names=["osync"],
    )


def rustrial_objectsync_crd() -> dict[str, Any]:
    """``objectsyncs.sync.rustrial.org``: k8s-object-syncer's form, field for field."""
    destination = {
        "type": "object",
        "required": ["namespace"],
        "properties": {"namespace": _STRING, "name": _STRING, "strategy": _STRATEGY},
    }
    spec = {
        "type": "object",
        "required": ["source", "destinations"],
        "properties": {
            "source": _source(["kind", "name"]),
            "destinations": {"type": "array", "items": destination},
        },
    }
    return _crd(
        RUSTRIAL_GROUP,
        "ObjectSync",
        ("v1alpha1",),
        spec,
        condition=READY_CONDITION,
        short_names=["objsync"],
    )


def replika_crd() -> dict[str, Any]:
    """``replikas.replika.prosimcorp.com``: Replika's form, v1alpha1 and v1beta1 (storage)."""
    spec = {
        "type": "object",
        "required": ["synchronization", "source", "target"],
        "properties": {
            "synchronization": {
                "type": "object",
                "required": ["time"],
                "properties": {"time": _STRING},
            },
            "source": _source(["group", "version", "kind", "name"]),
            "target": {
                "type": "object",
                "properties": {
                    "namespaces": {
                        "type": "object",
                        "required": ["matchAll"],
                        "properties": {
                            "replicateIn": _STRINGS,
                            "matchAll": {"type": "boolean"},
                            "excludeFrom": _STRINGS,
                        },
                    }
                },
            },
        },
    }
    return _crd(
        REPLIKA_GROUP,
        "Replika",
        ("v1alpha1", "v1beta1"),
        spec,
        condition=SOURCE_SYNCED_CONDITION,
        short_names=["rpk"],
    )
