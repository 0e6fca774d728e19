"""The real cert-manager controller on a cluster, and the real CRDs of the seed scenarios.

``make control-plane`` builds cert-manager's controllers (tools/cert-manager) into
``<cache>/bin/cert-manager-<version>/cert-manager-controller`` and writes the CRDs into
``<cache>/crds/``: ``cert-manager-<version>.yaml`` (cert-manager's own) and
``helmreleases-<version>.yaml`` (Flux's ``helmreleases.helm.toolkit.fluxcd.io``, generated
from its Go API with controller-gen). CRDs are installed with server-side apply.

On a cluster, :func:`create_issuer_chain` builds a self-signed ClusterIssuer
(``synchub-selfsigned``) that signs a CA Certificate in the cluster resource namespace, and a
CA ClusterIssuer (``synchub-ca``) from its Secret, so any namespace can get leaf certificates.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import yaml

from hub.core.errors import BinaryNotFound, KubeError, NotFound, SandboxError

# Project modules outside hub.sandbox: kept to these imports (modules are being moved).
from hub.kube.client import APPLY_PATCH, MERGE_PATCH, ClusterClient
from hub.kube.kubeconfig import ClientConfig
from hub.sandbox.binaries import cache_roots
from hub.sandbox.process import alive, spawn, stop, tail

BINARY_ENV = "SYNCHUB_CERT_MANAGER"
BINARY_NAME = "cert-manager-controller"
FIELD_MANAGER = "synchub-sandbox"
CLUSTER_RESOURCE_NAMESPACE = "cert-manager"
SELFSIGNED_ISSUER = "synchub-selfsigned"
CA_ISSUER = "synchub-ca"
CA_SECRET = "synchub-ca"
CM_API = "/apis/cert-manager.io/v1"
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
READY_TIMEOUT = 60.0
LOG_FILE = "cert-manager.log"

T = TypeVar("T")


class CertManagerNotFound(BinaryNotFound):
    """The cert-manager controller build or its CRDs are not in the cache."""

    pass


# --- finding the build ---------------------------------------------------------------------


def find_cert_manager(environ: Mapping[str, str] | None = None) -> Path:
    """``$SYNCHUB_CERT_MANAGER``, then ``<cache>/bin/cert-manager-*/``, newest first."""
    env = os.environ if environ is None else environ
    candidates = [Path(env[BINARY_ENV])] if env.get(BINARY_ENV) else []
    for root in cache_roots(env):
        candidates += _newest_first((root / "bin").glob(f"cert-manager-*/{BINARY_NAME}"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise CertManagerNotFound(
        f"{BINARY_NAME} not found: run `make control-plane` (builds it into "
        f".cache/bin/cert-manager-<version>/), or set {BINARY_ENV}"
    )


def cert_manager_crds_file(environ: Mapping[str, str] | None = None) -> Path:
    """The newest cert-manager CRD file in the build cache."""
    return _find_crds("cert-manager", environ)


def helmrelease_crd_file(environ: Mapping[str, str] | None = None) -> Path:
    """The newest Flux HelmRelease CRD file in the build cache."""
    return _find_crds("helmreleases", environ)


def _find_crds(prefix: str, environ: Mapping[str, str] | None) -> Path:
    env = os.environ if environ is None else environ
    for root in cache_roots(env):
        found = _newest_first((root / "crds").glob(f"{prefix}-v*.yaml"))
        if found:
            return found[0]
    raise CertManagerNotFound(f"{prefix} CRDs not found in .cache/crds/: run `make control-plane`")


def _newest_first(paths: Any) -> list[Path]:
    def key(path: Path) -> tuple[int, ...]:
        name = path.parent.name if path.name == BINARY_NAME else path.stem
        version = name.rsplit("-v", 1)[-1]
        return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))

    return sorted(paths, key=key, reverse=True)


# --- API access ------------------------------------------------------------------------------


def cluster_config(kubeconfig: Path, context: str) -> ClientConfig:
    """How to reach sandbox context ``context`` through ``kubeconfig``."""
    return ClientConfig(name=context, context=context, kubeconfig=(kubeconfig,))


async def apply(client: ClusterClient, path: str, document: dict[str, Any]) -> Any:
    """Server-side apply of one object at its API path (created when missing)."""
    return await client.request(
        "PATCH",
        path,
        params={"fieldManager": FIELD_MANAGER, "force": True},
        body=document,
        content_type=APPLY_PATCH,
    )


async def install_crds(client: ClusterClient, file: Path, timeout: float = READY_TIMEOUT) -> None:
    """Apply every CRD in ``file`` server-side, then wait until each is Established."""
    names = []
    for document in yaml.safe_load_all(await asyncio.to_thread(file.read_text)):
        if not document:
            continue
        name = document["metadata"]["name"]
        await apply(client, f"{CRD_API}/{name}", document)
        names.append(name)
    for name in names:
        await _wait(client, f"{CRD_API}/{name}", "Established", timeout)


async def install_cert_manager_crds(client: ClusterClient) -> None:
    """cert-manager's CRDs, applied and Established."""
    await install_crds(client, cert_manager_crds_file())


