"""Unit tests for hub.config: the clusters.yaml contract (docs/configuration.md), its errors.

Every configuration error is a ConfigError (exit code 2) whose message is one line naming the
file, the key and the problem.
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path
from types import MappingProxyType

import pytest
import yaml

from hub.config.loader import config_path, load_config, parse_config
from hub.config.settings import (
    ClusterConfig,
    Config,
    CopyConfig,
    LeaderElectionConfig,
    PropagationConfig,
)
from hub.core.errors import ConfigError

MASTER_SERVER = "https://127.0.0.1:6443"


def write_kubeconfig(path: Path, contexts: dict[str, str]) -> Path:
    """A kubeconfig with one cluster per context; ``contexts`` maps context name to server."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": f"cluster-{name}", "cluster": {"server": server}}
            for name, server in contexts.items()
        ],
        "users": [{"name": "admin", "user": {"token": "t"}}],
        "contexts": [
            {"name": name, "context": {"cluster": f"cluster-{name}", "user": "admin"}}
            for name in contexts
        ],
        "current-context": next(iter(contexts)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    return write_kubeconfig(
        tmp_path / "kube" / "config",
        {
            "master": MASTER_SERVER,
            "east": "https://127.0.0.1:7443",
            "west": "https://127.0.0.1:8443",
            "master-alias": MASTER_SERVER + "/",  # same server as master, another name
        },
    )


@pytest.fixture
def environ(kubeconfig: Path) -> dict[str, str]:
    return {"KUBECONFIG": str(kubeconfig)}


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clusters.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def config_error(path: Path, environ: dict[str, str] | None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ)
    error = info.value
    message = str(error)
    assert "\n" not in message
    assert error.exit_code == 2
    assert message.startswith(f"{path}: ")
    assert error.file == str(path)
    return error


def assert_error(error: ConfigError, key: str, problem: str) -> None:
    assert error.key == key
    assert str(error).startswith(f"{error.file}: {key}: ")
    assert problem in error.problem


# --------------------------------------------------------------------------- YAML and shape


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("master: {context: master\n", "line 2", "expected ',' or '}'"),
        ("master:\n\tcontext: master\n", "line 2", "cannot start any token"),
        ("master: a: b\n", "line 1", "mapping values are not allowed here"),
        ("master: *anchor\n", "line 1", "undefined alias"),
        ("members: []\nmaster: {context: \x07}\n", "line 2", "unacceptable character #x0007"),
    ],
)
def test_malformed_yaml_names_the_line(
    tmp_path: Path, environ: dict[str, str], text: str, line: str, problem: str
) -> None:
    error = config_error(write_config(tmp_path, text), environ)
    assert_error(error, line, "invalid YAML")
    assert problem in error.problem


@pytest.mark.parametrize("text", ["", "\n", "# nothing here\n", "---\n"])
def test_empty_file(tmp_path: Path, environ: dict[str, str], text: str) -> None:
    error = config_error(write_config(tmp_path, text), environ)
    assert error.key == ""
    assert str(error) == f"{tmp_path / 'clusters.yaml'}: file is empty"


@pytest.mark.parametrize(
    ("text", "got"),
    [("- master\n- east\n", "a list"), ("just a string\n", "a string"), ("42\n", "a number")],
)
def test_top_level_not_a_mapping(
    tmp_path: Path, environ: dict[str, str], text: str, got: str
) -> None:
    error = config_error(write_config(tmp_path, text), environ)
    assert_error(error, "(top level)", f"must be a mapping, got {got}")


def test_missing_config_file(tmp_path: Path) -> None:
    error = config_error(tmp_path / "clusters.yaml", {})
    assert str(error) == f"{tmp_path / 'clusters.yaml'}: file not found"


