"""``make demo``: local clusters, the seed's cert-manager example, the hub fanning it out.

Starts the sandbox (master + 2 members), installs the Federated CRDs, applies a TLS Secret
(standing in for cert-manager's) and its FederatedSecret, starts ``synchub run`` in the
background, then shows which cluster holds which Secret before and after a rotation. Last,
the git step (``demo_git``): a GitSync syncs a repository to both members, and a commit that
removes a ConfigMap prunes it there.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.cli import demo_git
from hub.config.loader import load_config
from hub.config.settings import Config
from hub.core.crds import DEFAULT_GROUPS, crd_documents
from hub.core.errors import Conflict, KubeError, NotFound, SandboxError
from hub.kube.client import ClusterClient
from hub.sandbox import DEFAULT_DIR, MASTER, Sandbox, certmanager
from hub.sandbox.gitserver import GitServer
from hub.sandbox.process import alive, stop
from hub.testing import HubProcess, api_client, create_crds, free_port, poll_async

NAMESPACE = "cloud"
SECRET = "cloud-certificate"
FEDERATED_SECRET = {
    "apiVersion": "types.kubefed.io/v1beta1",
    "kind": "FederatedSecret",
    "metadata": {
        "name": SECRET,
        "namespace": NAMESPACE,
        "annotations": {"k8s-copier.fig.org/replace-spec.template.data": f"secrets:{SECRET}:data"},
    },
    "spec": {
        "placement": {
            "clusterSelector": {
                "matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]
            }
        }
    },
}


def say(message: str) -> None:
    """Print one line of the demo's story."""
    print(f"demo: {message}", flush=True)


def tls_secret_data(serial: int) -> dict[str, str]:
    """A fresh self-signed certificate, as cert-manager would store it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloud.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "tls.crt": base64.b64encode(pem).decode(),
        "tls.key": base64.b64encode(key_pem).decode(),
        "ca.crt": base64.b64encode(pem).decode(),
    }


async def create(client: ClusterClient, path: str, body: dict[str, Any]) -> None:
    """POST ``body`` to ``path``; an object that already exists is left as it is."""
    with contextlib.suppress(Conflict):
        await client.request("POST", path, body=body)


def cert_manager_built() -> bool:
    """Whether `make control-plane` built the real cert-manager (it does, after its first run)."""
    try:
        certmanager.find_cert_manager()
        certmanager.cert_manager_crds_file()
    except certmanager.CertManagerNotFound:
        return False
    return True


CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": SECRET, "namespace": NAMESPACE},
    "spec": {
        "secretName": SECRET,
        "dnsNames": ["cloud.example.com"],
        "issuerRef": {"kind": "ClusterIssuer", "name": certmanager.CA_ISSUER},
    },
}


async def arrange(config: Config, *, real: bool) -> None:
    """The demo's namespace, the certificate's Secret and its FederatedSecret on the master.

    ``real``: cert-manager issues the Secret from a Certificate; else a stand-in writes it.
    """
    async with await ClusterClient.connect(config.master) as master:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        await create(master, "/api/v1/namespaces", ns)
        path = f"/apis/types.kubefed.io/v1beta1/namespaces/{NAMESPACE}/federatedsecrets"
        if real:
            certificates = f"{certmanager.CM_API}/namespaces/{NAMESPACE}/certificates"
            await create(master, certificates, CERTIFICATE)
            await create(master, path, FEDERATED_SECRET)
            return
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": NAMESPACE},
            "type": "kubernetes.io/tls",
            "data": tls_secret_data(1),
        }
        await create(master, f"/api/v1/namespaces/{NAMESPACE}/secrets", secret)
        path = f"/apis/types.kubefed.io/v1beta1/namespaces/{NAMESPACE}/federatedsecrets"
        await create(master, path, FEDERATED_SECRET)


def install_crds(sandbox: Sandbox) -> None:
    """The CRDs `synchub crds` prints, on the master, waited for until served."""
    client = api_client(sandbox.kubeconfig, MASTER)
    try:
        create_crds([client], crd_documents(DEFAULT_GROUPS))  # what `synchub crds` prints
    finally:
        client.close()


async def rotate(config: Config, serial: int, *, real: bool) -> None:
    """Renew the certificate: cert-manager re-issues it (``cmctl renew``), or the stand-in does."""
    async with await ClusterClient.connect(config.master) as master:
        if real:
            await certmanager.renew(master, NAMESPACE, SECRET)
            return
        await master.request(
            "PATCH",
            f"/api/v1/namespaces/{NAMESPACE}/secrets/{SECRET}",
            body={"data": tls_secret_data(serial)},
            content_type="application/merge-patch+json",
        )


async def holdings(config: Config) -> list[tuple[str, str, str]]:
    """(cluster, managed by, data hash) of the demo Secret in every cluster."""
    rows = []
    for cluster in config.clusters:
        try:
            async with await ClusterClient.connect(cluster, timeout=5) as client:
                secret = await client.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{SECRET}")
        except NotFound:
            rows.append((cluster.name, "-", "(none)"))
            continue
        except KubeError as exc:
            rows.append((cluster.name, "-", f"unreachable: {exc}"))
            continue
        labels = (secret.get("metadata") or {}).get("labels") or {}
        owner = "synchub" if labels.get("synchub.io/managed") == "true" else "source"
        digest = hashlib.sha256(json.dumps(secret.get("data"), sort_keys=True).encode())
        rows.append((cluster.name, owner, digest.hexdigest()[:16]))
    return rows


def table(rows: list[tuple[str, str, str]]) -> str:
    """The holdings as a table: cluster, the Secret's writer (synchub or source), its data hash."""
    lines = [f"  {'CLUSTER':<10} {'SECRET ' + NAMESPACE + '/' + SECRET:<32} {'DATA HASH'}"]
    lines += [f"  {c:<10} {o:<32} {h}" for c, o, h in rows]
    return "\n".join(lines)