async def install_helmrelease_crd(client: ClusterClient) -> None:
    """Flux's real ``helmreleases.helm.toolkit.fluxcd.io`` (v2 stored, v2beta2 served)."""
    await install_crds(client, helmrelease_crd_file())


def ready(obj: Any, condition: str = "Ready") -> bool:
    """Whether ``obj`` has condition ``condition`` with status True."""
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == condition and c.get("status") == "True" for c in conditions)


async def _wait(
    client: ClusterClient,
    path: str,
    condition: str,
    timeout: float,
    check: Any = None,
) -> Any:
    """Poll ``path`` until its ``condition`` is True; ``check()`` may raise to stop early."""
    deadline = time.monotonic() + timeout
    obj: Any = None
    while True:
        if check is not None:
            check()
        try:
            obj = await client.get(path)
        except NotFound:
            obj = None
        if ready(obj, condition):
            return obj
        if time.monotonic() > deadline:
            conditions = ((obj or {}).get("status") or {}).get("conditions")
            raise SandboxError(f"{path} not {condition} after {timeout:.0f}s: {conditions}")
        await asyncio.sleep(0.2)


async def create_issuer_chain(
    client: ClusterClient,
    namespace: str = CLUSTER_RESOURCE_NAMESPACE,
    timeout: float = READY_TIMEOUT,
    check: Any = None,
) -> None:
    """Self-signed ClusterIssuer → CA Certificate → CA ClusterIssuer ``synchub-ca``.

    The CA Certificate lives in ``namespace``, the controller's cluster resource namespace.
    Returns once the CA issuer is Ready.
    """
    issuer_ref = {"name": SELFSIGNED_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"}
    await apply(
        client,
        f"/api/v1/namespaces/{namespace}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
    )
    await apply(
        client,
        f"{CM_API}/clusterissuers/{SELFSIGNED_ISSUER}",
        _cm("ClusterIssuer", SELFSIGNED_ISSUER, {"selfSigned": {}}),
    )
    await _wait(client, f"{CM_API}/clusterissuers/{SELFSIGNED_ISSUER}", "Ready", timeout, check)
    ca_spec = {
        "isCA": True,
        "commonName": "synchub-sandbox-ca",
        "secretName": CA_SECRET,
        "duration": "87600h",
        "privateKey": {"algorithm": "ECDSA", "size": 256},
        "issuerRef": issuer_ref,
    }
    ca_path = f"{CM_API}/namespaces/{namespace}/certificates/{CA_ISSUER}"
    await apply(client, ca_path, _cm("Certificate", CA_ISSUER, ca_spec, namespace))
    await _wait(client, ca_path, "Ready", timeout, check)
    await apply(
        client,
        f"{CM_API}/clusterissuers/{CA_ISSUER}",
        _cm("ClusterIssuer", CA_ISSUER, {"ca": {"secretName": CA_SECRET}}),
    )
    await _wait(client, f"{CM_API}/clusterissuers/{CA_ISSUER}", "Ready", timeout, check)


def _cm(kind: str, name: str, spec: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return {"apiVersion": "cert-manager.io/v1", "kind": kind, "metadata": metadata, "spec": spec}


def renewal_patch(certificate: dict[str, Any]) -> dict[str, Any]:
    """The status merge patch ``cmctl renew`` amounts to.

    It sets condition Issuing=True with reason ManuallyTriggered; cert-manager then issues a
    new certificate within a second.
    """
    status = certificate.get("status") or {}
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Issuing"]
    conditions.append(
        {
            "type": "Issuing",
            "status": "True",
            "reason": "ManuallyTriggered",
            "message": "Certificate re-issuance manually triggered",
            "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "observedGeneration": certificate["metadata"].get("generation", 1),
        }
    )
    return {
        "metadata": {"resourceVersion": certificate["metadata"]["resourceVersion"]},
        "status": {"conditions": conditions},
    }


async def renew(client: ClusterClient, namespace: str, name: str) -> None:
    """Request a renewal of Certificate ``namespace/name`` like ``cmctl renew``."""
    path = f"{CM_API}/namespaces/{namespace}/certificates/{name}"
    patch = renewal_patch(await client.get(path))
    await client.request("PATCH", f"{path}/status", body=patch, content_type=MERGE_PATCH)


# --- the controller process --------------------------------------------------------------------


def write_context_kubeconfig(kubeconfig: Path, context: str, destination: Path) -> Path:
    """A copy of ``kubeconfig`` whose current context is ``context`` (cert-manager uses that)."""
    document = yaml.safe_load(kubeconfig.read_text())
    if not any(c.get("name") == context for c in document.get("contexts") or []):
        raise SandboxError(f"context {context!r} not in {kubeconfig}")
    document["current-context"] = context
    destination.write_text(yaml.safe_dump(document, sort_keys=False))
    destination.chmod(0o600)
    return destination


def controller_args(binary: Path, kubeconfig: Path, namespace: str) -> list[str]:
    """The command line of cert-manager's controller for one sandbox cluster."""
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--cluster-resource-namespace={namespace}",
        "--leader-elect=false",
        "--v=2",
    ]


def start_controller(
    kubeconfig: Path,
    context: str,
    workdir: Path,
    namespace: str = CLUSTER_RESOURCE_NAMESPACE,
) -> tuple[int, list[str], Path]:
    """Start cert-manager against ``context``; return (pid, args, log file).

    The process outlives the caller (its own session); its args hold ``workdir``, which is
    the marker :func:`hub.sandbox.process.stop` checks. Install the CRDs first.
    """
    binary = find_cert_manager()
    workdir.mkdir(parents=True, exist_ok=True)
    own = write_context_kubeconfig(kubeconfig, context, workdir / "cert-manager.kubeconfig")
    args = controller_args(binary, own, namespace)
    log = workdir / LOG_FILE
    return spawn(args, log), args, log


async def setup_async(
    kubeconfig: Path,
    context: str,
    workdir: Path,
    namespace: str = CLUSTER_RESOURCE_NAMESPACE,
) -> tuple[int, list[str], Path]:
    """CRDs, controller, issuer chain: everything a cluster needs to issue certificates."""
    find_cert_manager()  # fail before touching the cluster
    client = await ClusterClient.connect(cluster_config(kubeconfig, context))
    try:
        await install_cert_manager_crds(client)
        pid, args, log = start_controller(kubeconfig, context, workdir, namespace)

        def check() -> None:
            if not alive(pid, str(workdir)):
                raise SandboxError(f"cert-manager exited; last lines of {log}:\n{tail(log)}")

        try:
            await create_issuer_chain(client, namespace, check=check)
        except BaseException as exc:
            stop(pid, str(workdir))
            if isinstance(exc, KubeError | SandboxError):
                raise SandboxError(
                    f"cert-manager issuer chain: {exc}\n{log}:\n{tail(log)}"
                ) from None
            raise
        return pid, args, log
    finally:
        await client.close()


def blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion in a thread of its own.

    A caller's event loop (running or not) is left alone: for the sandbox CLI and synchronous
    tests.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def setup(
    kubeconfig: Path, context: str, workdir: Path, namespace: str = CLUSTER_RESOURCE_NAMESPACE
) -> tuple[int, list[str], Path]:
    """Blocking :func:`setup_async`."""
    return blocking(setup_async(kubeconfig, context, workdir, namespace))


def install_crds_on(kubeconfig: Path, context: str, file: Path) -> None:
    """Blocking :func:`install_crds` on the cluster of ``context``."""

    async def install() -> None:
        async with await ClusterClient.connect(cluster_config(kubeconfig, context)) as client:
            await install_crds(client, file)

    blocking(install())