def test_unreadable_config_file(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    path.mkdir()  # reading a directory fails even as root, unlike chmod 000
    error = config_error(path, {})
    assert "cannot read" in error.problem


# --------------------------------------------------------------------------- keys and types

MASTER = "master: {context: master}\n"
EAST = "members:\n  - {name: east, context: east}\n"

# (YAML text, key in the message, problem in the message)
BAD_CONFIGS = [
    # unknown keys, at every level
    (MASTER + "mebmers: []\n", "mebmers", "unknown key (known keys: client, copy, git, "),
    ("master: {context: master, lables: {}}\n", "master.lables", "unknown key"),
    (
        MASTER + "members:\n  - {name: e, context: east, region: x}\n",
        "members[0].region",
        "unknown",
    ),
    (MASTER + "propagation: {mode: auto, speed: 3}\n", "propagation.speed", "unknown key"),
    (MASTER + "propagation: {concurrency: 0}\n", "propagation.concurrency", "whole number >= 1"),
    (MASTER + "propagation: {concurrency: 2.5}\n", "propagation.concurrency", "whole number"),
    (MASTER + "client: {qps: -1}\n", "client.qps", "must be a number >= 0"),
    (MASTER + "client: {qps: fast}\n", "client.qps", "must be a number"),
    (MASTER + "client: {burst: 0}\n", "client.burst", "whole number >= 1"),
    (MASTER + "client: {rate: 3}\n", "client.rate", "unknown key"),
    (MASTER + "leaderElection: {lease: x}\n", "leaderElection.lease", "unknown key"),
    (MASTER + "copy: {crossnamespace: allow}\n", "copy.crossnamespace", "unknown key"),
    # wrong types
    ("members: []\n", "master", "is required"),
    ("master:\n", "master", "must be a mapping with at least a context"),
    ("master: kind-master\n", "master", "must be a mapping, got a string"),
    ("master: {context: master}\nmembers: {east: x}\n", "members", "must be a list, got a mapping"),
    (MASTER + "members: east\n", "members", "must be a list, got a string"),
    (MASTER + "members:\n  - east\n", "members[0]", "must be a mapping, got a string"),
    (MASTER + "members:\n  -\n", "members[0]", "must be a mapping with at least a context"),
    ("master: {context: master, labels: [a]}\n", "master.labels", "must be a mapping"),
    (
        MASTER + "members:\n  - {name: e, context: east, labels: x}\n",
        "members[0].labels",
        "mapping",
    ),
    ("master: {context: master, kubeconfig: ''}\n", "master.kubeconfig", "non-empty string"),
    ("kubeconfig: [a, b]\n" + MASTER, "kubeconfig", "must be a non-empty string, got a list"),
    (MASTER + "propagation: [auto]\n", "propagation", "must be a mapping, got a list"),
    (MASTER + "propagation: {createNamespaces: maybe}\n", "propagation.createNamespaces", "true"),
    (
        MASTER + "propagation: {createNamespaces: 1}\n",
        "propagation.createNamespaces",
        "got a number",
    ),
    (MASTER + "propagation: {adopt: 'true'}\n", "propagation.adopt", "must be true or false"),
    (MASTER + "leaderElection: {enabled: sometimes}\n", "leaderElection.enabled", "true or"),
    (MASTER + "propagation: {mode: sideways}\n", "propagation.mode", "one of auto, federation"),
    (MASTER + "propagation: {mode: Direct}\n", "propagation.mode", "got 'Direct'"),
    (MASTER + "copy: {crossNamespace: permissive}\n", "copy.crossNamespace", "must be one of"),
    (MASTER + "copy: {crossNamespace: [deny]}\n", "copy.crossNamespace", "must be one of"),
    (MASTER + "objectSync: {allowed: [secrets]}\n", "objectSync.allowed", "unknown key"),
    (MASTER + "objectSync: {allowedResources: secrets}\n", "objectSync.allowedResources", "list"),
    (
        MASTER + "objectSync: {allowedResources: [secrets, 'a/b']}\n",
        "objectSync.allowedResources[1]",
        "resource[.group]",
    ),
    (MASTER + "targets: secrets\n", "targets", "must be a list of strings, got a string"),
    (MASTER + "targets: [secrets, 3]\n", "targets[1]", "must be a non-empty string, got a number"),
    (MASTER + "namespaces: default\n", "namespaces", "must be a list of strings"),
    (MASTER + "namespaces: ['']\n", "namespaces[0]", "must be a non-empty string"),
    # missing context
    ("master: {name: boss}\n", "master.context", "must be a non-empty string, got null"),
    (MASTER + "members:\n  - {name: east}\n", "members[0].context", "non-empty string"),
    ("master: {context: 7}\n", "master.context", "must be a non-empty string, got a number"),
    # duplicate cluster names
    (
        MASTER + EAST + "  - {name: east, context: west}\n",
        "members[1].name",
        "duplicate cluster name 'east' (also members[0])",
    ),
    (MASTER + "members:\n  - {name: master, context: east}\n", "members[0].name", "(also master)"),
    (
        "master: {name: hub, context: master}\nmembers:\n  - {name: hub, context: east}\n",
        "members[0].name",
        "duplicate cluster name 'hub' (also master)",
    ),
    # members equal to the master
    (MASTER + "members:\n  - {name: e, context: master}\n", "members[0].context", "master's"),
    (
        MASTER + EAST + "  - {name: again, context: master-alias}\n",
        "members[1].context",
        f"points at the same API server ({MASTER_SERVER}) as master",
    ),
    (
        MASTER + EAST + "  - {name: west, context: east}\n",
        "members[1].context",
        "same API server (https://127.0.0.1:7443) as members[0]",
    ),
    (MASTER + "members:\n  - {name: e, context: in-cluster}\n", "members[0].context", "only valid"),
    (
        "master: {context: in-cluster}\nmembers:\n  - {name: e, context: in-cluster}\n",
        "members[0].context",
        "'in-cluster' is the master's context",
    ),
    # label syntax
    ("master: {context: master, labels: {'bad key': x}}\n", "master.labels.bad key", "label key"),
    ("master: {context: master, labels: {-lead: x}}\n", "master.labels.-lead", "label key"),
    ("master: {context: master, labels: {Ex.com/a: x}}\n", "master.labels.Ex.com/a", "label key"),
    ("master: {context: master, labels: {a/: x}}\n", "master.labels.a/", "not a valid label key"),
    (
        "master: {context: master, labels: {" + "k" * 64 + ": x}}\n",
        "master.labels." + "k" * 64,
        "not a valid label key",
    ),
    ("master: {context: master, labels: {1: x}}\n", "master.labels.1", "not a valid label key"),
    ("master: {context: master, labels: {a: not ok}}\n", "master.labels.a", "label value"),
    ("master: {context: master, labels: {a: -x}}\n", "master.labels.a", "not a valid label"),
    (f"master: {{context: master, labels: {{a: {'v' * 64}}}}}\n", "master.labels.a", "value"),
    ("master: {context: master, labels: {a: [x]}}\n", "master.labels.a", "must be a string"),
    ("master: {context: master, labels: {a: true}}\n", "master.labels.a", "got a boolean"),
    ("master: {context: master, labels: {a: }}\n", "master.labels.a", "got null"),
    # cluster names
    ("master: {name: Boss, context: master}\n", "master.name", "'Boss' is not a valid cluster"),
    (MASTER + "members:\n  - {name: us_east, context: east}\n", "members[0].name", "DNS label"),
    (MASTER + "members:\n  - {name: -east, context: east}\n", "members[0].name", "DNS label"),
    (MASTER + "members:\n  - {name: e.st, context: east}\n", "members[0].name", "DNS label"),
    (f"master: {{name: {'m' * 64}, context: master}}\n", "master.name", "not a valid cluster"),
    # namespaces
    (MASTER + "namespaces: [default, Kube_System]\n", "namespaces[1]", "not a valid namespace"),
    (MASTER + "namespaces: [a.b]\n", "namespaces[0]", "'a.b' is not a valid namespace name"),
    (MASTER + "leaderElection: {namespace: Sys}\n", "leaderElection.namespace", "not a valid"),
    # targets
    (MASTER + "targets: [deployments/apps]\n", "targets[0]", "KIND|RESOURCE[[.VERSION].GROUP]"),
    (MASTER + "targets: [secrets, .apps]\n", "targets[1]", "'.apps' is not of the form"),
    (MASTER + "targets: [a..b]\n", "targets[0]", "is not of the form"),
    (MASTER + "targets: ['deployments.apps:v1']\n", "targets[0]", "is not of the form"),
    # durations
    (MASTER + "propagation: {deletionTimeout: 5 minutes}\n", "propagation.deletionTimeout", "30s"),
    (MASTER + "propagation: {deletionTimeout: 5d}\n", "propagation.deletionTimeout", "duration"),
    (MASTER + "propagation: {deletionTimeout: '5'}\n", "propagation.deletionTimeout", "duration"),
    (MASTER + "propagation: {deletionTimeout: 1h30}\n", "propagation.deletionTimeout", "1h30m"),
    (MASTER + "propagation: {deletionTimeout: -5}\n", "propagation.deletionTimeout", "-5 is not"),
    (MASTER + "propagation: {deletionTimeout: true}\n", "propagation.deletionTimeout", "not a"),
    (MASTER + "propagation: {deletionTimeout: ''}\n", "propagation.deletionTimeout", "duration"),
]


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    BAD_CONFIGS,
    ids=[f"{i:02d}-{case[1]}" for i, case in enumerate(BAD_CONFIGS)],
)
def test_configuration_errors(
    tmp_path: Path, environ: dict[str, str], text: str, key: str, problem: str
) -> None:
    error = config_error(write_config(tmp_path, text), environ)
    assert_error(error, key, problem)


