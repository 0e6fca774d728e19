"""The sandbox lifecycle and ``synchub check``, run as a user would (the CLI in a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from hub.sandbox import Sandbox
from hub.sandbox.process import alive
from hub.testing import wait_for


def install_crds(directory: Path) -> None:
    """What `synchub crds | kubectl apply -f -` does, through the Python client."""
    crds = synchub("crds")
    assert crds.returncode == 0, crds.stderr
    api = k8s_config.new_client_from_config(
        config_file=str(directory / "kubeconfig"), context="synchub-master"
    )
    with api:
        extensions = k8s.ApiextensionsV1Api(api)
        for document in yaml.safe_load_all(crds.stdout):
            extensions.create_custom_resource_definition(document)
        names = [d["metadata"]["name"] for d in yaml.safe_load_all(crds.stdout)]

        def established() -> bool:
            for name in names:
                crd = extensions.read_custom_resource_definition(name)
                conditions = (crd.status.conditions if crd.status else None) or []
                if not any(c.type == "Established" and c.status == "True" for c in conditions):
                    return False
            return True

        wait_for(established)


def synchub(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[Path]:
    """A sandbox of its own, brought up and down through the CLI."""
    directory = tmp_path / "sb"
    yield directory
    synchub("sandbox", "down", "--dir", directory)


def test_up_check_outage_down(own_sandbox: Path) -> None:
    up = synchub("sandbox", "up", "--members", "2", "--dir", own_sandbox)
    assert up.returncode == 0, up.stderr
    clusters_yaml = own_sandbox / "clusters.yaml"
    assert (own_sandbox / "kubeconfig").is_file()

    bare = synchub("-c", clusters_yaml, "check")
    assert bare.returncode == 1  # nothing to sync into: a problem, not a pass
    assert "master (context synchub-master): no Federated or synchub.io CRDs" in bare.stdout
    install_crds(own_sandbox)

    ok = synchub("check", "-c", clusters_yaml)  # -c after the subcommand works too
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for name in ("master", "member-1", "member-2"):
        assert name in ok.stdout
    assert "direct" in ok.stdout  # no federation controller on the sandbox

    again = synchub("sandbox", "up", "--members", "2", "--dir", own_sandbox)
    assert again.returncode == 0
    assert "already running" in again.stderr

    sandbox = Sandbox(own_sandbox)
    state = sandbox.state()
    assert state is not None
    pids = [(p.pid, r.dir) for r in state.clusters for p in (r.etcd, r.apiserver) if p]
    assert len(pids) == 6

    sandbox.stop_apiserver("member-2")
    failed = synchub("-c", clusters_yaml, "check")
    assert failed.returncode == 1
    problem = [line for line in failed.stdout.splitlines() if line.startswith("member-2 (")]
    assert problem == [problem[0]]
    assert "context synchub-member-2" in problem[0]
    assert "connection refused" in problem[0]
    assert "Traceback" not in failed.stdout + failed.stderr

    down = synchub("sandbox", "down", "--dir", own_sandbox)
    assert down.returncode == 0
    assert not any(alive(pid, marker) for pid, marker in pids)
    assert not own_sandbox.exists()


def test_env_prints_exports(own_sandbox: Path) -> None:
    env = synchub("sandbox", "env", "--dir", own_sandbox)
    assert env.returncode == 0
    assert f"export KUBECONFIG={own_sandbox.resolve()}/kubeconfig" in env.stdout
    assert "export SYNCHUB_CONFIG=" in env.stdout


def test_failed_start_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kube-apiserver that cannot start leaves no etcd behind, and its log tail is shown."""
    fake = tmp_path / "kube-apiserver"
    fake.write_text("#!/bin/sh\necho 'fake apiserver: cannot start' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SYNCHUB_KUBE_APISERVER", str(fake))
    directory = tmp_path / "broken"
    result = synchub("sandbox", "up", "--members", "1", "--dir", directory)
    assert result.returncode == 1
    assert "exited during start" in result.stderr
    assert "fake apiserver: cannot start" in result.stderr
    assert "Traceback" not in result.stderr
    assert not directory.exists()
    leftovers = subprocess.run(
        ["pgrep", "-f", str(directory)], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == ""