async def wait_in_sync(
    config: Config, timeout: float = 60.0, *, not_hash: str = ""
) -> list[tuple[str, str, str]]:
    """The holdings once every cluster holds the same data, or as they are at ``timeout``.

    The same data must differ from ``not_hash`` (the data before a renewal).
    """
    rows: list[tuple[str, str, str]] = []

    async def in_sync() -> bool:
        rows[:] = await holdings(config)
        hashes = {h for _, _, h in rows}
        return len(hashes) == 1 and not hashes & {"(none)", not_hash}

    await poll_async(in_sync, timeout, interval=0.3)
    return rows


def start_hub(sandbox: Sandbox) -> int:
    """Start ``synchub run`` detached (or find it running); its HTTP port."""
    pid_file = sandbox.dir / "synchub.pid"
    if pid_file.exists():
        pid, port = json.loads(pid_file.read_text())
        if alive(pid, str(sandbox.clusters_yaml)):
            say(f"the hub is already running (pid {pid})")
            return int(port)
    log = sandbox.dir / "synchub.log"
    hub = HubProcess(sandbox.clusters_yaml, log, port=free_port(8080), detached=True)
    hub.start(timeout=0)  # it outlives this command; the demo waits on the copies instead
    pid_file.write_text(json.dumps([hub.pid, hub.port]))
    say(f"started synchub run (pid {hub.pid}), log {log}")
    return hub.port


def down(sandbox: Sandbox) -> None:
    """Stop the hub, the git server and the sandbox."""
    pid_file = sandbox.dir / "synchub.pid"
    if pid_file.exists():
        pid, _ = json.loads(pid_file.read_text())
        stop(pid, str(sandbox.clusters_yaml))
    GitServer(sandbox.dir).down()
    sandbox.down()
    say(f"stopped the hub and the sandbox in {sandbox.dir}")


def main() -> int:
    """``python -m hub.cli.demo [--dir DIR] [--down]``: run (or stop) the demo."""
    parser = argparse.ArgumentParser(prog="python -m hub.cli.demo")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--down", action="store_true", help="stop the demo")
    args = parser.parse_args()
    sandbox = Sandbox(args.dir, say=say)
    if args.down:
        down(sandbox)
        return 0
    real = cert_manager_built()
    try:
        sandbox.up(2, cert_manager=real)
    except SandboxError as exc:
        print(f"demo: sandbox failed: {exc}", file=sys.stderr)
        return 1
    config = load_config(sandbox.clusters_yaml)
    install_crds(sandbox)
    asyncio.run(arrange(config, real=real))
    asyncio.run(demo_git.install_crd(config))
    if real:
        say("the real cert-manager (v1.16.2) issues Certificate cloud-certificate on the master")
    else:
        say("cert-manager is not built (make control-plane): a stand-in writes the TLS Secret")
    say("applied the FederatedSecret copying it (placement: cluster-master DoesNotExist)")
    port = start_hub(sandbox)
    say(f"status page: http://127.0.0.1:{port}/status")
    rows = asyncio.run(wait_in_sync(config))
    print(f"\nThe Secret, fanned out to the members (the master's own copy is the source):\n"
          f"{table(rows)}\n")  # fmt: skip
    say("renewing the certificate on the master" + (" (as cmctl renew asks)" if real else ""))
    before = rows[0][2] if rows else ""
    asyncio.run(rotate(config, int(time.time()), real=real))
    rows = asyncio.run(wait_in_sync(config, not_hash=before))
    print(f"\nAfter the rotation:\n{table(rows)}\n")
    git_ok = demo_git.git_step(config, sandbox.dir)
    kubeconfig = sandbox.kubeconfig
    print(
        f"""The hub keeps running. Try next:

  eval "$(.venv/bin/synchub sandbox env --dir {args.dir})"
  kubectl --context synchub-member-1 -n {NAMESPACE} get secrets --show-labels
  kubectl -n {NAMESPACE} get federatedsecrets                # READY, CLUSTERS, AGE
  kubectl -n {NAMESPACE} get federatedsecrets.types.kubefed.io {SECRET} -o yaml   # status
  kubectl get clusters.synchub.io                          # the cluster registry
  .venv/bin/synchub status                                 # every synced object, per cluster
  .venv/bin/synchub render <your FederatedSecret.yaml>    # what the hub would write
  kubectl -n synchub-system get gitsyncs                  # the git step's GitSync
  curl -s localhost:{port}/metrics | grep ^synchub_        # metrics
  open http://127.0.0.1:{port}/status in a browser         # the status page (/status.json)
  tail -f {sandbox.dir / "synchub.log"}                     # the hub's log

Stop everything with: make demo-down   (kubeconfig: {kubeconfig})"""
    )
    return 0 if len({h for _, _, h in rows}) == 1 and git_ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    raise SystemExit(main())
