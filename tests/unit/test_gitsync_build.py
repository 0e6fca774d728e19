"""Unit tests for hub.controllers.gitsync.build: directory rules, transforms, kustomize."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.controllers.gitsync import build as build_module
from hub.controllers.gitsync.build import BuildSpec, build, source_dir
from hub.core.errors import BuildError

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\n"


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def names(files: list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in files]


def test_directory_rules(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "a.yaml": CM % "a",
            "kubernetes/b.yaml": CM % "b",
            "deploy/c.yml": CM % "c",
            "deploy/x/d.json": "{}",
            "notes.txt": "",
        },
    )
    assert source_dir(root, "") == (root / "kubernetes").resolve()
    assert names(build(root, BuildSpec(), allow_transforms=False)) == ["kubernetes/b.yaml"]
    assert names(build(root, BuildSpec("deploy/"), allow_transforms=False)) == [
        "deploy/c.yml",
        "deploy/x/d.json",
    ]
    (root / "kubernetes" / "b.yaml").unlink()
    (root / "kubernetes").rmdir()
    assert names(build(root, BuildSpec(), allow_transforms=False)) == [
        "a.yaml",
        "deploy/c.yml",
        "deploy/x/d.json",
    ]


def test_a_path_outside_the_checkout_is_refused(tmp_path: Path) -> None:
    root = tree(tmp_path / "repo", {"a.yaml": CM % "a"})
    with pytest.raises(BuildError, match="outside the repository"):
        build(root, BuildSpec("../.."), allow_transforms=False)
    with pytest.raises(BuildError, match="no such directory"):
        build(root, BuildSpec("missing"), allow_transforms=False)


def test_transforms_need_allow_transforms(tmp_path: Path) -> None:
    spec = BuildSpec(transform=("sh", "-c", "true"))
    with pytest.raises(BuildError, match=r"git\.allowTransforms is false"):
        build(tmp_path, spec, allow_transforms=False)


def test_a_transform_runs_in_a_scratch_copy_and_writes_outdir(tmp_path: Path) -> None:
    root = tree(tmp_path / "repo", {"in.txt": "x", "kubernetes/ignored.yaml": CM % "i"})
    manifest = CM.replace("\n", "\\n") % "t"
    script = f'printf "{manifest}" > "$OUTDIR/t.yaml"; touch "$INDIR/scribble"'
    files = build(root, BuildSpec(transform=("sh", "-c", script)), allow_transforms=True)
    assert names(files) == ["t.yaml"]  # output is read from OUTDIR only
    assert not (root / "scribble").exists()  # it ran in a scratch copy


def test_transform_environment_is_minimal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCHUB_GIT_PASSWORD", "do-not-leak")
    root = tree(tmp_path / "repo", {"a": ""})
    script = (
        'env | cut -d= -f1 | grep -v "^PWD$\\|^SHLVL$\\|^_$" | sort | '
        'sed "s/.*/&: x/" > "$OUTDIR/env.yaml"'
    )
    ((_, text),) = build(root, BuildSpec(transform=("sh", "-c", script)), allow_transforms=True)
    assert sorted(line.split(":")[0] for line in text.splitlines()) == [
        "HOME",
        "INDIR",
        "OUTDIR",
        "PATH",
    ]


def test_transform_failures_and_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(tmp_path / "repo", {"a": ""})
    with pytest.raises(BuildError, match="exit 3: broken"):
        build(root, BuildSpec(transform=("sh", "-c", "echo broken; exit 3")), allow_transforms=True)
    monkeypatch.setattr(build_module, "TRANSFORM_TIMEOUT", 0.5)
    with pytest.raises(BuildError, match="timed out"):
        build(root, BuildSpec(transform=("sleep", "30")), allow_transforms=True)
    monkeypatch.setattr(build_module, "TRANSFORM_OUTPUT_LIMIT", 10)
    with pytest.raises(BuildError, match="over the limit"):
        build(
            root,
            BuildSpec(transform=("sh", "-c", 'echo 01234567890 > "$OUTDIR/x.yaml"')),
            allow_transforms=True,
        )


def test_kustomize_builds_with_kubectl(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "repo",
        {
            "kubernetes/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: k-\n",
            "kubernetes/cm.yaml": CM % "a",
        },
    )
    ((label, text),) = build(root, BuildSpec(kustomize=True), allow_transforms=False)
    assert label == "kustomize build kubernetes"
    assert "name: k-a" in text
