"""Find kube-apiserver and etcd: env overrides, envtest assets, PATH, then the build cache."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from hub.core.errors import BinaryNotFound

CACHE_ENV = "SYNCHUB_CACHE_DIR"
BINARY_ENV = {"kube-apiserver": "SYNCHUB_KUBE_APISERVER", "etcd": "SYNCHUB_ETCD"}
ENVTEST_ENV = {"kube-apiserver": "TEST_ASSET_KUBE_APISERVER", "etcd": "TEST_ASSET_ETCD"}


def find_binary(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """Look for a control-plane binary in the order docs/cli.md (sandbox) gives."""
    env = os.environ if environ is None else environ
    candidates: list[Path] = []
    for variable in (BINARY_ENV[name], ENVTEST_ENV[name]):
        if env.get(variable):
            candidates.append(Path(env[variable]))
    if env.get("KUBEBUILDER_ASSETS"):
        candidates.append(Path(env["KUBEBUILDER_ASSETS"]) / name)
    on_path = shutil.which(name, path=env.get("PATH"))
    if on_path:
        candidates.append(Path(on_path))
    candidates += _cached(name, env)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise BinaryNotFound(
        f"{name} not found: run `make control-plane`, or set {BINARY_ENV[name]} or "
        "KUBEBUILDER_ASSETS, or put it on PATH"
    )


def cache_roots(env: Mapping[str, str]) -> list[Path]:
    """Build caches: $SYNCHUB_CACHE_DIR, ./.cache, and the checkout this package lives in."""
    roots = []
    if env.get(CACHE_ENV):
        roots.append(Path(env[CACHE_ENV]))
    roots.append(Path.cwd() / ".cache")
    roots.append(Path(__file__).resolve().parents[2] / ".cache")  # editable install
    return list(dict.fromkeys(roots))


def _cached(name: str, env: Mapping[str, str]) -> list[Path]:
    """Binaries in ``<cache>/bin/<version>/``, newest version first."""
    found = []
    for root in cache_roots(env):
        versions = [p for p in (root / "bin").glob("*") if (p / name).is_file()]
        versions.sort(key=lambda p: _version_key(p.name), reverse=True)
        found += [p / name for p in versions]
    return found


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in text.lstrip("v").split("."))
