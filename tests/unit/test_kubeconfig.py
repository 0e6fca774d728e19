"""Unit tests for hub.kube.kubeconfig: kubectl merge rules and file references."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.core.errors import KubeconfigError
from hub.kube.kubeconfig import (
    KubeconfigSet,
    default_kubeconfig_paths,
    expand,
    load_kubeconfigs,
    merge_kubeconfigs,
)


def kubeconfig(
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
    current: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in (clusters or {}).items()],
        "users": [{"name": n, "user": u} for n, u in (users or {}).items()],
        "contexts": [{"name": n, "context": c} for n, c in (contexts or {}).items()],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def named(merged: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [e for e in merged[section] if e["name"] == name]
    assert len(matches) == 1, f"{section}/{name} appears {len(matches)} times"
    return matches[0]


def load(*paths: Path) -> KubeconfigSet:
    return load_kubeconfigs(paths, config_file="clusters.yaml", key="master.kubeconfig")


# --------------------------------------------------------------------------- merge rules


def test_first_definition_of_a_name_wins() -> None:
    first = kubeconfig(
        clusters={"c": {"server": "https://first"}},
        users={"u": {"token": "first"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}},
    )
    second = kubeconfig(
        clusters={"c": {"server": "https://second"}, "c2": {"server": "https://c2"}},
        users={"u": {"token": "second"}, "u2": {"token": "u2"}},
        contexts={"ctx": {"cluster": "c2", "user": "u2"}, "ctx2": {"cluster": "c2"}},
    )
    merged = merge_kubeconfigs([(Path("/a/config"), first), (Path("/b/config"), second)])

    assert [e["name"] for e in merged["clusters"]] == ["c", "c2"]
    assert [e["name"] for e in merged["users"]] == ["u", "u2"]
    assert [e["name"] for e in merged["contexts"]] == ["ctx", "ctx2"]
    assert named(merged, "clusters", "c")["cluster"] == {"server": "https://first"}
    assert named(merged, "users", "u")["user"] == {"token": "first"}
    assert named(merged, "contexts", "ctx")["context"] == {"cluster": "c", "user": "u"}


def test_names_merge_per_section() -> None:
    """A cluster and a context may share a name; the sections are independent."""
    first = kubeconfig(clusters={"x": {"server": "https://x"}})
    second = kubeconfig(contexts={"x": {"cluster": "x"}}, users={"x": {"token": "t"}})
    merged = merge_kubeconfigs([(Path("/1"), first), (Path("/2"), second)])
    assert [len(merged[s]) for s in ("clusters", "users", "contexts")] == [1, 1, 1]


def test_current_context_first_non_empty_wins() -> None:
    docs = [
        (Path("/1"), kubeconfig()),
        (Path("/2"), kubeconfig(current="")),
        (Path("/3"), kubeconfig(current="second")),
        (Path("/4"), kubeconfig(current="third")),
    ]
    assert merge_kubeconfigs(docs)["current-context"] == "second"
    assert "current-context" not in merge_kubeconfigs(docs[:2])


def test_missing_and_null_sections() -> None:
    merged = merge_kubeconfigs(
        [(Path("/1"), {"clusters": None}), (Path("/2"), {}), (Path("/3"), {"users": []})]
    )
    assert merged == {"clusters": [], "contexts": [], "users": []}


def test_merge_does_not_change_its_input() -> None:
    doc = kubeconfig(
        clusters={"c": {"certificate-authority": "ca.crt"}},
        users={"u": {"client-key": "key.pem"}},
    )
    before = copy.deepcopy(doc)
    merge_kubeconfigs([(Path("/etc/kube/config"), doc)])
    assert doc == before


# --------------------------------------------------------------------------- file references


def test_relative_references_are_made_absolute_against_their_file() -> None:
    first = kubeconfig(
        clusters={"c1": {"server": "https://1", "certificate-authority": "ca.crt"}},
        users={
            "u1": {
                "client-certificate": "certs/client.crt",
                "client-key": "certs/client.key",
                "tokenFile": "token",
            }
        },
    )
    second = kubeconfig(
        clusters={"c2": {"server": "https://2", "certificate-authority": "../shared/ca.crt"}},
        users={"u2": {"tokenFile": "secrets/token"}},
    )
    merged = merge_kubeconfigs(
        [(Path("/home/me/.kube/config"), first), (Path("/etc/synchub/west"), second)]
    )
    assert named(merged, "clusters", "c1")["cluster"] == {
        "server": "https://1",
        "certificate-authority": "/home/me/.kube/ca.crt",
    }
    assert named(merged, "users", "u1")["user"] == {
        "client-certificate": "/home/me/.kube/certs/client.crt",
        "client-key": "/home/me/.kube/certs/client.key",
        "tokenFile": "/home/me/.kube/token",
    }
    ca = named(merged, "clusters", "c2")["cluster"]["certificate-authority"]
    assert os.path.normpath(ca) == "/etc/shared/ca.crt"
    assert named(merged, "users", "u2")["user"]["tokenFile"] == "/etc/synchub/secrets/token"


def test_absolute_references_inline_data_and_other_keys_are_kept() -> None:
    doc = kubeconfig(
        clusters={
            "c": {
                "server": "https://c",
                "certificate-authority": "/abs/ca.crt",
                "certificate-authority-data": "Q0E=",
                "tls-server-name": "relative-looking",
            }
        },
        users={
            "u": {
                "client-certificate-data": "Y2VydA==",
                "client-key": "",
                "token": "tok/en",
                "exec": {"command": "gke-auth", "apiVersion": "v1"},
            }
        },
        contexts={"ctx": {"cluster": "c", "user": "u", "namespace": "ns"}},
    )
    merged = merge_kubeconfigs([(Path("/home/me/.kube/config"), doc)])
    assert merged["clusters"] == doc["clusters"]
    assert merged["users"] == doc["users"]
    assert merged["contexts"] == doc["contexts"]


def test_relative_kubeconfig_path_still_gives_absolute_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "kube" / "config",
        kubeconfig(
            clusters={"c": {"server": "https://c", "certificate-authority": "ca.crt"}},
            users={"u": {"client-key": "u.key"}},
        ),
    )
    loaded = load(Path("kube/config"))
    cluster = named(loaded.merged, "clusters", "c")["cluster"]
    assert cluster["certificate-authority"] == str(tmp_path / "kube" / "ca.crt")
    assert named(loaded.merged, "users", "u")["user"]["client-key"] == str(
        tmp_path / "kube" / "u.key"
    )


def test_references_follow_the_file_that_holds_them(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a" / "config",
        kubeconfig(clusters={"shared": {"server": "https://a", "certificate-authority": "ca"}}),
    )
    b = write(
        tmp_path / "b" / "config",
        kubeconfig(
            clusters={
                "shared": {"server": "https://b", "certificate-authority": "ca"},
                "only-b": {"server": "https://only-b", "certificate-authority": "ca"},
            }
        ),
    )
    merged = load(a, b).merged
    shared = named(merged, "clusters", "shared")["cluster"]
    assert shared == {"server": "https://a", "certificate-authority": str(tmp_path / "a" / "ca")}
    only_b = named(merged, "clusters", "only-b")["cluster"]
    assert only_b["certificate-authority"] == str(tmp_path / "b" / "ca")


# --------------------------------------------------------------------------- KubeconfigSet


def test_kubeconfig_set_queries(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        kubeconfig(
            clusters={"c": {"server": "https://c:6443/"}, "no-server": {}},
            contexts={
                "ctx": {"cluster": "c"},
                "dangling": {"cluster": "missing"},
                "bare": {},
                "serverless": {"cluster": "no-server"},
            },
        ),
    )
    loaded = load(path)
    assert loaded.context_names() == ["ctx", "dangling", "bare", "serverless"]
    assert loaded.has_context("ctx")
    assert not loaded.has_context("CTX")
    assert loaded.server_of("ctx") == "https://c:6443"  # trailing slash dropped
    assert loaded.server_of("dangling") is None
    assert loaded.server_of("bare") is None
    assert loaded.server_of("serverless") is None
    assert loaded.server_of("unknown") is None
    assert loaded.describe() == str(path)


def test_load_skips_missing_files_like_kubectl(tmp_path: Path) -> None:
    real = write(tmp_path / "real", kubeconfig(contexts={"ctx": {"cluster": "c"}}))
    missing = tmp_path / "missing"
    loaded = load(missing, real)
    assert loaded.paths == (missing, real)
    assert loaded.has_context("ctx")
    assert loaded.describe() == os.pathsep.join([str(missing), str(real)])


def test_load_empty_file_is_an_empty_kubeconfig(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    assert load(empty).context_names() == []


def test_load_all_missing(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError) as info:
        load(tmp_path / "a", tmp_path / "b")
    assert info.value.key == "master.kubeconfig"
    names = f"{tmp_path / 'a'}, {tmp_path / 'b'}"
    assert str(info.value) == f"clusters.yaml: master.kubeconfig: kubeconfig not found: {names}"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("clusters: [\n", "is not valid YAML: line 2"),
        ("- a\n", "is not a mapping"),
        ("users: {u: {}}\n", "users must be a list"),
        ("clusters:\n  - {cluster: {}}\n", "clusters[0] must be a mapping with a name"),
        ("users:\n  - {name: u, user: token}\n", "users[0].user must be a mapping"),
    ],
)
def test_load_invalid_kubeconfig(tmp_path: Path, content: str, problem: str) -> None:
    bad = tmp_path / "bad"
    bad.write_text(content)
    with pytest.raises(KubeconfigError) as info:
        load(bad)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"clusters.yaml: master.kubeconfig: kubeconfig {bad}")
    assert problem in message


# --------------------------------------------------------------------------- default paths


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a", ["/a"]),
        (os.pathsep.join(["/a", "/b", "/c"]), ["/a", "/b", "/c"]),
        (os.pathsep.join(["/a", "", " ", "/b", "/a"]), ["/a", "/b"]),  # empty and repeats dropped
    ],
)
def test_default_paths_from_kubeconfig_env(value: str, expected: list[str]) -> None:
    assert default_kubeconfig_paths({"KUBECONFIG": value}) == tuple(Path(p) for p in expected)


@pytest.mark.parametrize("environ", [{}, {"KUBECONFIG": ""}, {"KUBECONFIG": os.pathsep}])
def test_default_path_is_home_kube_config(
    environ: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_kubeconfig_paths(environ) == (tmp_path / ".kube" / "config",)


def test_expand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBE_DIR", "/srv/kube")
    assert expand("~/.kube/config") == tmp_path / ".kube" / "config"
    assert expand("  $KUBE_DIR/config ") == Path("/srv/kube/config")
    assert expand("relative/config") == Path("relative/config")