def test_yaml_key_with_a_newline_stays_on_one_line(tmp_path: Path, environ: dict[str, str]) -> None:
    error = config_error(write_config(tmp_path, MASTER + '"a\\nb": 1\n'), environ)
    assert error.key == "a\nb"
    assert "a\\nb: unknown key" in str(error)


# --------------------------------------------------------------------------- kubeconfig


def test_context_not_found_lists_known_contexts(
    tmp_path: Path, environ: dict[str, str], kubeconfig: Path
) -> None:
    error = config_error(write_config(tmp_path, "master: {context: kind-master}\n"), environ)
    assert_error(error, "master.context", "context 'kind-master' not found in kubeconfig")
    assert str(kubeconfig) in error.problem
    assert "(contexts: master, east, west, master-alias)" in error.problem


def test_context_not_found_in_a_kubeconfig_without_contexts(tmp_path: Path) -> None:
    empty = tmp_path / "empty-kubeconfig"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    error = config_error(write_config(tmp_path, MASTER), {"KUBECONFIG": str(empty)})
    assert_error(error, "master.context", "(contexts: none)")


def test_missing_kubeconfig(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config"
    error = config_error(write_config(tmp_path, MASTER), {"KUBECONFIG": str(missing)})
    assert_error(error, "master.kubeconfig", f"kubeconfig not found: {missing}")


def test_missing_top_level_kubeconfig(tmp_path: Path, environ: dict[str, str]) -> None:
    missing = tmp_path / "nowhere"
    text = f"kubeconfig: {missing}\n{MASTER}"
    error = config_error(write_config(tmp_path, text), environ)
    assert_error(error, "master.kubeconfig", "kubeconfig not found")


def test_missing_member_kubeconfig(tmp_path: Path, environ: dict[str, str]) -> None:
    missing = tmp_path / "west.kubeconfig"
    text = f"{MASTER}members:\n  - {{name: west, context: west, kubeconfig: {missing}}}\n"
    error = config_error(write_config(tmp_path, text), environ)
    assert_error(error, "members[0].kubeconfig", f"kubeconfig not found: {missing}")


def test_unreadable_kubeconfig(tmp_path: Path) -> None:
    directory = tmp_path / "kubeconfig.d"
    directory.mkdir()
    error = config_error(write_config(tmp_path, MASTER), {"KUBECONFIG": str(directory)})
    assert_error(error, "master.kubeconfig", f"cannot read kubeconfig {directory}")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("clusters: [\n", "is not valid YAML: line 2"),
        ("contexts:\n\t- name: x\n", "is not valid YAML: line 2"),
        ("- just\n- a list\n", "is not a mapping"),
        ("contexts: 5\n", "contexts must be a list"),
        ("contexts:\n  - master\n", "contexts[0] must be a mapping with a name"),
        ("contexts:\n  - {name: master, context: oops}\n", "contexts[0].context must be a mapping"),
        ("clusters:\n  - {name: [a], cluster: {}}\n", "clusters[0] must be a mapping with a name"),
    ],
)
def test_invalid_kubeconfig(tmp_path: Path, content: str, problem: str) -> None:
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(content)
    error = config_error(write_config(tmp_path, MASTER), {"KUBECONFIG": str(bad)})
    assert_error(error, "master.kubeconfig", f"kubeconfig {bad}")
    assert problem in error.problem


