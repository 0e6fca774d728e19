"""Load and validate ``clusters.yaml`` (docs/configuration.md) into :mod:`hub.config.settings`.

Every problem is a :class:`ConfigError` naming the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from hub.config.settings import (
    ClientLimits,
    ClusterConfig,
    Config,
    CopyConfig,
    CrossNamespacePolicy,
    GitConfig,
    LeaderElectionConfig,
    ObjectSyncConfig,
    PropagationConfig,
    PropagationMode,
)
from hub.core import names, yamlfile
from hub.core.describe import type_of
from hub.core.durations import parse_duration
from hub.core.errors import ConfigError, KubeconfigError
from hub.core.federation import MASTER_LABEL
from hub.kube.kubeconfig import (
    IN_CLUSTER,
    KubeconfigSet,
    default_kubeconfig_paths,
    expand,
    load_kubeconfigs,
)

DEFAULT_CONFIG = "clusters.yaml"
CONFIG_ENV = "SYNCHUB_CONFIG"


def config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``-c`` wins, then ``$SYNCHUB_CONFIG``, then ``./clusters.yaml``."""
    env = os.environ if environ is None else environ
    return Path(explicit or env.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: Path, environ: dict[str, str] | None = None) -> Config:
    """Read, parse and validate a configuration file, kubeconfig contexts included."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None
    return parse_config(text, path, environ)


def parse_config(text: str, path: Path, environ: dict[str, str] | None = None) -> Config:
    """Parse and validate configuration ``text`` read from ``path``, kubeconfigs included.

    A duplicate key is an error like any other (docs/configuration.md).
    """
    raw = yamlfile.load_data(text)
    if isinstance(raw, yamlfile.YamlFault):
        raise ConfigError(str(path), raw.where, raw.problem)
    return _Parser(str(path), environ).config(raw, path)


_TOP_KEYS = frozenset(
    {
        "kubeconfig",
        "master",
        "members",
        "targets",
        "namespaces",
        "propagation",
        "client",
        "leaderElection",
        "copy",
        "objectSync",
        "git",
    }
)
_CLUSTER_KEYS = frozenset({"name", "context", "kubeconfig", "labels"})
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


class _Parser:
    def __init__(self, file: str, environ: dict[str, str] | None) -> None:
        self.file = file
        self.environ = environ

    def in_pod(self) -> bool:
        env = os.environ if self.environ is None else self.environ
        return bool(env.get("KUBERNETES_SERVICE_HOST"))

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, key, problem)

    def mapping(self, value: Any, key: str, allowed: frozenset[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key or "(top level)", f"must be a mapping, got {type_of(value)}")
        for name in value:
            if name not in allowed:
                prefix = f"{key}." if key else ""
                known = ", ".join(sorted(allowed))
                raise self.fail(f"{prefix}{name}", f"unknown key (known keys: {known})")
        return cast(dict[str, Any], value)

    def string(self, value: Any, key: str, default: str | None = None) -> str:
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {type_of(value)}")
        return value

    def boolean(self, value: Any, key: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {type_of(value)}")
        return value

    def number(self, value: Any, key: str, default: float, *, least: float) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < least:
            raise self.fail(key, f"must be a number >= {least:g}, got {value!r}")
        return float(value)

    def whole(self, value: Any, key: str, default: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, f"must be a whole number >= 1, got {value!r}")
        return value

    def choice(self, value: Any, key: str, choices: tuple[str, ...]) -> str:
        if value is None:
            return choices[0]
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return cast(str, value)

    def string_list(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of strings, got {type_of(value)}")
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(value))

    def config(self, raw: Any, path: Path) -> Config:
        top = self.mapping(raw, "", _TOP_KEYS)
        if raw is None:
            raise self.fail("", "file is empty")
        default_paths = (
            (expand(self.string(top["kubeconfig"], "kubeconfig")),)
            if top.get("kubeconfig") is not None
            else default_kubeconfig_paths(self.environ)
        )
        if "master" not in top:
            raise self.fail("master", "is required")
        master = self.cluster(top["master"], "master", default_paths, is_master=True)
        members_raw = top.get("members")
        if members_raw is not None and not isinstance(members_raw, list):
            raise self.fail("members", f"must be a list, got {type_of(members_raw)}")
        members = tuple(
            self.cluster(item, f"members[{i}]", default_paths, is_master=False)
            for i, item in enumerate(members_raw or [])
        )
        self.check_distinct(master, members)
        return Config(
            path=path,
            master=master,
            members=members,
            targets=self.targets(top.get("targets")),
            namespaces=self.namespaces(top.get("namespaces")),
            propagation=self.propagation(top.get("propagation")),
            client=self.client(top.get("client")),
            leader_election=self.leader_election(top.get("leaderElection")),
            copy=self.copy(top.get("copy")),
            object_sync=self.object_sync(top.get("objectSync")),
            git=self.git(top.get("git")),
        )

    def cluster(
        self, raw: Any, key: str, default_paths: tuple[Path, ...], *, is_master: bool
    ) -> ClusterConfig:
        body = self.mapping(raw, key, _CLUSTER_KEYS)
        if raw is None:
            raise self.fail(key, "must be a mapping with at least a context")
        name = self.string(body.get("name"), f"{key}.name", "master" if is_master else None)
        if not names.is_dns_label(name):
            raise self.fail(f"{key}.name", f"{name!r} is not a valid cluster name (DNS label)")
        context_raw = body.get("context")
        if context_raw is None and is_master and self.in_pod():
            context_raw = IN_CLUSTER  # running as a pod on the master: its service account
        context = self.string(context_raw, f"{key}.context")
        labels = self.labels(body.get("labels"), f"{key}.labels")
        if is_master:
            labels = {**labels, MASTER_LABEL: "true"}
        if context == IN_CLUSTER:
            paths: tuple[Path, ...] = ()
        else:
            paths = default_paths
            if body.get("kubeconfig") is not None:
                paths = (expand(self.string(body["kubeconfig"], f"{key}.kubeconfig")),)
            kubeconfig = self.kubeconfigs(paths, f"{key}.kubeconfig")
            self.check_context(kubeconfig, context, f"{key}.context")
        return ClusterConfig(name, context, paths, MappingProxyType(labels), is_master)

    def kubeconfigs(self, paths: tuple[Path, ...], key: str) -> KubeconfigSet:
        """Read kubeconfig files; a problem with them is a configuration error at start-up."""
        try:
            return load_kubeconfigs(paths, config_file=self.file, key=key)
        except KubeconfigError as exc:
            raise ConfigError(exc.file, exc.key, exc.problem) from None

    def check_context(self, kubeconfig: KubeconfigSet, context: str, key: str) -> None:
        if kubeconfig.has_context(context):
            return
        known = ", ".join(kubeconfig.context_names()) or "none"
        raise self.fail(
            key,
            f"context {context!r} not found in kubeconfig {kubeconfig.describe()} "
            f"(contexts: {known})",
        )

    def labels(self, raw: Any, key: str) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(key, f"must be a mapping of label keys to values, got {type_of(raw)}")
        labels: dict[str, str] = {}
        for name, value in raw.items():
            if names.label_key_problem(name) is not None:
                raise self.fail(f"{key}.{name}", "is not a valid label key")
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise self.fail(
                    f"{key}.{name}", f"label value must be a string, got {type_of(value)}"
                )
            text = str(value)
            if names.label_value_problem(text) is not None:
                raise self.fail(f"{key}.{name}", f"{text!r} is not a valid label value")
            labels[name] = text
        return labels

    def check_distinct(self, master: ClusterConfig, members: tuple[ClusterConfig, ...]) -> None:
        seen: dict[str, str] = {master.name: "master"}
        for i, member in enumerate(members):
            key = f"members[{i}]"
            if member.name in seen:
                raise self.fail(
                    f"{key}.name",
                    f"duplicate cluster name {member.name!r} (also {seen[member.name]})",
                )
            seen[member.name] = key
            same_context = member.context == master.context and (
                member.kubeconfig == master.kubeconfig or member.in_cluster
            )
            if same_context:
                raise self.fail(f"{key}.context", f"{member.context!r} is the master's context")
        for i, member in enumerate(members):
            if member.in_cluster:
                raise self.fail(f"members[{i}].context", "in-cluster is only valid for the master")
        self.check_servers(master, members)

    def check_servers(self, master: ClusterConfig, members: tuple[ClusterConfig, ...]) -> None:
        """Two contexts pointing at one API server would make the hub fight itself."""
        servers: dict[str, str] = {}
        for key, cluster in (
            ("master", master),
            *((f"members[{i}]", m) for i, m in enumerate(members)),
        ):
            if cluster.in_cluster:
                continue
            kubeconfig = self.kubeconfigs(cluster.kubeconfig, key)
            server = kubeconfig.server_of(cluster.context)
            if server is None:
                continue
            if server in servers:
                raise self.fail(
                    f"{key}.context",
                    f"points at the same API server ({server}) as {servers[server]}",
                )
            servers[server] = key

    def targets(self, raw: Any) -> tuple[str, ...]:
        targets = self.string_list(raw, "targets")
        for i, target in enumerate(targets):
            if not names.is_resource_name(target):
                raise self.fail(
                    f"targets[{i}]",
                    f"{target!r} is not of the form KIND|RESOURCE[[.VERSION].GROUP]",
                )
        return targets

    def namespaces(self, raw: Any) -> tuple[str, ...]:
        namespaces = self.string_list(raw, "namespaces")
        for i, name in enumerate(namespaces):
            if not names.is_dns_label(name):
                raise self.fail(f"namespaces[{i}]", f"{name!r} is not a valid namespace name")
        return namespaces

    def propagation(self, raw: Any) -> PropagationConfig:
        keys = frozenset({"mode", "createNamespaces", "adopt", "deletionTimeout", "concurrency"})
        body = self.mapping(raw, "propagation", keys)
        mode = self.choice(body.get("mode"), "propagation.mode", ("auto", "federation", "direct"))
        timeout = body.get("deletionTimeout")
        return PropagationConfig(
            mode=cast(PropagationMode, mode),
            create_namespaces=self.boolean(
                body.get("createNamespaces"), "propagation.createNamespaces", True
            ),
            adopt=self.boolean(body.get("adopt"), "propagation.adopt", False),
            concurrency=self.whole(body.get("concurrency"), "propagation.concurrency", 4),
            deletion_timeout=300.0
            if timeout is None
            else self.duration(timeout, "propagation.deletionTimeout"),
        )

    def client(self, raw: Any) -> ClientLimits:
        body = self.mapping(raw, "client", frozenset({"qps", "burst"}))
        defaults = ClientLimits()
        return ClientLimits(
            qps=self.number(body.get("qps"), "client.qps", defaults.qps, least=0),
            burst=self.whole(body.get("burst"), "client.burst", defaults.burst),
        )

    def duration(self, raw: Any, key: str) -> float:
        seconds = parse_duration(raw)
        if seconds is None:
            raise self.fail(key, f"{raw!r} is not a duration like 30s, 5m or 1h30m")
        return seconds

    def leader_election(self, raw: Any) -> LeaderElectionConfig:
        body = self.mapping(raw, "leaderElection", frozenset({"enabled", "namespace"}))
        namespace = self.string(body.get("namespace"), "leaderElection.namespace", "synchub-system")
        if not names.is_dns_label(namespace):
            raise self.fail("leaderElection.namespace", f"{namespace!r} is not a valid namespace")
        return LeaderElectionConfig(
            enabled=self.boolean(body.get("enabled"), "leaderElection.enabled", False),
            namespace=namespace,
        )

    def copy(self, raw: Any) -> CopyConfig:
        body = self.mapping(raw, "copy", frozenset({"crossNamespace"}))
        policy = self.choice(
            body.get("crossNamespace"), "copy.crossNamespace", ("source-opt-in", "deny", "allow")
        )
        return CopyConfig(cross_namespace=cast(CrossNamespacePolicy, policy))

    def object_sync(self, raw: Any) -> ObjectSyncConfig:
        body = self.mapping(raw, "objectSync", frozenset({"allowedResources"}))
        if body.get("allowedResources") is None:
            return ObjectSyncConfig()
        resources = self.string_list(body["allowedResources"], "objectSync.allowedResources")
        for i, resource in enumerate(resources):
            if not names.is_resource_name(resource):
                raise self.fail(
                    f"objectSync.allowedResources[{i}]",
                    f"{resource!r} is not of the form resource[.group]",
                )
        return ObjectSyncConfig(allowed_resources=tuple(r.lower() for r in resources))

    def git(self, raw: Any) -> GitConfig:
        body = self.mapping(raw, "git", frozenset({"allowTransforms", "systemNamespace"}))
        key = "git.systemNamespace"
        namespace = self.string(body.get("systemNamespace"), key, "synchub-system")
        if not names.is_dns_label(namespace):
            raise self.fail("git.systemNamespace", f"{namespace!r} is not a valid namespace")
        allow = self.boolean(body.get("allowTransforms"), "git.allowTransforms", False)
        return GitConfig(allow_transforms=allow, system_namespace=namespace)
