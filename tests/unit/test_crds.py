"""The CRDs in deploy/crds are exactly what ``synchub crds`` renders (DESIGN.md §5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.core.crds import ALL_GROUPS, DEFAULT_KINDS, VERSIONS, render_crds
from hub.core.federation import FEDERATED_GROUPS

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
        (version,) = document["spec"]["versions"]
        assert version["name"] == VERSIONS[group]
        assert version["subresources"] == {"status": {}}
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        assert spec["template"]["x-kubernetes-preserve-unknown-fields"] is True
        assert spec["overrides"]["items"]["x-kubernetes-preserve-unknown-fields"] is True