# --------------------------------------------------------------------------- good paths


def test_full_example(tmp_path: Path, kubeconfig: Path) -> None:
    west_kubeconfig = write_kubeconfig(tmp_path / "west.kubeconfig", {"kind-west": "https://w"})
    path = write_config(
        tmp_path,
        f"""\
        kubeconfig: {kubeconfig}
        master:
          name: mymaster
          context: master
          labels: {{tier: gold}}
        members:
          - name: east
            context: east
            labels: {{region: us-east, topology.kubernetes.io/zone: us-east-1a, rank: 1}}
          - name: west
            context: kind-west
            kubeconfig: {west_kubeconfig}
            labels: {{region: us-west, empty: ""}}
        targets: [secrets, deployments.apps, helmreleases.v2.helm.toolkit.fluxcd.io, Secret]
        namespaces: [default, flux-system]
        propagation:
          mode: direct
          createNamespaces: false
          adopt: true
          deletionTimeout: 90s
        leaderElection:
          enabled: true
          namespace: hub-system
        copy:
          crossNamespace: deny
        """,
    )
    config = load_config(path, {})  # no $KUBECONFIG: the file's own key is used
    assert config == Config(
        path=path,
        master=ClusterConfig(
            name="mymaster",
            context="master",
            kubeconfig=(kubeconfig,),
            labels=MappingProxyType({"tier": "gold", "cluster-master": "true"}),
            is_master=True,
        ),
        members=(
            ClusterConfig(
                name="east",
                context="east",
                kubeconfig=(kubeconfig,),
                labels=MappingProxyType(
                    {"region": "us-east", "topology.kubernetes.io/zone": "us-east-1a", "rank": "1"}
                ),
            ),
            ClusterConfig(
                name="west",
                context="kind-west",
                kubeconfig=(west_kubeconfig,),
                labels=MappingProxyType({"region": "us-west", "empty": ""}),
            ),
        ),
        targets=("secrets", "deployments.apps", "helmreleases.v2.helm.toolkit.fluxcd.io", "Secret"),
        namespaces=("default", "flux-system"),
        propagation=PropagationConfig(
            mode="direct", create_namespaces=False, adopt=True, deletion_timeout=90.0
        ),
        leader_election=LeaderElectionConfig(enabled=True, namespace="hub-system"),
        copy=CopyConfig(cross_namespace="deny"),
    )
    assert [c.name for c in config.clusters] == ["mymaster", "east", "west"]
    assert not any(c.in_cluster for c in config.clusters)


