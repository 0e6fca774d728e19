"""Unit tests for hub.sandbox.binaries: where kube-apiserver and etcd are looked for."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from hub.core.errors import BinaryNotFound
from hub.sandbox import binaries
from hub.sandbox.binaries import cache_roots, find_binary

NAMES = ["kube-apiserver", "etcd"]
OVERRIDE = {"kube-apiserver": "SYNCHUB_KUBE_APISERVER", "etcd": "SYNCHUB_ETCD"}
ENVTEST = {"kube-apiserver": "TEST_ASSET_KUBE_APISERVER", "etcd": "TEST_ASSET_ETCD"}


def executable(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The only build cache searched: the checkout's real .cache is kept out of these tests."""
    root = tmp_path / "cache"
    root.mkdir()

    def only_tmp(env: Mapping[str, str]) -> list[Path]:
        return [root]

    monkeypatch.setattr(binaries, "cache_roots", only_tmp)
    return root


@pytest.fixture
def path_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "path"
    directory.mkdir()
    return directory


def everywhere(name: str, tmp_path: Path, path_dir: Path, cache: Path) -> dict[str, Path]:
    """One candidate at every place the lookup visits, keyed by the place."""
    return {
        "override": executable(tmp_path / "override" / name),
        "envtest": executable(tmp_path / "envtest" / name),
        "kubebuilder": executable(tmp_path / "assets" / name),
        "path": executable(path_dir / name),
        "cache": executable(cache / "bin" / "1.31.0" / name),
    }


def environ_for(name: str, tmp_path: Path, path_dir: Path, places: set[str]) -> dict[str, str]:
    env = {"PATH": str(path_dir) if "path" in places else str(tmp_path / "empty")}
    if "override" in places:
        env[OVERRIDE[name]] = str(tmp_path / "override" / name)
    if "envtest" in places:
        env[ENVTEST[name]] = str(tmp_path / "envtest" / name)
    if "kubebuilder" in places:
        env["KUBEBUILDER_ASSETS"] = str(tmp_path / "assets")
    return env


ORDER = ["override", "envtest", "kubebuilder", "path", "cache"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("first", range(len(ORDER)))
def test_lookup_order(name: str, first: int, tmp_path: Path, path_dir: Path, cache: Path) -> None:
    candidates = everywhere(name, tmp_path, path_dir, cache)
    env = environ_for(name, tmp_path, path_dir, set(ORDER[first:]))
    assert find_binary(name, env) == candidates[ORDER[first]]


@pytest.mark.parametrize("name", NAMES)
def test_variables_of_the_other_binary_are_ignored(
    name: str, tmp_path: Path, path_dir: Path, cache: Path
) -> None:
    other = next(n for n in NAMES if n != name)
    wrong = executable(tmp_path / "wrong" / other)
    on_path = executable(path_dir / name)
    env = {"PATH": str(path_dir), OVERRIDE[other]: str(wrong), ENVTEST[other]: str(wrong)}
    assert find_binary(name, env) == on_path


def test_unusable_candidates_are_skipped(tmp_path: Path, path_dir: Path, cache: Path) -> None:
    not_executable = executable(tmp_path / "plain" / "etcd", mode=0o644)
    directory = tmp_path / "dir" / "etcd"
    directory.mkdir(parents=True)
    assets = tmp_path / "assets"  # KUBEBUILDER_ASSETS without etcd in it
    assets.mkdir()
    on_path = executable(path_dir / "etcd")
    env = {
        "SYNCHUB_ETCD": str(tmp_path / "missing" / "etcd"),
        "TEST_ASSET_ETCD": str(not_executable),
        "KUBEBUILDER_ASSETS": str(assets),
        "PATH": os.pathsep.join([str(directory.parent), str(path_dir)]),
    }
    assert find_binary("etcd", env) == on_path


def test_path_is_searched_in_order(tmp_path: Path, cache: Path) -> None:
    first = executable(tmp_path / "one" / "etcd")
    executable(tmp_path / "two" / "etcd")
    env = {"PATH": os.pathsep.join(str(tmp_path / d) for d in ("none", "one", "two"))}
    assert find_binary("etcd", env) == first


@pytest.mark.parametrize(
    ("versions", "newest"),
    [
        (["1.30.0", "1.31.0", "1.29.5"], "1.31.0"),
        (["1.30.9", "1.30.10"], "1.30.10"),  # numerically, not as text
        (["v1.30.0", "1.31.2", "v1.32.0"], "v1.32.0"),
        (["1.31", "1.31.1"], "1.31.1"),
    ],
)
def test_cache_prefers_the_newest_version(
    versions: list[str], newest: str, tmp_path: Path, cache: Path
) -> None:
    for version in versions:
        executable(cache / "bin" / version / "kube-apiserver")
    env = {"PATH": str(tmp_path / "empty")}
    assert find_binary("kube-apiserver", env) == cache / "bin" / newest / "kube-apiserver"


def test_cache_skips_versions_without_the_binary(tmp_path: Path, cache: Path) -> None:
    executable(cache / "bin" / "1.31.0" / "etcd")
    executable(cache / "bin" / "1.32.0" / "kube-apiserver")  # newer, but no etcd
    executable(cache / "bin" / "1.33.0" / "etcd", mode=0o644)  # newest, not executable
    env = {"PATH": str(tmp_path / "empty")}
    assert find_binary("etcd", env) == cache / "bin" / "1.31.0" / "etcd"


@pytest.mark.parametrize("name", NAMES)
def test_not_found(name: str, tmp_path: Path, cache: Path) -> None:
    env = {"PATH": str(tmp_path / "empty"), "KUBEBUILDER_ASSETS": str(tmp_path / "assets")}
    with pytest.raises(BinaryNotFound) as info:
        find_binary(name, env)
    message = str(info.value)
    assert message.startswith(f"{name} not found")
    assert "make control-plane" in message
    assert OVERRIDE[name] in message
    assert "KUBEBUILDER_ASSETS" in message


def test_cache_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    checkout = Path(binaries.__file__).resolve().parents[2] / ".cache"

    roots = cache_roots({"SYNCHUB_CACHE_DIR": str(tmp_path / "custom")})
    assert roots == [tmp_path / "custom", tmp_path / ".cache", checkout]

    assert cache_roots({}) == [tmp_path / ".cache", checkout]
    assert cache_roots({"SYNCHUB_CACHE_DIR": ""}) == [tmp_path / ".cache", checkout]
    # The same directory twice is searched once.
    assert cache_roots({"SYNCHUB_CACHE_DIR": str(tmp_path / ".cache")}) == [
        tmp_path / ".cache",
        checkout,
    ]


def test_cache_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the fixture: $SYNCHUB_CACHE_DIR is the first build cache searched."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "custom"
    binary = executable(root / "bin" / "99.0.0" / "etcd")  # newer than anything real
    env = {"PATH": str(tmp_path / "empty"), "SYNCHUB_CACHE_DIR": str(root)}
    assert find_binary("etcd", env) == binary
