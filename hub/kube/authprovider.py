"""Legacy kubeconfig ``auth-provider`` users (oidc, gcp), through kubernetes_asyncio.

Imported only when a kubeconfig context needs it: kubernetes_asyncio is large (hundreds of
modules, tens of MB), and every other way to authenticate is read by hub.kube.credentials.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes_asyncio.config import ConfigException
from kubernetes_asyncio.config.kube_config import KubeConfigLoader

from hub.core.errors import CredentialsError
from hub.kube.kubeconfig import UserEntry

PROVIDERS = ("oidc", "gcp")


async def load(
    cluster: str, merged: dict[str, Any], context: str, user: UserEntry
) -> Callable[[], Awaitable[str | None]]:
    """A function giving the provider's current Authorization header (refreshed when expired)."""
    if user.auth_provider not in PROVIDERS:
        raise CredentialsError(
            cluster, f"auth-provider {user.auth_provider!r} is not supported (use exec)"
        )
    loader = KubeConfigLoader(config_dict=merged, active_context=context, config_base_path=None)

    async def header() -> str | None:
        try:
            await loader._load_authentication()  # returns the cached token until it expires
        except (ConfigException, ValueError, KeyError, OSError) as exc:
            raise CredentialsError(
                cluster, f"auth-provider {user.auth_provider}: {type(exc).__name__}"
            ) from None
        token = getattr(loader, "token", None)
        return str(token) if token else None

    await header()
    return header
