"""Unit tests for hub.cli.main: exit codes and one-line errors (docs/cli.md), no clusters."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import __version__
from hub.cli.main import main


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ambient configuration: run in an empty directory with no config or kubeconfig set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNCHUB_CONFIG", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert out == ""
    assert err.endswith("\n")
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out, err = capsys.readouterr()
    assert out == f"synchub {__version__}\n"
    assert err == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],
        [],
        ["--no-such-flag", "version"],
        ["run", "--mode", "sideways"],
        ["run", "--log-format", "xml"],
        ["sandbox"],
        ["sandbox", "up", "--members", "two"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert one_error_line(capsys).startswith("synchub")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", [["check"], ["run", "--once"]])
def test_unknown_key_in_config(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "my-clusters.yaml", "master: {context: m}\nmebmers: []\n")
    assert main(["-c", str(config), *command]) == 2
    line = one_error_line(capsys)
    assert line.startswith("synchub: ")
    assert str(config) in line
    assert "mebmers" in line
    assert "unknown key" in line


def test_config_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "env.yaml", "master: {context: m, colour: red}\n")
    monkeypatch.setenv("SYNCHUB_CONFIG", str(config))
    assert main(["check"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"synchub: {config}: master.colour: unknown key")


def test_default_config_in_the_working_directory(capsys: pytest.CaptureFixture[str]) -> None:
    write(Path("clusters.yaml"), "master: {context: in-cluster}\ncopy: {crossNamespace: any}\n")
    assert main(["check"]) == 2
    line = one_error_line(capsys)
    assert line.startswith("synchub: clusters.yaml: copy.crossNamespace: must be one of")


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent.yaml"
    assert main(["-c", str(missing), "check"]) == 2
    assert one_error_line(capsys) == f"synchub: {missing}: file not found"


def test_missing_default_config_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 2
    assert one_error_line(capsys) == "synchub: clusters.yaml: file not found"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("master: {context: m\n", ": line 2: invalid YAML: "),
        ("", ": file is empty"),
        ("master: {context: m}\n", ": master.kubeconfig: kubeconfig not found: "),
        ("master: {context: m}\nmembers: [{name: a, context: in-cluster}]\n", "kubeconfig"),
        ('master: {context: m}\n"two\\nlines": 1\n', ": two\\nlines: unknown key"),
    ],
)
def test_other_config_errors_are_one_line(
    text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "c.yaml", text)
    assert main(["--config", str(config), "check"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"synchub: {config}")
    assert expected in line


def test_context_missing_from_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = write(
        tmp_path / "kubeconfig",
        "contexts:\n  - {name: kind-a, context: {cluster: a}}\n"
        "clusters:\n  - {name: a, cluster: {server: 'https://a'}}\n",
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    config = write(tmp_path / "c.yaml", "master: {context: kind-b}\n")
    assert main(["-c", str(config), "check"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"synchub: {config}: master.context: context 'kind-b' not found")
    assert "(contexts: kind-a)" in line


def test_a_closed_pipe_ends_quietly_without_a_traceback() -> None:
    """`synchub crds | head -1`: the reader leaves early; no BrokenPipeError traceback."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "crds"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # before the child writes: its first write meets a closed pipe
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in stderr
    assert stderr == ""


@pytest.mark.parametrize(
    "text",
    [
        "master: " + "[" * 5000 + "]" * 5000 + "\n",  # flow style
        "master:\n" + "".join("  " * i + "k:\n" for i in range(1, 5000)),  # block style
    ],
)
def test_deeply_nested_yaml_is_one_line_and_exit_2(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "deep.yaml", text)
    assert main(["-c", str(config), "check"]) == 2
    line = one_error_line(capsys)
    assert line == f"synchub: {config}: nested too deeply (more than 200 levels)"
    from hub.cli.render import load_documents
    from hub.core.errors import UserError

    with pytest.raises(UserError) as error:  # the files `render` reads: the same one line
        load_documents([str(config)])
    assert str(error.value) == f"{config}: nested too deeply (more than 200 levels)"
