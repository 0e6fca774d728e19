"""Unit tests for kubeconfig contexts and credentials read without kubernetes_asyncio.

hub.kube.kubeconfig.resolve_context reads a context's cluster and user; hub.kube.credentials
turns it into a TLS context and an Authorization header. No cluster needed: TLS contexts
are built from the sandbox's certificate generator, exec plugins are small Python scripts.
"""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core.errors import CredentialsError, KubeconfigError
from hub.core.problems import Problem
from hub.kube.credentials import (
    Auth,
    Credentials,
    ExecAuth,
    TokenFileAuth,
    authenticator,
    endpoint,
    exec_info,
    in_cluster_context,
    parse_exec_output,
)
from hub.kube.kubeconfig import (
    ClientConfig,
    ContextEntry,
    ExecPlugin,
    ServerEntry,
    UserEntry,
    load_kubeconfigs,
    resolve_context,
)
from hub.sandbox.certs import make_cluster_certs

CERTS = make_cluster_certs("unit")


def kubeconfig_dict(server: ServerEntry, user: UserEntry) -> dict[str, Any]:
    """The kubeconfig a user would write for ``server`` and ``user`` (the inverse of resolve)."""
    cluster: dict[str, Any] = {"server": server.server}
    optional = {
        "certificate-authority": server.ca_file,
        "certificate-authority-data": b64(server.ca_data),
        "insecure-skip-tls-verify": server.insecure or None,
        "tls-server-name": server.tls_server_name,
        "proxy-url": server.proxy_url,
    }
    cluster.update({k: v for k, v in optional.items() if v is not None})
    fields = {
        "client-certificate": user.cert_file,
        "client-certificate-data": b64(user.cert_data),
        "client-key": user.key_file,
        "client-key-data": b64(user.key_data),
        "token": user.token,
        "tokenFile": user.token_file,
        "username": user.username,
        "password": user.password,
    }
    body: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if user.exec is not None:
        plugin = user.exec
        body["exec"] = {
            "command": plugin.command,
            "apiVersion": plugin.api_version,
            "args": list(plugin.args),
            "env": [{"name": k, "value": v} for k, v in plugin.env],
            "provideClusterInfo": plugin.provide_cluster_info,
        }
    if user.auth_provider:
        body["auth-provider"] = {"name": user.auth_provider}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": body}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def resolved(tmp_path: Path, doc: dict[str, Any], context: str = "ctx") -> ContextEntry | Problem:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    merged = load_kubeconfigs([path], config_file="clusters.yaml", key="kubeconfig").merged
    return resolve_context(merged, context)


# --------------------------------------------------------------------------- round trip