def test_parsed_config_is_frozen(tmp_path: Path, environ: dict[str, str]) -> None:
    config = load_config(write_config(tmp_path, MASTER + EAST), environ)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.master = config.members[0]  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.propagation.adopt = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.master.labels["x"] = "y"  # type: ignore[index]
    assert isinstance(config.members, tuple)


def test_defaults(tmp_path: Path, environ: dict[str, str], kubeconfig: Path) -> None:
    path = write_config(tmp_path, MASTER)
    config = load_config(path, environ)
    assert config.master == ClusterConfig(
        name="master",
        context="master",
        kubeconfig=(kubeconfig,),
        labels=MappingProxyType({"cluster-master": "true"}),
        is_master=True,
    )
    assert config.members == ()
    assert config.targets == ()
    assert config.namespaces == ()
    assert config.propagation == PropagationConfig(
        mode="auto", create_namespaces=True, adopt=False, deletion_timeout=300.0
    )
    assert config.leader_election == LeaderElectionConfig(enabled=False, namespace="synchub-system")
    assert config.copy.cross_namespace == "source-opt-in"
    assert config.propagation.concurrency == 4
    assert (config.client.qps, config.client.burst) == (0.0, 100)


def test_throughput_keys(tmp_path: Path, environ: dict[str, str]) -> None:
    text = MASTER + "propagation: {concurrency: 8}\nclient: {qps: 50, burst: 20}\n"
    config = load_config(write_config(tmp_path, text), environ)
    assert config.propagation.concurrency == 8
    assert (config.client.qps, config.client.burst) == (50.0, 20)


