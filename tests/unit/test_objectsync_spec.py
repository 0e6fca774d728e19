"""ObjectSync specs: the three forms read into one SyncSpec; their CRDs (docs/objectsync.md)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hub.core.crds import render_crds
from hub.core.objectsync import (
    ClusterChoice,
    Destination,
    SpecError,
    SyncSpec,
    parse_sync,
)

REPLIKA_SEED = """
apiVersion: replika.prosimcorp.com/v1alpha1
kind: Replika
metadata:
  name: replika-sample
spec:
  synchronization:
    time: "20s"
  source:
    group: ""
    version: v1
    kind: ConfigMap
    name: sample-configmap
    namespace: &sourceNamespace default
  target:
    namespaces:
      replicateIn: []
      matchAll: true
      excludeFrom:
        - kube-system
        - kube-public
        - kube-node-lease
        - *sourceNamespace
"""

RUSTRIAL_SEED = """
kind: ObjectSync
apiVersion: sync.rustrial.org/v1alpha1
metadata:
  name: my-test-config-map-distributor
  namespace: default
spec:
  source:
    group: "batch"
    kind: CronJob
    name: my-audit-scanner
  destinations:
  - namespace: "kube-system"
  - namespace: "linkerd"
    name: renamed
    strategy: replace
"""

SYNCHUB = """
apiVersion: synchub.io/v1alpha1
kind: ObjectSync
metadata: {name: registry-credentials, namespace: platform}
spec:
  source: {group: "", version: v1, kind: Secret, name: regcred}
  destinations:
    - namespaceSelector: {matchLabels: {team: a}}
      exclude: [kube-system]
      name: global-regcred
      clusters:
        names: [east]
        selector: {matchLabels: {region: eu}}
      keys: {.dockerconfigjson: config.json}
  strategy: replace
  updateMode: create-only
"""


def parsed(text: str) -> SyncSpec:
    spec = parse_sync(yaml.safe_load(text))
    assert isinstance(spec, SyncSpec), spec
    return spec


def test_replika_seed_reads_as_all_namespaces_but_the_excluded() -> None:
    spec = parsed(REPLIKA_SEED)
    assert spec.form == "replika"
    assert spec.resync == 20.0
    assert spec.source.namespace == "default"
    assert spec.source.kind == "ConfigMap"
    (destination,) = spec.destinations
    assert destination.all_namespaces
    assert destination.exclude == {"kube-system", "kube-public", "kube-node-lease", "default"}
    assert destination.clusters == ClusterChoice()
    assert spec.conditions == ("SourceSynced",)


def test_replika_replicate_in_lists_namespaces() -> None:
    doc = yaml.safe_load(REPLIKA_SEED)
    doc["spec"]["target"]["namespaces"].update(matchAll=False, replicateIn=["a", "b"])
    spec = parse_sync(doc)
    assert isinstance(spec, SyncSpec)
    assert [d.namespace for d in spec.destinations] == ["a", "b"]
    assert not any(d.all_namespaces for d in spec.destinations)


def test_rustrial_source_namespace_defaults_to_the_objectsync() -> None:
    spec = parsed(RUSTRIAL_SEED)
    assert spec.form == "rustrial"
    assert (spec.source.group, spec.source.kind, spec.source.namespace) == (
        "batch",
        "CronJob",
        "default",
    )
    assert spec.source.version is None
    assert spec.destinations == (
        Destination("kube-system"),
        Destination("linkerd", name="renamed", strategy="replace"),
    )
    assert spec.conditions == ("Ready", "InSync")


def test_synchub_form_reads_every_field() -> None:
    spec = parsed(SYNCHUB)
    (destination,) = spec.destinations
    assert destination.selector is not None
    assert destination.all_namespaces
    assert destination.selector.matches({"team": "a"})
    assert not destination.selector.matches({"team": "b"})
    assert destination.clusters.names == ("east",)
    assert destination.clusters.selector is not None
    assert destination.keys == ((".dockerconfigjson", "config.json"),)
    assert (spec.strategy, spec.update_mode) == ("replace", "create-only")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"spec": None}, "spec must be a mapping"),
        ({"spec": {"source": {"kind": "Secret"}, "destinations": []}}, "spec.source.name"),
        ({"apiVersion": "example.com/v1"}, "is not an ObjectSync"),
    ],
)
def test_invalid_specs_name_the_field(change: dict[str, Any], problem: str) -> None:
    doc = {**yaml.safe_load(SYNCHUB), **change}
    error = parse_sync(doc)
    assert isinstance(error, SpecError)
    assert problem in error.message


@pytest.mark.parametrize(
    ("destination", "problem"),
    [
        ({"namespace": "Bad_NS"}, "spec.destinations[0].namespace"),
        ({"namespaceSelector": {"matchLabel": {}}}, "spec.destinations[0].namespaceSelector"),
        ({"clusters": {}}, "spec.destinations[0].clusters needs names or a selector"),
        ({"keys": []}, "spec.destinations[0].keys"),
        ({"keys": {"a": "x", "b": "x"}}, "names a key twice"),
        ({"strategy": "merge"}, "spec.destinations[0].strategy must be one of apply, replace"),
    ],
)
def test_invalid_destinations_name_the_field(destination: dict[str, Any], problem: str) -> None:
    doc = yaml.safe_load(SYNCHUB)
    doc["spec"]["destinations"] = [destination]
    error = parse_sync(doc)
    assert isinstance(error, SpecError)
    assert problem in error.message


def test_replika_bad_duration() -> None:
    doc = yaml.safe_load(REPLIKA_SEED)
    doc["spec"]["synchronization"]["time"] = "soon"
    error = parse_sync(doc)
    assert isinstance(error, SpecError)
    assert "spec.synchronization.time" in error.message


@pytest.mark.parametrize(
    ("group", "kind", "versions", "condition"),
    [
        ("synchub.io", "ObjectSync", ["v1alpha1"], "Ready"),
        ("sync.rustrial.org", "ObjectSync", ["v1alpha1"], "Ready"),
        ("replika.prosimcorp.com", "Replika", ["v1alpha1", "v1beta1"], "SourceSynced"),
    ],
)
def test_crds_have_status_columns_and_short_names(
    group: str, kind: str, versions: list[str], condition: str
) -> None:
    documents = yaml.safe_load_all(render_crds((group,)))  # a group may hold other CRDs too
    (crd,) = [d for d in documents if d["spec"]["names"]["kind"] == kind]
    spec = crd["spec"]
    assert (spec["group"], spec["scope"], spec["names"]["kind"]) == (group, "Namespaced", kind)
    assert spec["names"]["shortNames"]
    assert [v["name"] for v in spec["versions"]] == versions
    assert [v["storage"] for v in spec["versions"]][-1] is True
    for version in spec["versions"]:
        assert version["subresources"] == {"status": {}}
        columns = [c["name"] for c in version["additionalPrinterColumns"]]
        assert columns == ["Ready", "Destinations", "Age"]
        assert condition in version["additionalPrinterColumns"][0]["jsonPath"]


def test_crds_command_prints_groups(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli.main import main

    assert main(["crds"]) == 0
    names = {d["metadata"]["name"] for d in yaml.safe_load_all(capsys.readouterr().out)}
    assert {"objectsyncs.synchub.io", "federatedsecrets.types.kubefed.io"} <= names
    assert not any(n.endswith("types.federation.k8s.io") for n in names)
    assert main(["crds", "--group", "replika.prosimcorp.com"]) == 0
    names = {d["metadata"]["name"] for d in yaml.safe_load_all(capsys.readouterr().out)}
    assert names == {"replikas.replika.prosimcorp.com"}
