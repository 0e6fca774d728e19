"""Unit tests for hub.sandbox.certmanager: where the build is found, and the renewal patch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from hub.core.errors import SandboxError
from hub.sandbox import certmanager
from hub.sandbox.certmanager import CertManagerNotFound


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The only build cache searched (the checkout's real .cache is kept out)."""
    root = tmp_path / "cache"
    root.mkdir()

    def only_tmp(env: Mapping[str, str]) -> list[Path]:
        return [root]

    monkeypatch.setattr(certmanager, "cache_roots", only_tmp)
    return root


def executable(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def test_newest_cached_version_wins(cache: Path) -> None:
    for version in ("v1.9.0", "v1.16.2", "v1.15.10"):
        executable(cache / "bin" / f"cert-manager-{version}" / "cert-manager-controller")
    found = certmanager.find_cert_manager({})
    assert found.parent.name == "cert-manager-v1.16.2"


def test_env_override_first(cache: Path, tmp_path: Path) -> None:
    executable(cache / "bin" / "cert-manager-v1.16.2" / "cert-manager-controller")
    own = executable(tmp_path / "own" / "cm")
    assert certmanager.find_cert_manager({"SYNCHUB_CERT_MANAGER": str(own)}) == own


def test_not_executable_is_skipped_and_missing_says_how_to_build(cache: Path) -> None:
    executable(cache / "bin" / "cert-manager-v1.16.2" / "cert-manager-controller", mode=0o644)
    with pytest.raises(CertManagerNotFound, match="make control-plane"):
        certmanager.find_cert_manager({})


def test_crd_files(cache: Path) -> None:
    crds = cache / "crds"
    crds.mkdir()
    for name in ("cert-manager-v1.15.0", "cert-manager-v1.16.2", "helmreleases-v1.4.0"):
        (crds / f"{name}.yaml").write_text("---\n")
    assert certmanager.cert_manager_crds_file({}).name == "cert-manager-v1.16.2.yaml"
    assert certmanager.helmrelease_crd_file({}).name == "helmreleases-v1.4.0.yaml"
    (crds / "helmreleases-v1.4.0.yaml").unlink()
    with pytest.raises(CertManagerNotFound, match="helmreleases"):
        certmanager.helmrelease_crd_file({})


def test_renewal_patch_replaces_only_the_issuing_condition() -> None:
    certificate = {
        "metadata": {"name": "c", "resourceVersion": "42", "generation": 3},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Ready"},
                {"type": "Issuing", "status": "False", "reason": "Done"},
            ]
        },
    }
    patch = certmanager.renewal_patch(certificate)
    assert patch["metadata"] == {"resourceVersion": "42"}
    conditions = {c["type"]: c for c in patch["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Issuing"]["status"] == "True"
    assert conditions["Issuing"]["reason"] == "ManuallyTriggered"
    assert conditions["Issuing"]["observedGeneration"] == 3


def test_context_kubeconfig(tmp_path: Path) -> None:
    source = tmp_path / "kubeconfig"
    source.write_text(
        yaml.safe_dump({"contexts": [{"name": "a"}, {"name": "b"}], "current-context": "a"})
    )
    own = certmanager.write_context_kubeconfig(source, "b", tmp_path / "own")
    assert yaml.safe_load(own.read_text())["current-context"] == "b"
    assert own.stat().st_mode & 0o777 == 0o600
    with pytest.raises(SandboxError, match="context 'c'"):
        certmanager.write_context_kubeconfig(source, "c", tmp_path / "other")
