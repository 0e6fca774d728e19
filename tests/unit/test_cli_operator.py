"""The CLI's operator fixes (docs/cli.md): -c anywhere, --version, render's usage errors,
and the status summary the status and reconcile commands share. No clusters needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub import __version__
from hub.cli.main import build_parser, main
from hub.core.sync_state import reconcile_handled, reconcile_requested, sync_state


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"synchub {__version__}\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["-c", "a.yaml", "run", "--once"],
        ["run", "-c", "a.yaml", "--once"],
        ["run", "--once", "--config", "a.yaml"],
        ["status", "-c", "a.yaml"],
        ["reconcile", "federatedsecret/x", "-n", "ns", "-c", "a.yaml", "--wait"],
    ],
)
def test_config_before_or_after_the_command(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).config == "a.yaml"


def test_config_absent_is_none() -> None:
    assert build_parser().parse_args(["check"]).config is None


def test_render_file_errors_exit_2_with_the_yaml_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    (tmp_path / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: m\nclusters: [{name: m, cluster: "
        "{server: 'https://127.0.0.1:1'}}]\nusers: [{name: m, user: {}}]\n"
        "contexts: [{name: m, context: {cluster: m, user: m}}]\n"
    )
    config = tmp_path / "clusters.yaml"
    config.write_text("master: {context: m}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: FederatedSecret\nmetadata: {name: [unclosed\n")
    assert main(["-c", str(config), "render", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: line" in err
    assert "invalid YAML: " in err
    assert "expected" in err  # the parser's reason, kept
    assert main(["render", str(tmp_path / "missing.yaml"), "-c", str(config)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_sync_state_reads_conditions_and_clusters() -> None:
    obj: dict[str, Any] = {
        "metadata": {"annotations": {"synchub.io/reconcile-at": "t1"}},
        "status": {
            "conditions": [
                {"type": "CopyReady", "status": "True", "reason": "Copied"},
                {"type": "Propagation", "status": "False", "reason": "X", "message": "east down"},
            ],
            "clusters": [{"name": "east", "status": "ClusterNotReady"}, {"name": "west",
                                                                        "status": "Propagated"}],
        },
    }  # fmt: skip
    state = sync_state(obj)
    assert (state.ready, state.message, state.failed) == ("False", "east down", True)
    assert [c.name for c in state.clusters] == ["east", "west"]
    assert reconcile_requested(obj) == "t1"
    obj["status"]["lastHandledReconcileAt"] = "t1"
    assert reconcile_handled(obj, "t1")
    assert reconcile_requested(obj) is None
    assert not sync_state({"status": {"clusters": [{"name": "e", "status": "Propagated"}]}}).failed
