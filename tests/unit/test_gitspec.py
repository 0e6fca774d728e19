"""Unit tests for hub.core.gitspec: the GitSync spec, its CRD, and KubeSync's environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.core.gitrev import RefSpec
from hub.core.gitspec import (
    GitSyncSpec,
    KubeSyncEnv,
    SpecError,
    gitsync_crd,
    impersonation,
    parse_kubesync_env,
    parse_spec,
    placement_object,
)


def gitsync(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "g"}, "spec": {"url": "https://git.example.com/r.git", **spec}}


def test_defaults() -> None:
    spec = parse_spec(gitsync())
    assert spec == GitSyncSpec(url="https://git.example.com/r.git", ref=RefSpec("default"))
    assert spec.interval == 300.0
    assert spec.prune is True


def test_every_field() -> None:
    spec = parse_spec(
        gitsync(
            ref="tag:latest",
            path="deploy",
            interval="1m30s",
            secretRef={"name": "creds"},
            transform={"command": ["./t.sh"]},
            kustomize=True,
            placement={"clusterSelector": {}},
            namespaces=["a"],
            serviceAccountName="sa",
            prune=False,
            suspend=True,
            dryRun=True,
        )
    )
    assert isinstance(spec, GitSyncSpec)
    assert (spec.ref, spec.interval, spec.secret_name, spec.transform) == (
        RefSpec("latest"),
        90.0,
        "creds",
        ("./t.sh",),
    )
    assert (spec.kustomize, spec.namespaces, spec.service_account) == (True, ("a",), "sa")
    assert (spec.prune, spec.suspend, spec.dry_run) == (False, True, True)


def test_the_suspend_annotation_suspends() -> None:
    obj = gitsync()
    obj["metadata"]["annotations"] = {"synchub.io/suspend": "true"}
    spec = parse_spec(obj)
    assert isinstance(spec, GitSyncSpec)
    assert spec.suspend


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"url": "git@host:r.git"}, "spec.url"),
        ({"ref": "main"}, "spec.ref"),
        ({"interval": "soon"}, "spec.interval"),
        ({"transform": {"command": "x"}}, "spec.transform.command"),
    ],
)
def test_bad_fields_are_named(spec: dict[str, Any], problem: str) -> None:
    found = parse_spec(gitsync(**spec))
    assert isinstance(found, SpecError)
    assert found.message.startswith(problem)


def test_default_placement_is_the_master_only() -> None:
    assert placement_object(None) is None
    assert placement_object({}) is None
    assert placement_object({"clusterSelector": {}}) == {
        "apiVersion": "types.kubefed.io/v1beta1",
        "spec": {"placement": {"clusterSelector": {}}},
    }


def test_impersonation_of_a_service_account() -> None:
    user, groups = impersonation("team-a", "deployer")
    assert user == "system:serviceaccount:team-a:deployer"
    assert "system:serviceaccounts:team-a" in groups


def test_crd_is_structural_with_status_and_columns() -> None:
    crd = gitsync_crd()
    (version,) = crd["spec"]["versions"]
    assert crd["metadata"]["name"] == "gitsyncs.synchub.io"
    assert crd["spec"]["names"]["shortNames"] == ["gs"]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Ready",
        "Revision",
        "Objects",
        "Age",
    ]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "x-kubernetes-preserve-unknown-fields" not in spec
    assert spec["required"] == ["url"]


def test_kubesync_environment() -> None:
    found = parse_kubesync_env(
        {
            "REPO": "https://git.example.com/r.git",
            "CMD": "make manifests",
            "YMLDIR": "out",
            "INTERVAL": "60",
            "VERSION_MODE": "tag:latest",
            "REPOCREDS": "bot:s3:cret",
            "DRYRUN": "true",
            "ONCE": "1",
            "KUBECTL_OPTIONS": "--kubeconfig /k/config --context=east",
        }
    )
    assert isinstance(found, KubeSyncEnv)
    assert found.spec.ref == RefSpec("latest")
    assert found.spec.transform == ("sh", "-c", "make manifests")
    assert (found.spec.path, found.spec.interval, found.spec.dry_run) == ("out", 60.0, True)
    assert (found.username, found.password, found.once) == ("bot", "s3:cret", True)
    assert (found.kubeconfig, found.context) == ("/k/config", "east")


def test_kubesync_defaults_to_master_branch() -> None:
    found = parse_kubesync_env({"REPO": "https://git.example.com/r.git"})
    assert isinstance(found, KubeSyncEnv)
    assert found.spec.ref == RefSpec("branch", "master")
    assert found.spec.interval == 300.0
    assert not found.once


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "REPO is not set"),
        ({"INTERVAL": "5m"}, "INTERVAL"),
        ({"REPOCREDS": "nocolon"}, "REPOCREDS"),
        ({"KUBECTL_OPTIONS": "--namespace x"}, "KUBECTL_OPTIONS: --namespace is not supported"),
        ({"KUBECTL_OPTIONS": "--context"}, "needs a value"),
        ({"VERSION_MODE": "main"}, "VERSION_MODE"),
    ],
)
def test_kubesync_errors_are_named(env: dict[str, str], problem: str) -> None:
    base = {} if not env or "REPO" in env else {"REPO": "https://git.example.com/r.git"}
    found = parse_kubesync_env({**base, **env} if env else {})
    assert isinstance(found, SpecError)
    assert problem in found.message
    assert "nocolon" not in found.message


def test_deploy_crd_equals_rendered() -> None:
    import yaml

    deploy = Path(__file__).resolve().parents[2] / "deploy" / "crds" / "synchub.io.yaml"
    assert gitsync_crd() in list(yaml.safe_load_all(deploy.read_text()))