def test_empty_sections_take_defaults(tmp_path: Path, environ: dict[str, str]) -> None:
    text = MASTER + "members:\ntargets:\nnamespaces:\npropagation:\nleaderElection:\ncopy:\n"
    config = load_config(write_config(tmp_path, text), environ)
    assert config.members == ()
    assert config.propagation == PropagationConfig()
    assert config.leader_election == LeaderElectionConfig()
    assert config.copy == CopyConfig()


def test_master_label_is_always_true(tmp_path: Path, environ: dict[str, str]) -> None:
    text = "master: {context: master, labels: {cluster-master: 'false', a: b}}\n"
    config = load_config(write_config(tmp_path, text), environ)
    assert dict(config.master.labels) == {"cluster-master": "true", "a": "b"}


def test_members_get_no_master_label(tmp_path: Path, environ: dict[str, str]) -> None:
    config = load_config(write_config(tmp_path, MASTER + EAST), environ)
    assert dict(config.members[0].labels) == {}
    assert not config.members[0].is_master


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
        ("2m0s", 120.0),
        ("0s", 0.0),
        ("45", 45.0),  # a bare YAML number is seconds
        ("0", 0.0),
        ("2.5", 2.5),
    ],
)
def test_durations(tmp_path: Path, environ: dict[str, str], value: str, seconds: float) -> None:
    text = MASTER + f"propagation: {{deletionTimeout: {value}}}\n"
    config = load_config(write_config(tmp_path, text), environ)
    assert config.propagation.deletion_timeout == pytest.approx(seconds)


@pytest.mark.parametrize("mode", ["auto", "federation", "direct"])
def test_modes(tmp_path: Path, environ: dict[str, str], mode: str) -> None:
    config = load_config(
        write_config(tmp_path, MASTER + f"propagation: {{mode: {mode}}}\n"), environ
    )
    assert config.propagation.mode == mode


@pytest.mark.parametrize("policy", ["deny", "source-opt-in", "allow"])
def test_cross_namespace_policies(tmp_path: Path, environ: dict[str, str], policy: str) -> None:
    text = MASTER + f"copy: {{crossNamespace: {policy}}}\n"
    config = load_config(write_config(tmp_path, text), environ)
    assert config.copy.cross_namespace == policy


def test_tilde_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    main = write_kubeconfig(home / ".kube" / "config", {"master": MASTER_SERVER})
    west = write_kubeconfig(home / "west.yaml", {"west": "https://west"})
    text = "kubeconfig: ~/.kube/config\n" + MASTER
    text += "members:\n  - {name: west, context: west, kubeconfig: ~/west.yaml}\n"
    config = load_config(write_config(tmp_path, text), {})
    assert config.master.kubeconfig == (main,)
    assert config.members[0].kubeconfig == (west,)


def test_default_kubeconfig_is_home_kube_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    main = write_kubeconfig(home / ".kube" / "config", {"master": MASTER_SERVER})
    config = load_config(write_config(tmp_path, MASTER), {})  # no $KUBECONFIG
    assert config.master.kubeconfig == (main,)


def test_tilde_in_kubeconfig_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    main = write_kubeconfig(home / "k", {"master": MASTER_SERVER})
    config = load_config(write_config(tmp_path, MASTER), {"KUBECONFIG": "~/k"})
    assert config.master.kubeconfig == (main,)


def test_kubeconfig_path_list(tmp_path: Path) -> None:
    """Contexts are found across $KUBECONFIG files; the first file defining a name wins."""
    first = write_kubeconfig(tmp_path / "first", {"master": MASTER_SERVER, "east": "https://east"})
    # "east" again, but at the master's server: used only if the second file won.
    second = write_kubeconfig(tmp_path / "second", {"east": MASTER_SERVER, "west": "https://west"})
    text = MASTER + EAST + "  - {name: west, context: west}\n"
    path = write_config(tmp_path, text)

    config = load_config(path, {"KUBECONFIG": os.pathsep.join([str(first), str(second)])})
    assert [c.kubeconfig for c in config.clusters] == [(first, second)] * 3

    # The other order: now "east" from the second file points at the master's server.
    swapped = write_kubeconfig(tmp_path / "swapped", {"east": MASTER_SERVER, "west": "https://w"})
    env = {"KUBECONFIG": os.pathsep.join([str(swapped), str(first)])}
    error = config_error(path, env)
    assert_error(error, "members[0].context", "same API server")


