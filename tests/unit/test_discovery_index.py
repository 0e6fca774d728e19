"""Unit tests for hub.kube.discovery.ResourceIndex: O(1) lookups that agree with the scans."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.kube.discovery import ResourceIndex
from hub.kube.resources import ResourceInfo, by_kind, resolve_resource

GROUPS = ["", "apps", "example.com", "types.kubefed.io"]
KINDS = ["Secret", "Deployment", "Widget", "FederatedSecret"]
VERSIONS = ["v1", "v1beta1", "v2"]

infos = st.builds(
    ResourceInfo,
    group=st.sampled_from(GROUPS),
    version=st.sampled_from(VERSIONS),
    resource=st.sampled_from(["secrets", "deployments", "widgets", "deployments/status"]),
    kind=st.sampled_from(KINDS),
    namespaced=st.booleans(),
    singular=st.sampled_from(["", "secret", "widget"]),
    preferred=st.booleans(),
)
resource_lists = st.lists(infos, max_size=12).map(tuple)


@given(
    resource_lists,
    st.sampled_from(GROUPS),
    st.sampled_from(KINDS),
    st.sampled_from([None, *VERSIONS]),
)
def test_by_kind_agrees_with_the_scan(
    resources: tuple[ResourceInfo, ...], group: str, kind: str, version: str | None
) -> None:
    assert ResourceIndex(resources).by_kind(group, kind, version) == by_kind(
        resources, group, kind, version
    )


@given(resource_lists, st.sampled_from(KINDS))
def test_preferred_agrees_with_the_scan(resources: tuple[ResourceInfo, ...], kind: str) -> None:
    expected = [i for i in resources if i.kind == kind and i.preferred]
    assert ResourceIndex(resources).preferred(kind) == expected


@given(
    resource_lists,
    st.sampled_from(
        ["secret", "secrets", "Widget", "deployments.apps", "widgets.v2.example.com", "nope"]
    ),
)
def test_resolve_agrees_with_the_scan_and_is_remembered(
    resources: tuple[ResourceInfo, ...], name: str
) -> None:
    index = ResourceIndex(resources)
    expected = resolve_resource(name, resources)
    assert index.resolve(name) == expected
    assert index.resolve(name) == expected  # the second answer is the remembered one
