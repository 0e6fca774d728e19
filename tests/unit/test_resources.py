"""Unit tests for hub.kube.resources: kubectl-style resource names over a discovered list."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.errors import ResourceNameError
from hub.kube.resources import ResourceInfo, ResourceQuery, parse_resource_name, resolve_resource

SECRETS = ResourceInfo("", "v1", "secrets", "Secret", True, "secret")
CONFIGMAPS = ResourceInfo("", "v1", "configmaps", "ConfigMap", True, "configmap")
CORE_EVENTS = ResourceInfo("", "v1", "events", "Event", True, "event")
NAMESPACES = ResourceInfo("", "v1", "namespaces", "Namespace", False, "namespace")
DEPLOYMENTS = ResourceInfo("apps", "v1", "deployments", "Deployment", True, "deployment")
# Subresources: discovery lists them with the parent's kind (status) or their own (scale).
DEPLOYMENTS_STATUS = ResourceInfo("apps", "v1", "deployments/status", "Deployment", True)
DEPLOYMENTS_SCALE = ResourceInfo("apps", "v1", "deployments/scale", "Scale", True)
EVENTS = ResourceInfo("events.k8s.io", "v1", "events", "Event", True, "event")
FLUX = "helm.toolkit.fluxcd.io"
HELMRELEASES = ResourceInfo(FLUX, "v2", "helmreleases", "HelmRelease", True, "helmrelease")
HELMRELEASES_BETA = ResourceInfo(
    FLUX, "v2beta1", "helmreleases", "HelmRelease", True, "helmrelease", preferred=False
)
CLUSTERROLES = ResourceInfo(
    "rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, "clusterrole"
)

# Discovery order: the core group first; a subresource ahead of its parent on purpose.
RESOURCES = [
    SECRETS,
    CONFIGMAPS,
    CORE_EVENTS,
    NAMESPACES,
    DEPLOYMENTS_STATUS,
    DEPLOYMENTS,
    DEPLOYMENTS_SCALE,
    EVENTS,
    HELMRELEASES,
    HELMRELEASES_BETA,
    CLUSTERROLES,
]


# --------------------------------------------------------------------------- parse_resource_name


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        ("secrets", (ResourceQuery("secrets"),)),
        ("Secret", (ResourceQuery("secret"),)),
        (" secrets ", (ResourceQuery("secrets"),)),
        ("deployments.apps", (ResourceQuery("deployments", "apps"),)),
        (
            "deployments.v1.apps",
            (ResourceQuery("deployments", "apps", "v1"), ResourceQuery("deployments", "v1.apps")),
        ),
        (
            "HelmReleases.Helm.Toolkit.FluxCD.io",
            (
                ResourceQuery("helmreleases", "toolkit.fluxcd.io", "helm"),
                ResourceQuery("helmreleases", "helm.toolkit.fluxcd.io"),
            ),
        ),
    ],
)
def test_parse_resource_name(text: str, readings: tuple[ResourceQuery, ...]) -> None:
    assert parse_resource_name(text) == readings


@pytest.mark.parametrize(
    "text",
    ["", "   ", "a..b", ".a", "a.", "a/b", "a:b", "a b", "a\tb", "deployments/status", "."],
)
def test_malformed_names(text: str) -> None:
    with pytest.raises(ResourceNameError, match="is not a resource name"):
        parse_resource_name(text)
    with pytest.raises(ResourceNameError):
        resolve_resource(text, RESOURCES)


def test_resource_name_error_is_a_value_error() -> None:
    assert issubclass(ResourceNameError, ValueError)


# --------------------------------------------------------------------------- resolve_resource


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("secret", SECRETS),
        ("Secret", SECRETS),
        ("secrets", SECRETS),
        ("SECRETS", SECRETS),
        ("configmap", CONFIGMAPS),
        ("ConfigMap", CONFIGMAPS),
        ("secrets.v1", None),  # "v1" is read as a group, and the core group is ""
        ("namespaces", NAMESPACES),
        ("deployments", DEPLOYMENTS),
        ("deployment", DEPLOYMENTS),
        ("Deployment", DEPLOYMENTS),
        ("deployments.apps", DEPLOYMENTS),
        ("deployments.v1.apps", DEPLOYMENTS),
        ("deployment.apps", DEPLOYMENTS),
        ("Deployment.apps", DEPLOYMENTS),
        ("DEPLOYMENTS.V1.APPS", DEPLOYMENTS),
        ("deployments.v1beta1.apps", None),
        ("deployments.extensions", None),
        ("helmreleases", HELMRELEASES),
        ("HelmRelease", HELMRELEASES),
        ("helmreleases.helm.toolkit.fluxcd.io", HELMRELEASES),
        ("helmrelease.helm.toolkit.fluxcd.io", HELMRELEASES),
        ("helmreleases.v2.helm.toolkit.fluxcd.io", HELMRELEASES),
        ("helmreleases.v2beta1.helm.toolkit.fluxcd.io", HELMRELEASES_BETA),
        ("HelmRelease.v2beta1.helm.toolkit.fluxcd.io", HELMRELEASES_BETA),
        ("helmreleases.v2beta2.helm.toolkit.fluxcd.io", None),
        ("helmreleases.fluxcd.io", None),
        ("events", CORE_EVENTS),  # the core group comes first in discovery
        ("event", CORE_EVENTS),
        ("events.events.k8s.io", EVENTS),
        ("events.v1.events.k8s.io", EVENTS),
        ("clusterrole.rbac.authorization.k8s.io", CLUSTERROLES),
        ("widgets", None),
        ("widgets.example.com", None),
        ("apps", None),
        # subresources never match, whatever their kind
        ("scale", None),
        ("Scale.apps", None),
        ("status", None),
    ],
)
def test_resolve_resource(text: str, expected: ResourceInfo | None) -> None:
    assert resolve_resource(text, RESOURCES) is expected


def test_resolve_in_an_empty_list() -> None:
    assert resolve_resource("secrets", []) is None


def test_subresource_listed_first_does_not_shadow_its_parent() -> None:
    assert resolve_resource("Deployment", [DEPLOYMENTS_STATUS, DEPLOYMENTS]) is DEPLOYMENTS
    assert resolve_resource("deployment", [DEPLOYMENTS_STATUS]) is None


def test_non_preferred_version_needs_an_explicit_version() -> None:
    only_beta = [HELMRELEASES_BETA]
    assert resolve_resource("helmreleases.helm.toolkit.fluxcd.io", only_beta) is None
    assert resolve_resource("helmreleases.v2beta1.helm.toolkit.fluxcd.io", only_beta) is (
        HELMRELEASES_BETA
    )


def test_singular_defaults_to_the_kind() -> None:
    info = ResourceInfo("example.com", "v1", "widgets", "Widget", True)
    assert resolve_resource("widget.example.com", [info]) is info
    assert resolve_resource("WIDGET", [info]) is info


# --------------------------------------------------------------------------- property

PREFERRED = [info for info in RESOURCES if info.preferred and "/" not in info.resource]


@st.composite
def spelled_names(draw: st.DrawFn) -> tuple[ResourceInfo, str]:
    """A preferred resource and one way a user may spell it: NAME[.GROUP], any letter case."""
    info = draw(st.sampled_from(PREFERRED))
    name = draw(st.sampled_from([info.resource, info.singular, info.kind]))
    text = f"{name}.{info.group}" if info.group else name
    upper = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return info, "".join(c.upper() if u else c.lower() for c, u in zip(text, upper, strict=True))


@given(spelled_names())
def test_any_spelling_of_a_preferred_resource_resolves_to_it(
    case: tuple[ResourceInfo, str],
) -> None:
    info, text = case
    found = resolve_resource(text, RESOURCES)
    assert found is not None
    assert (found.group, found.resource) == (info.group, info.resource)


@given(st.sampled_from([i for i in RESOURCES if "/" not in i.resource]), st.booleans())
def test_fully_qualified_name_resolves_to_exactly_that_version(
    info: ResourceInfo, upper: bool
) -> None:
    text = str(info)  # RESOURCE.VERSION.GROUP, or RESOURCE for the core group
    found = resolve_resource(text.upper() if upper else text, RESOURCES)
    assert found is info


# --------------------------------------------------------------------------- ResourceInfo


@pytest.mark.parametrize(
    ("info", "args", "path"),
    [
        (SECRETS, {}, "/api/v1/secrets"),
        (SECRETS, {"namespace": "ns"}, "/api/v1/namespaces/ns/secrets"),
        (SECRETS, {"namespace": "ns", "name": "s"}, "/api/v1/namespaces/ns/secrets/s"),
        (NAMESPACES, {"name": "ns"}, "/api/v1/namespaces/ns"),
        (NAMESPACES, {"namespace": "ignored", "name": "ns"}, "/api/v1/namespaces/ns"),
        (DEPLOYMENTS, {}, "/apis/apps/v1/deployments"),
        (DEPLOYMENTS, {"namespace": "ns"}, "/apis/apps/v1/namespaces/ns/deployments"),
        (
            DEPLOYMENTS,
            {"namespace": "ns", "name": "web", "subresource": "status"},
            "/apis/apps/v1/namespaces/ns/deployments/web/status",
        ),
        (
            DEPLOYMENTS,
            {"namespace": "ns", "name": "web", "subresource": "scale"},
            "/apis/apps/v1/namespaces/ns/deployments/web/scale",
        ),
        (DEPLOYMENTS, {"subresource": "status"}, "/apis/apps/v1/deployments"),  # needs a name
        (
            NAMESPACES,
            {"name": "ns", "subresource": "finalize"},
            "/api/v1/namespaces/ns/finalize",
        ),
        (
            CLUSTERROLES,
            {"name": "admin"},
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
        ),
        (
            HELMRELEASES_BETA,
            {"namespace": "flux-system", "name": "podinfo"},
            "/apis/helm.toolkit.fluxcd.io/v2beta1/namespaces/flux-system/helmreleases/podinfo",
        ),
    ],
)
def test_path(info: ResourceInfo, args: dict[str, str], path: str) -> None:
    assert info.path(**args) == path


def test_api_version_and_str() -> None:
    assert SECRETS.api_version == "v1"
    assert DEPLOYMENTS.api_version == "apps/v1"
    assert HELMRELEASES_BETA.api_version == "helm.toolkit.fluxcd.io/v2beta1"
    assert str(SECRETS) == "secrets"
    assert str(DEPLOYMENTS) == "deployments.v1.apps"