text = st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1)
maybe_text = st.none() | text
maybe_data = st.none() | st.binary(min_size=1, max_size=64)
absolute = st.none() | st.from_regex(r"/[a-z]{1,8}(/[a-z0-9.]{1,8}){0,2}", fullmatch=True)
servers = st.builds(
    ServerEntry,
    server=st.sampled_from(["https://127.0.0.1:6443", "http://localhost:8080", "https://k8s"]),
    ca_file=absolute,
    ca_data=maybe_data,
    insecure=st.booleans(),
    tls_server_name=maybe_text,
    proxy_url=st.none() | st.just("http://proxy.example:3128"),
)
plugins = st.builds(
    ExecPlugin,
    command=text,
    api_version=st.sampled_from(["client.authentication.k8s.io/v1", "x/v1beta1"]),
    args=st.lists(text, max_size=3).map(tuple),
    env=st.lists(st.tuples(text, st.text()), max_size=3).map(tuple),
    provide_cluster_info=st.booleans(),
)
users = st.builds(
    UserEntry,
    cert_file=absolute,
    cert_data=maybe_data,
    key_file=absolute,
    key_data=maybe_data,
    token=maybe_text,
    token_file=absolute,
    username=maybe_text,
    password=maybe_text,
    exec=st.none() | plugins,
    auth_provider=st.none() | st.sampled_from(["oidc", "gcp"]),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(server=servers, user=users)
def test_a_context_round_trips_through_a_kubeconfig_file(
    tmp_path: Path, server: ServerEntry, user: UserEntry
) -> None:
    assert resolved(tmp_path, kubeconfig_dict(server, user)) == ContextEntry("ctx", server, user)


def test_relative_files_are_read_against_their_kubeconfig(tmp_path: Path) -> None:
    doc = kubeconfig_dict(
        ServerEntry("https://k8s", ca_file="pki/ca.crt"),
        UserEntry(cert_file="pki/admin.crt", key_file="pki/admin.key", token_file="token"),
    )
    entry = resolved(tmp_path, doc)
    assert isinstance(entry, ContextEntry)
    assert entry.cluster.ca_file == str(tmp_path / "pki/ca.crt")
    assert entry.user.cert_file == str(tmp_path / "pki/admin.crt")
    assert entry.user.key_file == str(tmp_path / "pki/admin.key")
    assert entry.user.token_file == str(tmp_path / "token")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["contexts"][0]["context"].update(cluster="nope"), "names cluster 'nope'"),
        (lambda d: d["clusters"][0]["cluster"].pop("server"), "cluster 'c': server is missing"),
        (lambda d: d["clusters"][0]["cluster"].update(server=6443), "server must be a string"),
        (
            lambda d: d["clusters"][0]["cluster"].update({"insecure-skip-tls-verify": "yes"}),
            "insecure-skip-tls-verify must be true or false",
        ),
        (
            lambda d: d["users"][0]["user"].update({"exec": {"command": "x"}}),
            "user 'u' exec: apiVersion is missing",
        ),
        (
            lambda d: d["users"][0]["user"].update(
                {"exec": {"command": "x", "apiVersion": "v", "args": "--flag"}}
            ),
            "args must be a list of strings",
        ),
        (
            lambda d: d["users"][0]["user"].update({"auth-provider": {"config": {}}}),
            "auth-provider needs a name",
        ),
    ],
)
def test_unusable_contexts_name_the_field(tmp_path: Path, change: Any, problem: str) -> None:
    doc = kubeconfig_dict(ServerEntry("https://k8s"), UserEntry(token="t"))
    change(doc)
    found = resolved(tmp_path, doc)
    assert isinstance(found, Problem)
    assert problem in str(found)


def test_unknown_context(tmp_path: Path) -> None:
    doc = kubeconfig_dict(ServerEntry("https://k8s"), UserEntry())
    assert str(resolved(tmp_path, doc, "other")) == "no context 'other'"


secret_values = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=12)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=secret_values, key=st.sampled_from(["client-key-data", "client-certificate-data"]))
def test_a_problem_never_quotes_a_credential(tmp_path: Path, secret: str, key: str) -> None:
    doc = kubeconfig_dict(ServerEntry("https://k8s"), UserEntry())
    doc["users"][0]["user"][key] = secret + "!"  # never valid base64
    found = resolved(tmp_path, doc)
    assert isinstance(found, Problem)
    assert f"{key} is not valid base64" in str(found)
    assert secret not in str(found)
    assert "\n" not in str(found)


# --------------------------------------------------------------------------- authentication


async def header_of(user: UserEntry, server: ServerEntry | None = None) -> str | None:
    entry = ContextEntry("ctx", server or ServerEntry("https://k8s"), user)
    return await (await authenticator("c1", entry, {})).header()


async def test_token_wins_over_token_file_and_basic(tmp_path: Path) -> None:
    user = UserEntry(token="abc", token_file=str(tmp_path / "none"), username="u", password="p")
    assert await header_of(user) == "Bearer abc"


async def test_basic_authentication() -> None:
    expected = "Basic " + base64.b64encode(b"admin:s3cret").decode()
    assert await header_of(UserEntry(username="admin", password="s3cret")) == expected


async def test_no_user_sends_no_header() -> None:
    assert await header_of(UserEntry()) is None


