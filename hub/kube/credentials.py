"""Per-cluster credentials and TLS, from a kubeconfig context (or the pod's own account).

One :class:`Credentials` per cluster, never a process-wide default. The kubeconfig is read by
:mod:`hub.kube.kubeconfig` (pyyaml and our own code); what each field does, against kubectl
(also in docs/configuration.md, "Kubeconfig fields"):

================================  ==========================================================
kubeconfig field                  here
================================  ==========================================================
``server``                        the endpoint; ``http://`` means no TLS
``certificate-authority[-data]``  the CAs trusted (data wins over the file); else the system's
``insecure-skip-tls-verify``      the server certificate is not verified
``tls-server-name``               the name verified in the server certificate, sent as SNI
``proxy-url``                     every request goes through this (http) proxy
``client-certificate[-data]``,    a TLS client certificate; data never touches the disk
``client-key[-data]``             beyond a private temporary file read at once and deleted
``exec``                          the plugin runs (``args``, ``env``, ``provideClusterInfo``);
                                  its token is reused until 5 minutes before its
                                  ``expirationTimestamp``; a client certificate it returns
                                  is used for TLS
``token``, ``tokenFile``          a bearer token; the file is read again every minute
``username``/``password``         basic authentication
``auth-provider`` (oidc, gcp)     delegated to kubernetes_asyncio, imported only then
================================  ==========================================================

The first of auth-provider, exec, token, tokenFile, username/password that is set is used.
Everything is read again after a 401 (:meth:`Credentials.load`). Error messages are one
line, name the cluster, the file or the field, and never hold a credential.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import errno
import json
import os
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.core.errors import CredentialsError, KubeconfigError, one_line
from hub.core.problems import Problem
from hub.kube.kubeconfig import (
    ClientConfig,
    ContextEntry,
    ExecPlugin,
    ServerEntry,
    UserEntry,
    load_kubeconfigs,
    resolve_context,
)

TOKEN_FILE_REFRESH_SECONDS = 60.0
EXEC_EXPIRY_SKEW = datetime.timedelta(minutes=5)  # re-run the plugin this long before expiry
EXEC_TIMEOUT = 60.0  # seconds a credential plugin may take
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass
class Endpoint:
    """Where and how to reach an API server: URL, TLS context, name to verify, proxy."""

    server: str
    ssl: ssl.SSLContext | bool  # False: plain http
    server_hostname: str | None
    proxy: str | None = None


class Auth:
    """Produces the Authorization header; refreshes what expires. Base: no header."""

    #: A client certificate and key (PEM) the authenticator obtained (exec plugins).
    client_pem: tuple[bytes, bytes] | None = None

    async def header(self) -> str | None:
        """The Authorization header value, or None."""
        return None


class StaticAuth(Auth):
    """A header that never changes (``token``, ``username``/``password``)."""

    def __init__(self, value: str) -> None:
        self._value = value

    async def header(self) -> str | None:
        """The header."""
        return self._value


class TokenFileAuth(Auth):
    """A bearer token read from a file, read again when older than ``refresh`` seconds."""

    def __init__(self, cluster: str, path: str, refresh: float = TOKEN_FILE_REFRESH_SECONDS):
        self.cluster = cluster
        self.path = path
        self.refresh = refresh
        self._value = ""
        self._read_at = -1e9

    def read(self) -> None:
        """Read the token now."""
        try:
            token = Path(self.path).read_text().strip()
        except OSError as exc:
            raise CredentialsError(
                self.cluster, f"cannot read token file {self.path}: {exc.strerror}"
            ) from None
        if not token:
            raise CredentialsError(self.cluster, f"token file {self.path} is empty")
        self._value = f"Bearer {token}"
        self._read_at = time.monotonic()

    async def header(self) -> str | None:
        """The token, read again if the last read is older than ``refresh``."""
        if time.monotonic() - self._read_at > self.refresh:
            self.read()
        return self._value


class ExecAuth(Auth):
    """A credential plugin (client.authentication.k8s.io ExecCredential), run when needed."""

    def __init__(self, cluster: str, plugin: ExecPlugin, server: ServerEntry) -> None:
        self.cluster = cluster
        self.plugin = plugin
        self.server = server
        self._value: str | None = None
        self._expiry: datetime.datetime | None = None
        self._ran = False
        self._lock = asyncio.Lock()

    def _stale(self) -> bool:
        if not self._ran:
            return True
        if self._expiry is None:
            return False
        return self._expiry - EXEC_EXPIRY_SKEW <= datetime.datetime.now(datetime.UTC)

    async def header(self) -> str | None:
        """The plugin's token; the plugin runs again near its expiry (one run at a time)."""
        async with self._lock:
            if self._stale():
                await self.run()
        return self._value

    async def run(self) -> None:
        """Run the plugin and keep what it returned."""
        status = parse_exec_output(await self._output(), self.plugin.api_version)
        if isinstance(status, Problem):
            raise CredentialsError(self.cluster, f"exec plugin {self.plugin.command}: {status}")
        token, pem, expiry = status
        self._value = f"Bearer {token}" if token else None
        self.client_pem = pem
        self._expiry = expiry
        self._ran = True

    async def _output(self) -> bytes:
        plugin = self.plugin
        env = {**os.environ, **dict(plugin.env)}
        env["KUBERNETES_EXEC_INFO"] = json.dumps(exec_info(plugin, self.server))
        try:
            process = await asyncio.create_subprocess_exec(
                plugin.command,
                *plugin.args,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise CredentialsError(
                self.cluster, f"exec plugin {plugin.command}: {exc.strerror}"
            ) from None
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), EXEC_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise CredentialsError(
                self.cluster, f"exec plugin {plugin.command} did not answer in {EXEC_TIMEOUT:.0f}s"
            ) from None
        if process.returncode:
            said = stderr.decode(errors="replace").strip().splitlines()
            detail = f": {one_line(said[0][:200])}" if said else ""
            raise CredentialsError(
                self.cluster,
                f"exec plugin {plugin.command} exited with {process.returncode}{detail}",
            )
        return stdout


