"""Per-cluster credentials and TLS, loaded from a kubeconfig context (or the pod's account).

kubernetes_asyncio parses kubeconfigs and runs exec plugins; this module keeps one loader
per cluster (never the process-global default) and refreshes what expires: exec-plugin
tokens before their expiry, token files periodically, everything again after a 401.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio.client import Configuration
from kubernetes_asyncio.config import ConfigException
from kubernetes_asyncio.config.incluster_config import InClusterConfigLoader
from kubernetes_asyncio.config.kube_config import KubeConfigLoader

from hub.core.errors import CredentialsError, KubeconfigError
from hub.kube.kubeconfig import ClientConfig, load_kubeconfigs

TOKEN_FILE_REFRESH_SECONDS = 60.0


@dataclass
class Endpoint:
    """Where and how to reach an API server: URL, TLS context, name to verify."""

    server: str
    ssl: ssl.SSLContext | bool  # False: plain http
    server_hostname: str | None


class Credentials:
    """Builds the endpoint and the Authorization header for one cluster."""

    def __init__(self, cluster: ClientConfig) -> None:
        self.cluster = cluster
        self._configuration: Any = None
        self._loader: KubeConfigLoader | None = None
        self._token_loaded_at = 0.0

    async def load(self) -> Endpoint:
        """(Re)load everything from the kubeconfig files; call again after a 401."""
        configuration = Configuration()
        try:
            if self.cluster.in_cluster:
                InClusterConfigLoader(
                    token_filename="/var/run/secrets/kubernetes.io/serviceaccount/token",
                    cert_filename="/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
                ).load_and_set(configuration)
                self._loader = None
            else:
                kubeconfig = load_kubeconfigs(
                    self.cluster.kubeconfig, config_file=self.cluster.name, key="kubeconfig"
                )
                self._loader = KubeConfigLoader(
                    config_dict=kubeconfig.merged,
                    active_context=self.cluster.context,
                    config_base_path=None,
                )
                await self._loader.load_and_set(configuration)
        except KubeconfigError as exc:
            raise CredentialsError(self.cluster.name, exc.problem) from None
        except (ConfigException, OSError, ValueError, KeyError) as exc:
            raise CredentialsError(self.cluster.name, f"cannot load credentials: {exc}") from None
        self._configuration = configuration
        self._token_loaded_at = time.monotonic()
        return _endpoint(configuration)

    async def authorization(self) -> str | None:
        """The Authorization header value, refreshed when it is about to expire."""
        configuration = self._configuration
        if configuration is None:
            return None
        loader = self._loader
        if loader is not None and loader._user is not None:
            if "exec" in loader._user:
                # Returns at once while the cached token is valid; re-runs the plugin near expiry.
                await loader.load_from_exec_plugin()
                if hasattr(loader, "token"):
                    configuration.api_key["BearerToken"] = loader.token
            elif "tokenFile" in loader._user and self._token_file_stale():
                loader._load_user_token()
                configuration.api_key["BearerToken"] = loader.token
                self._token_loaded_at = time.monotonic()
        # In-cluster configurations refresh the service-account token through this hook.
        token: str | None = await configuration.get_api_key_with_prefix("BearerToken")
        return token

    def _token_file_stale(self) -> bool:
        return time.monotonic() - self._token_loaded_at > TOKEN_FILE_REFRESH_SECONDS


def _endpoint(configuration: Any) -> Endpoint:
    server = str(configuration.host).rstrip("/")
    if not server.startswith("https://"):
        return Endpoint(server, False, None)
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return Endpoint(server, context, getattr(configuration, "tls_server_name", None))
