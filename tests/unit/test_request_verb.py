"""Requests are counted by the Kubernetes verb their method and path mean."""

from __future__ import annotations

import pytest

from hub.kube.client import request_verb


@pytest.mark.parametrize(
    ("method", "path", "verb"),
    [
        ("GET", "/api", "discovery"),
        ("GET", "/api/v1", "discovery"),
        ("GET", "/apis/apps/v1", "discovery"),
        ("GET", "/version", "discovery"),
        ("GET", "/api/v1/namespaces", "list"),
        ("GET", "/api/v1/namespaces/team", "get"),
        ("GET", "/api/v1/namespaces/team/secrets", "list"),
        ("GET", "/api/v1/namespaces/team/secrets/tls", "get"),
        ("GET", "/apis/types.kubefed.io/v1beta1/federatedsecrets", "list"),
        ("GET", "/apis/types.kubefed.io/v1beta1/namespaces/a/federatedsecrets/b/status", "get"),
        ("GET", "/apis/synchub.io/v1alpha1/clusters/east", "get"),
        ("POST", "/api/v1/namespaces", "create"),
        ("PATCH", "/api/v1/namespaces/a/secrets/b", "patch"),
        ("PUT", "/api/v1/namespaces/a/secrets/b", "update"),
        ("DELETE", "/api/v1/namespaces/a/secrets/b", "delete"),
    ],
)
def test_request_verb(method: str, path: str, verb: str) -> None:
    assert request_verb(method, path) == verb
