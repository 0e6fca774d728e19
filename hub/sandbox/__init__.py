"""Real local control planes (etcd + kube-apiserver) for the demo and the tests."""

from hub.core.errors import SandboxError
from hub.sandbox.sandbox import DEFAULT_DIR, MASTER, Sandbox, context_name, member_names

__all__ = ["DEFAULT_DIR", "MASTER", "Sandbox", "SandboxError", "context_name", "member_names"]