async def test_token_file_is_stripped_and_read_again_when_stale(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    reader = TokenFileAuth("c1", str(token), refresh=0.0)
    reader.read()
    token.write_text("second\n")
    assert await reader.header() == "Bearer second"


async def test_token_file_problems_are_one_line_without_the_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("")
    with pytest.raises(CredentialsError, match=r"token file .* is empty"):
        await header_of(UserEntry(token_file=str(token)))
    with pytest.raises(CredentialsError, match=r"cannot read token file .*: No such file"):
        await header_of(UserEntry(token_file=str(tmp_path / "missing")))


def plugin_script(tmp_path: Path, body: str) -> ExecPlugin:
    script = tmp_path / "plugin.py"
    script.write_text(body)
    return ExecPlugin(sys.executable, "client.authentication.k8s.io/v1", args=(str(script),))


def credential(status: dict[str, Any]) -> str:
    document = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential"}
    return json.dumps({**document, "status": status})


async def test_exec_plugin_gets_its_args_env_and_cluster_info(tmp_path: Path) -> None:
    out = tmp_path / "seen.json"
    plugin = plugin_script(
        tmp_path,
        "import json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': os.environ.get('PLUGIN_MODE'),"
        f" 'info': json.loads(os.environ['KUBERNETES_EXEC_INFO'])}}, open({str(out)!r}, 'w'))\n"
        f"print({credential({'token': 'from-plugin'})!r})\n",
    )
    plugin = ExecPlugin(
        plugin.command,
        plugin.api_version,
        args=(*plugin.args, "--region", "eu"),
        env=(("PLUGIN_MODE", "test"),),
        provide_cluster_info=True,
    )
    server = ServerEntry("https://k8s", ca_data=b"CA", tls_server_name="api.internal")
    assert await header_of(UserEntry(exec=plugin), server) == "Bearer from-plugin"
    seen = json.loads(out.read_text())
    assert seen["argv"] == ["--region", "eu"]
    assert seen["env"] == "test"
    assert seen["info"] == exec_info(plugin, server)
    assert seen["info"]["spec"]["cluster"] == {
        "server": "https://k8s",
        "certificate-authority-data": "Q0E=",
        "tls-server-name": "api.internal",
    }


async def test_exec_token_is_reused_until_near_its_expiry(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    plugin = plugin_script(
        tmp_path,
        f"open({str(calls)!r}, 'a').write('x')\n"
        f"print({credential({'token': 't', 'expirationTimestamp': later.isoformat()})!r})\n",
    )
    auth = ExecAuth("c1", plugin, ServerEntry("https://k8s"))
    for _ in range(3):
        assert await auth.header() == "Bearer t"
    assert calls.read_text() == "x"


async def test_exec_failure_says_the_exit_code_and_first_stderr_line(tmp_path: Path) -> None:
    plugin = plugin_script(
        tmp_path, "import sys\nprint('token-on-stdout')\nsys.exit('login expired\\nmore')\n"
    )
    with pytest.raises(CredentialsError) as caught:
        await header_of(UserEntry(exec=plugin))
    message = str(caught.value)
    assert "exited with 1: login expired" in message
    assert "token-on-stdout" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        (b"not json", "not JSON"),
        (b'{"apiVersion": "client.authentication.k8s.io/v1"}', "without status"),
        (b'{"apiVersion": "other/v1", "status": {"token": "t"}}', "apiVersion"),
        (b'{"apiVersion": "client.authentication.k8s.io/v1", "status": {}}', "neither"),
        (
            b'{"apiVersion": "client.authentication.k8s.io/v1",'
            b' "status": {"clientCertificateData": "C"}}',
            "without its key",
        ),
        (
            b'{"apiVersion": "client.authentication.k8s.io/v1",'
            b' "status": {"token": "t", "expirationTimestamp": "soon"}}',
            "RFC 3339",
        ),
    ],
)
def test_bad_exec_output(output: bytes, problem: str) -> None:
    found = parse_exec_output(output, "client.authentication.k8s.io/v1")
    assert isinstance(found, Problem)
    assert problem in str(found)
    assert 't"' not in str(found)


def test_exec_output_with_a_client_certificate() -> None:
    output = credential({"clientCertificateData": "CERT", "clientKeyData": "KEY"}).encode()
    assert parse_exec_output(output, "client.authentication.k8s.io/v1") == (
        None,
        (b"CERT", b"KEY"),
        None,
    )