def exec_info(plugin: ExecPlugin, server: ServerEntry) -> dict[str, Any]:
    """The KUBERNETES_EXEC_INFO a plugin is given (the hub is never interactive)."""
    spec: dict[str, Any] = {"interactive": False}
    if plugin.provide_cluster_info:
        cluster: dict[str, Any] = {"server": server.server}
        if server.ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(server.ca_data).decode()
        if server.insecure:
            cluster["insecure-skip-tls-verify"] = True
        if server.tls_server_name:
            cluster["tls-server-name"] = server.tls_server_name
        if server.proxy_url:
            cluster["proxy-url"] = server.proxy_url
        spec["cluster"] = cluster
    return {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}


ExecResult = tuple[str | None, tuple[bytes, bytes] | None, datetime.datetime | None]


def parse_exec_output(output: bytes, api_version: str) -> ExecResult | Problem:
    """(token, client certificate and key, expiry) from a plugin's ExecCredential output."""
    try:
        document = json.loads(output)
    except ValueError:
        return Problem("InvalidExecCredential", "did not print an ExecCredential (not JSON)")
    if not isinstance(document, dict) or not isinstance(document.get("status"), dict):
        return Problem("InvalidExecCredential", "printed an ExecCredential without status")
    if document.get("apiVersion") != api_version:
        return Problem("InvalidExecCredential", f"did not answer in apiVersion {api_version}")
    status: Mapping[str, Any] = document["status"]
    token = status.get("token")
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if not (isinstance(token, str) and token) and not (isinstance(cert, str) and cert):
        return Problem("InvalidExecCredential", "returned neither a token nor a certificate")
    if cert and not (isinstance(cert, str) and isinstance(key, str) and key):
        return Problem("InvalidExecCredential", "returned a certificate without its key")
    expiry = None
    if status.get("expirationTimestamp"):
        try:
            expiry = datetime.datetime.fromisoformat(str(status["expirationTimestamp"]))
        except ValueError:
            return Problem("InvalidExecCredential", "expirationTimestamp is not RFC 3339")
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=datetime.UTC)
    pem = (cert.encode(), str(key).encode()) if isinstance(cert, str) and cert else None
    return (token if isinstance(token, str) and token else None), pem, expiry


class ProviderAuth(Auth):
    """A legacy ``auth-provider``; kubernetes_asyncio does the work (imported only for it)."""

    def __init__(self, header: Callable[[], Awaitable[str | None]]) -> None:
        self._header = header

    async def header(self) -> str | None:
        """The provider's token, refreshed by it when expired."""
        return await self._header()


