"""Read kubeconfig files the way kubectl does: several files merge, the first definition wins."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.core import yamlfile
from hub.core.errors import KubeconfigError
from hub.core.problems import Problem

IN_CLUSTER = "in-cluster"


@dataclass(frozen=True)
class ClientConfig:
    """How to reach one API server: a kubeconfig context, or the pod's own service account."""

    name: str
    """The cluster's name in SyncHub (placement, metrics, messages)."""
    context: str
    """The kubeconfig context, or ``in-cluster`` for the pod's service account."""
    kubeconfig: tuple[Path, ...]
    """Files merged kubectl-style; empty for in-cluster."""

    @property
    def in_cluster(self) -> bool:
        """Whether the pod's own service account is used instead of a kubeconfig."""
        return self.context == IN_CLUSTER


def default_kubeconfig_paths(environ: dict[str, str] | None = None) -> tuple[Path, ...]:
    """``$KUBECONFIG`` (a path list, like kubectl), else ``~/.kube/config``."""
    env = os.environ if environ is None else environ
    raw = env.get("KUBECONFIG", "")
    paths = [expand(p) for p in raw.split(os.pathsep) if p.strip()]
    return tuple(dict.fromkeys(paths)) or (expand("~/.kube/config"),)


def expand(path: str) -> Path:
    """A path from user input with ``~`` and ``$VARS`` expanded."""
    return Path(os.path.expandvars(os.path.expanduser(path.strip())))


@dataclass(frozen=True)
class KubeconfigSet:
    """The merged content of one or more kubeconfig files."""

    paths: tuple[Path, ...]
    merged: dict[str, Any]

    def has_context(self, name: str) -> bool:
        """Whether a context of that name is defined."""
        return any(c.get("name") == name for c in self.merged.get("contexts") or [])

    def context_names(self) -> list[str]:
        """The names of every context, in file order."""
        return [str(c.get("name")) for c in self.merged.get("contexts") or []]

    def server_of(self, context: str) -> str | None:
        """The API server URL a context points at, or None if it cannot be told."""
        ctx = _named(self.merged.get("contexts"), context)
        cluster_name = (ctx or {}).get("context", {}).get("cluster")
        cluster = _named(self.merged.get("clusters"), cluster_name)
        server = (cluster or {}).get("cluster", {}).get("server")
        return str(server).rstrip("/") if server else None

    def describe(self) -> str:
        """The files, joined like ``$KUBECONFIG``, for messages."""
        return os.pathsep.join(str(p) for p in self.paths)


def _named(items: Any, name: Any) -> dict[str, Any] | None:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def merge_kubeconfigs(documents: Sequence[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """Merge parsed kubeconfigs; for named entries and scalars the first file wins (kubectl rule).

    Relative file references are made absolute against the file that holds them, so the
    merged dict can be used on its own.
    """
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    for path, doc in documents:
        base = path.absolute().parent  # a relative $KUBECONFIG entry must not leave them relative
        for section, field, file_keys in (
            ("clusters", "cluster", ("certificate-authority",)),
            ("users", "user", ("client-certificate", "client-key", "tokenFile")),
            ("contexts", "context", ()),
        ):
            seen = {entry.get("name") for entry in merged[section]}
            for entry in doc.get(section) or []:
                if not isinstance(entry, dict) or entry.get("name") in seen:
                    continue
                merged[section].append(_absolutise(entry, field, file_keys, base))
                seen.add(entry.get("name"))
        if "current-context" not in merged and doc.get("current-context"):
            merged["current-context"] = doc["current-context"]
    return merged


def _absolutise(
    entry: dict[str, Any], field: str, keys: tuple[str, ...], base: Path
) -> dict[str, Any]:
    body = dict(entry.get(field) or {})
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            body[key] = str(base / value)
    return {**entry, field: body}


def load_kubeconfigs(paths: Sequence[Path], *, config_file: str, key: str) -> KubeconfigSet:
    """Read and merge kubeconfig files; a missing file is skipped like kubectl, unless all are."""
    documents: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        if not path.exists():
            continue
        try:
            text = path.read_text()
        except OSError as exc:
            raise KubeconfigError(
                config_file, key, f"cannot read kubeconfig {path}: {exc.strerror}"
            ) from None
        parsed = yamlfile.load(text)
        if isinstance(parsed, Problem):
            raise KubeconfigError(
                config_file, key, f"kubeconfig {path} is not valid YAML: {parsed}"
            )
        doc = parsed.value or {}
        if not isinstance(doc, dict):
            raise KubeconfigError(config_file, key, f"kubeconfig {path} is not a mapping")
        problem = _shape_problem(doc)
        if problem:
            raise KubeconfigError(config_file, key, f"kubeconfig {path}: {problem}")
        documents.append((path, doc))
    if not documents:
        names = ", ".join(str(p) for p in paths)
        raise KubeconfigError(config_file, key, f"kubeconfig not found: {names}")
    return KubeconfigSet(tuple(paths), merge_kubeconfigs(documents))


def _shape_problem(doc: dict[str, Any]) -> str | None:
    """What makes a parsed kubeconfig unusable for merging, or None."""
    for section, field in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
        entries = doc.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            return f"{section} must be a list"
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                return f"{section}[{i}] must be a mapping with a name"
            if not isinstance(entry.get(field) or {}, dict):
                return f"{section}[{i}].{field} must be a mapping"
    return None