def test_kubeconfig_path_list_skips_missing_and_empty_entries(tmp_path: Path) -> None:
    real = write_kubeconfig(tmp_path / "real", {"master": MASTER_SERVER})
    env = {"KUBECONFIG": os.pathsep.join(["", str(tmp_path / "missing"), str(real), ""])}
    config = load_config(write_config(tmp_path, MASTER), env)
    assert config.master.kubeconfig == (tmp_path / "missing", real)


def test_member_kubeconfig_override(tmp_path: Path, environ: dict[str, str]) -> None:
    other = write_kubeconfig(tmp_path / "other", {"east": "https://elsewhere"})
    # Same context name as in the main kubeconfig, but another file and another server.
    text = MASTER + f"members:\n  - {{name: east, context: east, kubeconfig: {other}}}\n"
    config = load_config(write_config(tmp_path, text), environ)
    assert config.members[0].kubeconfig == (other,)


def test_member_with_master_context_name_in_another_file(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    other = write_kubeconfig(tmp_path / "other", {"master": "https://another-master"})
    text = MASTER + f"members:\n  - {{name: east, context: master, kubeconfig: {other}}}\n"
    config = load_config(write_config(tmp_path, text), environ)
    assert config.members[0].context == "master"


def test_in_cluster_master_needs_no_kubeconfig(tmp_path: Path) -> None:
    env = {"KUBECONFIG": str(tmp_path / "does-not-exist")}
    config = load_config(write_config(tmp_path, "master: {context: in-cluster}\n"), env)
    assert config.master.in_cluster
    assert config.master.kubeconfig == ()
    assert config.master.name == "master"


def test_in_cluster_master_with_kubeconfig_members(tmp_path: Path, environ: dict[str, str]) -> None:
    text = "master: {context: in-cluster}\n" + EAST + "  - {name: west, context: master}\n"
    config = load_config(write_config(tmp_path, text), environ)
    assert [c.in_cluster for c in config.clusters] == [True, False, False]


def test_parse_config_without_a_file(tmp_path: Path, environ: dict[str, str]) -> None:
    config = parse_config(MASTER, Path("inline.yaml"), environ)
    assert config.path == Path("inline.yaml")
    with pytest.raises(ConfigError, match=r"^inline\.yaml: members: must be a list"):
        parse_config(MASTER + "members: 3\n", Path("inline.yaml"), environ)


# --------------------------------------------------------------------------- config_path


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("given.yaml", {"SYNCHUB_CONFIG": "env.yaml"}, "given.yaml"),
        ("given.yaml", {}, "given.yaml"),
        (None, {"SYNCHUB_CONFIG": "/etc/synchub/env.yaml"}, "/etc/synchub/env.yaml"),
        (None, {"SYNCHUB_CONFIG": ""}, "clusters.yaml"),
        (None, {}, "clusters.yaml"),
    ],
)
def test_config_path_precedence(
    explicit: str | None, environ: dict[str, str], expected: str
) -> None:
    assert config_path(explicit, environ) == Path(expected)


def test_config_path_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCHUB_CONFIG", "from-env.yaml")
    assert config_path(None) == Path("from-env.yaml")
    monkeypatch.delenv("SYNCHUB_CONFIG")
    assert config_path(None) == Path("clusters.yaml")


def test_master_context_defaults_to_in_cluster_inside_a_pod(tmp_path: Path) -> None:
    path = write_config(tmp_path, "master: {name: hubmaster}\n")
    config = load_config(path, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert config.master.in_cluster
    assert config.master.kubeconfig == ()


def test_master_context_is_required_outside_a_pod(tmp_path: Path) -> None:
    path = write_config(tmp_path, "master: {name: hubmaster}\n")
    error = config_error(path, {})
    assert "master.context" in str(error)


def test_object_sync_allowed_resources(tmp_path: Path, environ: dict[str, str]) -> None:
    default = load_config(write_config(tmp_path, MASTER), environ)
    assert default.object_sync.allowed_resources == ("secrets", "configmaps")
    text = MASTER + "objectSync: {allowedResources: [Secrets, cronjobs.batch]}\n"
    configured = load_config(write_config(tmp_path, text), environ)
    assert configured.object_sync.allowed_resources == ("secrets", "cronjobs.batch")