async def test_oidc_auth_provider_is_delegated(tmp_path: Path) -> None:
    claims = base64.urlsafe_b64encode(json.dumps({"exp": 4102444800}).encode()).decode()
    id_token = f"e30.{claims.rstrip('=')}.sig"
    doc = kubeconfig_dict(ServerEntry("https://k8s"), UserEntry())
    doc["users"][0]["user"] = {
        "auth-provider": {"name": "oidc", "config": {"id-token": id_token, "client-id": "x"}}
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    credentials = Credentials(ClientConfig("c1", "ctx", (path,)))
    await credentials.load()
    assert await credentials.authorization() == f"Bearer {id_token}"


async def test_unknown_auth_provider_is_refused(tmp_path: Path) -> None:
    doc = kubeconfig_dict(ServerEntry("https://k8s"), UserEntry(auth_provider="azure"))
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CredentialsError, match="auth-provider 'azure' is not supported"):
        await Credentials(ClientConfig("c1", "ctx", (path,))).load()


# --------------------------------------------------------------------------- TLS endpoint


def tls(server: ServerEntry, user: UserEntry | None = None) -> Any:
    return endpoint(ContextEntry("ctx", server, user or UserEntry()), Auth())


def test_plain_http_has_no_tls() -> None:
    found = tls(ServerEntry("http://localhost:8080/", proxy_url="http://proxy:3128"))
    assert (found.server, found.ssl, found.proxy) == (
        "http://localhost:8080",
        False,
        "http://proxy:3128",
    )


def test_ca_data_client_certificate_data_and_server_name() -> None:
    found = tls(
        ServerEntry("https://127.0.0.1:6443", ca_data=CERTS.ca.cert, tls_server_name="kubernetes"),
        UserEntry(cert_data=CERTS.admin.cert, key_data=CERTS.admin.key),
    )
    assert isinstance(found.ssl, ssl.SSLContext)
    assert found.ssl.verify_mode == ssl.CERT_REQUIRED
    assert found.ssl.check_hostname
    assert len(found.ssl.get_ca_certs()) == 1
    assert found.server_hostname == "kubernetes"


def test_files_and_insecure(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(CERTS.ca.cert)
    (tmp_path / "tls.crt").write_bytes(CERTS.admin.cert)
    (tmp_path / "tls.key").write_bytes(CERTS.admin.key)
    found = tls(
        ServerEntry("https://k8s", ca_file=str(tmp_path / "ca.crt"), insecure=True),
        UserEntry(cert_file=str(tmp_path / "tls.crt"), key_file=str(tmp_path / "tls.key")),
    )
    assert found.ssl.verify_mode == ssl.CERT_NONE
    assert not found.ssl.check_hostname


async def test_tls_problems_are_one_line_without_the_key(tmp_path: Path) -> None:
    doc = kubeconfig_dict(
        ServerEntry("https://k8s", ca_data=CERTS.ca.cert),
        UserEntry(cert_data=CERTS.admin.cert, key_data=CERTS.ca.key),  # the wrong key
    )
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CredentialsError) as caught:
        await Credentials(ClientConfig("c1", "ctx", (path,))).load()
    message = str(caught.value)
    assert message.startswith("cluster c1 unreachable: cannot load TLS certificates")
    assert "PRIVATE KEY" not in message
    assert "\n" not in message


async def test_missing_ca_file_names_it(tmp_path: Path) -> None:
    doc = kubeconfig_dict(ServerEntry("https://k8s", ca_file=str(tmp_path / "ca.crt")), UserEntry())
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CredentialsError, match=r"cannot read .*ca\.crt: No such file"):
        await Credentials(ClientConfig("c1", "ctx", (path,))).load()


# --------------------------------------------------------------------------- in-cluster


def test_in_cluster_context_from_the_environment(tmp_path: Path) -> None:
    entry = in_cluster_context(
        {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}, tmp_path
    )
    assert entry.cluster == ServerEntry("https://[fd00::1]:443", ca_file=str(tmp_path / "ca.crt"))
    assert entry.user == UserEntry(token_file=str(tmp_path / "token"))
    with pytest.raises(KubeconfigError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster_context({})


# --------------------------------------------------------------------------- footprint


def test_the_hub_does_not_import_kubernetes_asyncio() -> None:
    code = "import sys, hub.app; print(sorted(m for m in sys.modules if 'kubernetes' in m))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
