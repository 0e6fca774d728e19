"""Read kubeconfig files the way kubectl does: several files merge, the first definition wins."""

from __future__ import annotations

import base64
import binascii
import dataclasses
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


# --- one context, resolved -------------------------------------------------------------------


@dataclass(frozen=True)
class ServerEntry:
    """How to reach and trust one API server (a kubeconfig ``clusters[].cluster``)."""

    server: str
    ca_file: str | None = None
    """``certificate-authority``: a PEM file of trusted CAs."""
    ca_data: bytes | None = None
    """``certificate-authority-data``, decoded (PEM or DER); wins over ``ca_file``."""
    insecure: bool = False
    """``insecure-skip-tls-verify``: the server's certificate is not verified."""
    tls_server_name: str | None = None
    """``tls-server-name``: the name verified in the server's certificate (and sent as SNI)."""
    proxy_url: str | None = None
    """``proxy-url``: every request goes through this proxy."""


@dataclass(frozen=True)
class ExecPlugin:
    """A credential plugin to run (a kubeconfig ``users[].user.exec``)."""

    command: str
    api_version: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = dataclasses.field(default=(), repr=False)
    """Added to the hub's environment; values may be secret, so never shown."""
    provide_cluster_info: bool = False
    """``provideClusterInfo``: the plugin is told the server in KUBERNETES_EXEC_INFO."""


@dataclass(frozen=True)
class UserEntry:
    """Who the hub is on one API server (a kubeconfig ``users[].user``); secrets never shown."""

    cert_file: str | None = None
    cert_data: bytes | None = dataclasses.field(default=None, repr=False)
    key_file: str | None = None
    key_data: bytes | None = dataclasses.field(default=None, repr=False)
    token: str | None = dataclasses.field(default=None, repr=False)
    token_file: str | None = None
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    exec: ExecPlugin | None = None
    auth_provider: str | None = None
    """The name of a legacy ``auth-provider`` (oidc, gcp)."""


@dataclass(frozen=True)
class ContextEntry:
    """One kubeconfig context with its cluster and user looked up."""

    name: str
    cluster: ServerEntry
    user: UserEntry


class _Fields:
    """Reads typed fields of one kubeconfig mapping; remembers the first problem (never a value)."""

    def __init__(self, body: Any, where: str) -> None:
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}
        self.where = where
        self.problem: Problem | None = None

    def _fail(self, key: str, message: str) -> None:
        if self.problem is None:
            self.problem = Problem("InvalidKubeconfig", f"{key} {message}", self.where)

    def text(self, key: str) -> str | None:
        value = self.body.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value
        self._fail(key, "must be a string")
        return None

    def data(self, key: str) -> bytes | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            self._fail(key, "is not valid base64")
            return None

    def flag(self, key: str) -> bool:
        value = self.body.get(key)
        if value is None or isinstance(value, bool):
            return bool(value)
        self._fail(key, "must be true or false")
        return False

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.body.get(key)
        if value is None:
            return ()
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self._fail(key, "must be a list of strings")
        return ()

    def pairs(self, key: str) -> tuple[tuple[str, str], ...]:
        value = self.body.get(key)
        if value is None:
            return ()
        if isinstance(value, list) and all(_is_pair(v) for v in value):
            return tuple((v["name"], v["value"]) for v in value)
        self._fail(key, "must be a list of name/value pairs")
        return ()


def _is_pair(item: Any) -> bool:
    return isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("name", "value"))


def resolve_context(merged: dict[str, Any], name: str) -> ContextEntry | Problem:
    """Context ``name`` of a merged kubeconfig, its cluster and user read (kubectl's fields)."""
    context = _named(merged.get("contexts"), name)
    if context is None:
        return Problem("UnknownContext", f"no context {name!r}")
    body = context.get("context") or {}
    cluster_name, user_name = body.get("cluster"), body.get("user")
    cluster = _named(merged.get("clusters"), cluster_name)
    if cluster is None:
        return Problem(
            "UnknownCluster", f"context {name!r} names cluster {cluster_name!r}, not defined"
        )
    server = _server(_Fields(cluster.get("cluster"), f"cluster {cluster_name!r}"))
    user = _named(merged.get("users"), user_name) if user_name else None
    who = _user(_Fields((user or {}).get("user"), f"user {user_name!r}"))
    if isinstance(server, Problem):
        return server
    if isinstance(who, Problem):
        return who
    return ContextEntry(name, server, who)


def _server(fields: _Fields) -> ServerEntry | Problem:
    server = fields.text("server")
    entry = ServerEntry(
        server=server or "",
        ca_file=fields.text("certificate-authority"),
        ca_data=fields.data("certificate-authority-data"),
        insecure=fields.flag("insecure-skip-tls-verify"),
        tls_server_name=fields.text("tls-server-name"),
        proxy_url=fields.text("proxy-url"),
    )
    if fields.problem is None and not server:
        return Problem("InvalidKubeconfig", "server is missing", fields.where)
    return fields.problem or entry


def _user(fields: _Fields) -> UserEntry | Problem:
    raw_exec = fields.body.get("exec")
    plugin = None if raw_exec is None else _exec(_Fields(raw_exec, f"{fields.where} exec"))
    if isinstance(plugin, Problem):
        return plugin
    provider = fields.body.get("auth-provider")
    entry = UserEntry(
        cert_file=fields.text("client-certificate"),
        cert_data=fields.data("client-certificate-data"),
        key_file=fields.text("client-key"),
        key_data=fields.data("client-key-data"),
        token=fields.text("token"),
        token_file=fields.text("tokenFile"),
        username=fields.text("username"),
        password=fields.text("password"),
        exec=plugin,
        auth_provider=_Fields(provider, fields.where).text("name") if provider else None,
    )
    if provider and not entry.auth_provider:
        return Problem("InvalidKubeconfig", "auth-provider needs a name", fields.where)
    return fields.problem or entry


def _exec(fields: _Fields) -> ExecPlugin | Problem:
    command, api_version = fields.text("command"), fields.text("apiVersion")
    plugin = ExecPlugin(
        command=command or "",
        api_version=api_version or "",
        args=fields.texts("args"),
        env=fields.pairs("env"),
        provide_cluster_info=fields.flag("provideClusterInfo"),
    )
    if fields.problem is None and not (command and api_version):
        missing = "command" if not command else "apiVersion"
        return Problem("InvalidKubeconfig", f"{missing} is missing", fields.where)
    return fields.problem or plugin