async def authenticator(cluster: str, entry: ContextEntry, merged: dict[str, Any]) -> Auth:
    """The authenticator a context's user asks for (first set wins, see the module docstring)."""
    user = entry.user
    if user.auth_provider:
        from hub.kube import authprovider  # kubernetes_asyncio: only for this rare case

        return ProviderAuth(await authprovider.load(cluster, merged, entry.name, user))
    if user.exec is not None:
        plugin = ExecAuth(cluster, user.exec, entry.cluster)
        await plugin.run()
        return plugin
    if user.token:
        return StaticAuth(f"Bearer {user.token}")
    if user.token_file:
        reader = TokenFileAuth(cluster, user.token_file)
        reader.read()
        return reader
    if user.username and user.password:
        pair = base64.b64encode(f"{user.username}:{user.password}".encode()).decode()
        return StaticAuth(f"Basic {pair}")
    return Auth()


def in_cluster_context(environ: Mapping[str, str], root: Path = SERVICE_ACCOUNT) -> ContextEntry:
    """The pod's own service account, as if it were a kubeconfig context."""
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise KubeconfigError(
            "in-cluster", "", "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set"
        )
    if ":" in host:
        host = f"[{host}]"  # IPv6
    return ContextEntry(
        "in-cluster",
        ServerEntry(f"https://{host}:{port}", ca_file=str(root / "ca.crt")),
        UserEntry(token_file=str(root / "token")),
    )


def endpoint(entry: ContextEntry, auth: Auth) -> Endpoint:
    """The URL and TLS settings for a context (the client certificate from ``auth`` first)."""
    server, user = entry.cluster, entry.user
    url = server.server.rstrip("/")
    if not url.startswith("https://"):
        return Endpoint(url, False, None, server.proxy_url)
    if server.ca_data:
        ca = server.ca_data
        cadata: str | bytes = ca.decode("ascii") if ca.lstrip().startswith(b"-----") else ca
        context = ssl.create_default_context(cadata=cadata)
    else:
        try:
            context = ssl.create_default_context(cafile=server.ca_file)
        except OSError as exc:  # ssl does not say which file
            raise OSError(exc.errno, exc.strerror, server.ca_file) from None
    if auth.client_pem is not None:
        _load_client_certificate(context, None, auth.client_pem[0], None, auth.client_pem[1])
    elif user.cert_data or user.cert_file:
        _load_client_certificate(
            context, user.cert_file, user.cert_data, user.key_file, user.key_data
        )
    if server.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return Endpoint(url, context, server.tls_server_name, server.proxy_url)


def _load_client_certificate(
    context: ssl.SSLContext,
    cert_file: str | None,
    cert_data: bytes | None,
    key_file: str | None,
    key_data: bytes | None,
) -> None:
    """Load a client certificate; inline data passes through a private temporary directory."""
    with tempfile.TemporaryDirectory(prefix="synchub-tls-") as directory:  # mode 0700

        def path(name: str, file: str | None, data: bytes | None) -> str | None:
            if not data:
                return file
            target = os.path.join(directory, name)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
            return target

        cert = path("tls.crt", cert_file, cert_data)
        key = path("tls.key", key_file, key_data)
        if cert is None:
            raise ssl.SSLError("a client key without its certificate")
        for file in (cert, key):
            if file and not os.path.isfile(file):  # ssl would not say which file
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), file)
        context.load_cert_chain(cert, key)


class Credentials:
    """Builds the endpoint and the Authorization header for one cluster."""

    def __init__(self, cluster: ClientConfig) -> None:
        self.cluster = cluster
        self._auth: Auth | None = None

    async def load(self) -> Endpoint:
        """(Re)load everything from the kubeconfig files; call again after a 401."""
        name = self.cluster.name
        try:
            entry, merged = self._context()
            auth = await authenticator(name, entry, merged)
            found = endpoint(entry, auth)
        except KubeconfigError as exc:
            raise CredentialsError(name, exc.problem) from None
        except ssl.SSLError as exc:
            reason = exc.reason or exc.strerror or type(exc).__name__
            raise CredentialsError(name, f"cannot load TLS certificates: {reason}") from None
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise CredentialsError(name, f"cannot read{where}: {exc.strerror}") from None
        self._auth = auth
        return found

    def _context(self) -> tuple[ContextEntry, dict[str, Any]]:
        if self.cluster.in_cluster:
            return in_cluster_context(os.environ), {}
        kubeconfig = load_kubeconfigs(
            self.cluster.kubeconfig, config_file=self.cluster.name, key="kubeconfig"
        )
        entry = resolve_context(kubeconfig.merged, self.cluster.context)
        if isinstance(entry, Problem):
            raise CredentialsError(
                self.cluster.name, f"kubeconfig {kubeconfig.describe()}: {entry}"
            )
        return entry, kubeconfig.merged

    async def authorization(self) -> str | None:
        """The Authorization header value, refreshed when it is about to expire."""
        return None if self._auth is None else await self._auth.header()
