"""The CRDs in deploy/crds are what ``synchub crds`` renders (docs/federated-types.md).

Their schemas close what users can misspell.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.cli.main import main
from hub.core.crd_cluster import cluster_crd
from hub.core.crds import ALL_GROUPS, DEFAULT_KINDS, VERSIONS, render_crds
from hub.core.federation import FEDERATED_GROUPS, KUBEFED_GROUP

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "crds"


@pytest.mark.parametrize("group", ALL_GROUPS)
def test_deploy_crds_equal_rendered(group: str) -> None:
    on_disk = (DEPLOY / f"{group}.yaml").read_text()
    assert list(yaml.safe_load_all(on_disk)) == list(yaml.safe_load_all(render_crds((group,))))


@pytest.mark.parametrize("group", FEDERATED_GROUPS)
def test_rendered_crds_are_open_and_have_status(group: str) -> None:
    documents = list(yaml.safe_load_all(render_crds((group,))))
    assert [d["spec"]["names"]["kind"] for d in documents] == [
        f"Federated{kind}" for kind in DEFAULT_KINDS
    ]
    for document in documents:
        assert document["spec"]["group"] == group
        assert document["spec"]["names"]["categories"] == ["federated"]
        (version,) = document["spec"]["versions"]
        assert version["name"] == VERSIONS[group]
        assert version["subresources"] == {"status": {}}
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert "x-kubernetes-preserve-unknown-fields" not in spec  # misspelt spec keys refused
        fields = spec["properties"]
        assert fields["template"]["x-kubernetes-preserve-unknown-fields"] is True
        placement = fields["placement"]
        assert "x-kubernetes-preserve-unknown-fields" not in placement
        assert set(placement["properties"]) == {
            "clusterSelector",
            "clusters" if group == KUBEFED_GROUP else "clusterNames",
        }
        override = fields["overrides"]["items"]["properties"]["clusterOverrides"]["items"]
        assert override["properties"]["value"] == {"x-kubernetes-preserve-unknown-fields": True}
        columns = [c["name"] for c in version["additionalPrinterColumns"]]
        assert columns == ["Ready", "Clusters", "Age"]


def test_only_one_generation_has_short_names() -> None:
    kubefed, federation = (
        list(yaml.safe_load_all(render_crds((g,)))) for g in (KUBEFED_GROUP, FEDERATED_GROUPS[1])
    )
    assert kubefed[0]["spec"]["names"]["shortNames"] == ["fsecret"]
    assert all("shortNames" not in d["spec"]["names"] for d in federation)


def crds_command(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["crds", *args]) == 0
    return [d["metadata"]["name"] for d in yaml.safe_load_all(capsys.readouterr().out)]


def test_crds_command_defaults_to_kubefed_and_synchub(capsys: pytest.CaptureFixture[str]) -> None:
    names = crds_command(capsys)
    assert names == [
        "federatedsecrets.types.kubefed.io",
        "federatedconfigmaps.types.kubefed.io",
        "federateddeployments.types.kubefed.io",
        "federatedhelmreleases.types.kubefed.io",
        "objectsyncs.synchub.io",
        "gitsyncs.synchub.io",
        "clusters.synchub.io",
    ]
    seed_era = crds_command(capsys, "--group", "types.federation.k8s.io")
    assert all(n.endswith(".types.federation.k8s.io") for n in seed_era)
    assert len(seed_era) == len(DEFAULT_KINDS)


def test_crds_kind_federated_cluster_is_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert crds_command(capsys, "--kind", "FederatedCluster") == ["clusters.synchub.io"]
    assert crds_command(capsys, "--kind", "FederatedSecret") == [
        "federatedsecrets.types.kubefed.io"
    ]
    assert crds_command(capsys, "--kind", "Secret", "--group", "types.federation.k8s.io") == [
        "federatedsecrets.types.federation.k8s.io"
    ]


def test_cluster_crd_names_and_columns() -> None:
    crd = cluster_crd()
    assert crd["spec"]["scope"] == "Cluster"
    assert "federatedcluster" in crd["spec"]["names"]["shortNames"]
    (version,) = crd["spec"]["versions"]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Ready", "Version", "Age"]
