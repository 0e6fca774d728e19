"""Git access (hub.controllers.gitsync.git) against the sandbox git server: shallow fetch,
tags with their commits, short SHAs, wrong credentials, a failed fetch keeping the checkout."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from hub.controllers.gitsync.git import GitCredentials, Repository, public_url, scrub
from hub.core.errors import GitError
from hub.core.gitrev import RefSpec, parse_ref
from hub.sandbox.gitserver import USERNAME, GitServer
from hub.testing import WorkRepo


@pytest.fixture
def remote(git_server: GitServer, tmp_path: Path) -> tuple[str, WorkRepo, list[str]]:
    """A repository with three commits on main: v1 (light) on the first, v2 (annotated) on
    the second, and a third commit untagged."""
    url = git_server.create_repo(f"r-{uuid.uuid4().hex[:8]}")
    work = WorkRepo(tmp_path / "work", url, USERNAME, git_server.password)
    shas = [work.commit("one", {"a.yaml": "n: 1\n"})]
    work.tag("v1")
    shas.append(work.commit("two", {"a.yaml": "n: 2\n"}))
    work.tag("v2", annotated=True)
    shas.append(work.commit("three", {"a.yaml": "n: 3\n"}))
    return url, work, shas


def repository(tmp_path: Path, url: str, password: str) -> Repository:
    return Repository(tmp_path / "copy", url, GitCredentials(USERNAME, password))


def content(repo: Repository, sha: str) -> str:
    return (repo.checkout(sha) / "a.yaml").read_text()


def ref(text: str) -> RefSpec:
    parsed = parse_ref(text)
    assert isinstance(parsed, RefSpec)
    return parsed


def test_every_version_mode(
    git_server: GitServer, remote: tuple[str, WorkRepo, list[str]], tmp_path: Path
) -> None:
    url, _work, shas = remote
    repo = repository(tmp_path, url, git_server.password)
    refs = repo.ls_remote()
    assert refs.head == "main"
    assert refs.tags == {"v1": shas[0], "v2": shas[1]}  # the annotated tag is peeled
    cases = {
        "": ("main", shas[2], "n: 3\n"),
        "branch:main": ("main", shas[2], "n: 3\n"),
        "tag:v1": ("v1", shas[0], "n: 1\n"),
        "tag:latest": ("v2", shas[1], "n: 2\n"),
        f"commit:{shas[0][:7]}": ("HEAD", shas[0], "n: 1\n"),
        f"commit:{shas[1]}": ("HEAD", shas[1], "n: 2\n"),
    }
    for text, (name, sha, text_at) in cases.items():
        resolved = repo.resolve(ref(text))
        assert (resolved.name, resolved.sha) == (name, sha), text
        assert content(repo, resolved.sha) == text_at, text
    repo.close()


def test_default_branch_fetch_is_shallow(
    git_server: GitServer, remote: tuple[str, WorkRepo, list[str]], tmp_path: Path
) -> None:
    url, _work, _shas = remote
    repo = repository(tmp_path, url, git_server.password)
    repo.resolve(ref("branch:main"))
    assert (repo.directory / ".git" / "shallow").exists()
    assert repo._git("rev-list", "--count", "refs/remotes/origin/main").strip() == "1"
    repo.close()


def test_wrong_credentials_are_a_clear_error_without_them(
    remote: tuple[str, WorkRepo, list[str]], tmp_path: Path
) -> None:
    url, _work, _shas = remote
    secret = f"wrong-{uuid.uuid4().hex}"
    repo = repository(tmp_path, url, secret)
    with pytest.raises(GitError) as raised:
        repo.resolve(ref("branch:main"))
    message = str(raised.value)
    assert "Authentication failed" in message
    assert secret not in message
    repo.close()


def test_unknown_refs_are_named(
    git_server: GitServer, remote: tuple[str, WorkRepo, list[str]], tmp_path: Path
) -> None:
    url, _work, _shas = remote
    repo = repository(tmp_path, url, git_server.password)
    for text, expected in (
        ("branch:nope", "branch nope not found"),
        ("tag:v9", "tag v9 not found"),
        ("commit:deadbeef", "commit deadbeef not found"),
    ):
        with pytest.raises(GitError, match=expected):
            repo.resolve(ref(text))
    repo.close()


def test_a_failed_fetch_keeps_the_last_checkout(
    git_server: GitServer, remote: tuple[str, WorkRepo, list[str]], tmp_path: Path
) -> None:
    url, work, shas = remote
    repo = repository(tmp_path, url, git_server.password)
    assert content(repo, repo.resolve(ref("branch:main")).sha) == "n: 3\n"
    work.commit("four", {"a.yaml": "n: 4\n"})
    broken = Repository(repo.directory, url, GitCredentials(USERNAME, "not-the-password"))
    with pytest.raises(GitError):
        broken.resolve(ref("branch:main"))
    assert (repo.directory / "a.yaml").read_text() == "n: 3\n"
    assert shas[2] in repo._git("rev-parse", "HEAD")
    broken.close()
    repo.close()


def test_the_git_server_writes_git_env_and_keeps_the_password_out_of_argv(
    git_server: GitServer,
) -> None:
    env = dict(line.split("=", 1) for line in git_server.env_file.read_text().splitlines() if line)
    assert sorted(env) == ["SYNCHUB_GIT_PASSWORD", "SYNCHUB_GIT_URL", "SYNCHUB_GIT_USERNAME"]
    assert env["SYNCHUB_GIT_URL"] == git_server.url
    assert env["SYNCHUB_GIT_PASSWORD"] == git_server.password
    assert git_server.up() == git_server.url  # idempotent: the same server
    pid = json.loads(git_server.state_file.read_text())["pid"]
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert git_server.password not in argv


def test_ssh_credentials_are_files_in_a_private_directory(tmp_path: Path) -> None:
    key = "-----BEGIN KEY-----\nsecret-key-material\n-----END KEY-----"
    credentials = GitCredentials(identity=key, known_hosts="git.example.com ssh-ed25519 AAAA\n")
    repo = Repository(tmp_path / "copy", "ssh://git@git.example.com/r.git", credentials)
    command = repo._env["GIT_SSH_COMMAND"]
    identity = Path(command.split("-i ", 1)[1].split()[0])
    assert identity.read_text().strip() == key
    assert identity.stat().st_mode & 0o777 == 0o600
    assert identity.parent.stat().st_mode & 0o777 == 0o700
    assert "StrictHostKeyChecking=yes" in command
    assert "secret-key-material" not in command
    assert key not in " ".join(repo._env.values())
    repo.close()
    assert not identity.exists()


def test_messages_are_scrubbed_of_credentials_and_userinfo() -> None:
    text = "fatal: unable to access 'https://bot:hunter22@git.example.com/r.git/': hunter22\n"
    cleaned = scrub(text, ["hunter22"])
    assert "hunter22" not in cleaned
    assert "bot:" not in cleaned
    assert "\n" not in cleaned
    assert public_url("https://bot:pw@git.example.com/r.git") == "https://git.example.com/r.git"
