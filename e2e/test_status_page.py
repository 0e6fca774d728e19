"""End-to-end: the status page in a real headless browser, on a running hub and sandbox.

Chromium comes from Debian's packages (``apt-get install chromium``; ``.ci/run`` installs it)
and is driven by Playwright through ``executable_path``: no browser is downloaded at test
time (never ``playwright install``). Screenshots go to ``.synchub/artifacts/``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hub.testing import Clusters, HubProcess, wait_for

playwright_sync = pytest.importorskip("playwright.sync_api")
if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = os.environ.get("SYNCHUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / ".synchub" / "artifacts"
KUBEFED = ("types.kubefed.io", "v1beta1")
NOT_MASTER = {
    "clusterSelector": {"matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]}
}
SECRETS = ("cloud-certificate", "api-token")
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"
)


def secret_data(name: str) -> dict[str, str]:
    return {"tls.crt": base64.b64encode(f"{name} certificate v1".encode()).decode()}


def arrange(clusters: Clusters, namespace: str) -> None:
    """The demo's scenario: a TLS Secret on the master and a FederatedSecret copying it."""
    core = clusters.core("master")
    custom = clusters.custom("master")
    for name in SECRETS:
        body = {"metadata": {"name": name}, "data": secret_data(name)}
        core.create_namespaced_secret(namespace, body)
        federated = {
            "apiVersion": "/".join(KUBEFED),
            "kind": "FederatedSecret",
            "metadata": {
                "name": name,
                "annotations": {
                    "k8s-copier.fig.org/replace-spec.template.data": f"secrets:{name}:data"
                },
            },
            "spec": {"placement": NOT_MASTER},
        }
        custom.create_namespaced_custom_object(
            *KUBEFED, namespace, "federatedsecrets", federated
        )  # fmt: skip


@pytest.fixture
def browser_page() -> Iterator[Page]:
    with playwright_sync.sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            # expect() has its own 5 s default: too short for a loaded CI machine.
            playwright_sync.expect.set_options(timeout=TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def column(page: Page, cluster: str) -> int:
    """The position of ``cluster``'s column in the objects table."""
    headers = page.locator("#objects thead th")
    names = [headers.nth(i).get_attribute("data-cluster") for i in range(headers.count())]
    return names.index(cluster)


def cell(page: Page, namespace: str, name: str, cluster: str) -> Locator:
    row = page.locator("#objects tbody tr").filter(
        has=page.get_by_role("link", name=f"{namespace}/{name}", exact=True)
    )
    return row.locator("> *").nth(column(page, cluster))


def expect_in_sync(page: Page, namespace: str) -> None:
    """Both members propagated; the master holds the source (not placed there)."""
    expect = playwright_sync.expect
    for name in SECRETS:
        for member in ("member-1", "member-2"):
            expect(cell(page, namespace, name, member)).to_contain_text("Propagated")
            expect(cell(page, namespace, name, member)).to_have_class("cell ok")
        expect(cell(page, namespace, name, "master")).to_contain_text("not placed")
    member_2 = page.locator("#clusters tr[data-cluster='member-2']")
    expect(member_2).to_contain_text("✓ ready")
    expect(member_2).to_contain_text("v1.")
    expect(page.locator("header .hub")).to_contain_text("mode direct")


def filter_to_one(page: Page, namespace: str) -> None:
    """The filter is a GET form: the query lands in the URL, which the refresh re-fetches."""
    expect = playwright_sync.expect
    page.get_by_label("Text filter").fill(f"{namespace}/api-token")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/status?q=*api-token*")
    expect(page.locator("#objects tbody tr")).to_have_count(1)
    expect(page.locator("#objects tbody tr")).to_contain_text("api-token")


def expect_member_2_lost(page: Page, namespace: str) -> None:
    """Its column turns not ready and the cell says why, through the page's own refresh."""
    expect = playwright_sync.expect
    header = page.locator("#objects thead th[data-cluster='member-2']")
    expect(header).to_have_class("notready", timeout=30_000)
    expect(header).to_contain_text("not ready")
    broken = cell(page, namespace, "api-token", "member-2")
    expect(broken).to_contain_text("ClusterNotReady", timeout=30_000)
    expect(broken).to_have_class("cell failing")
    expect(broken.locator(".tip")).to_contain_text("member-2")
    assert "member-2: ClusterNotReady" in str(broken.get_attribute("title"))
    expect(cell(page, namespace, "api-token", "member-1")).to_contain_text("Propagated")
    cluster_row = page.locator("#clusters tr[data-cluster='member-2']")
    expect(cluster_row).to_contain_text("✗ not ready")
    expect(cluster_row.locator("td.message")).to_contain_text("member-2")
    tip = broken.locator(".tip")
    assert tip.evaluate("e => getComputedStyle(e).clipPath") != "none"  # hidden at rest
    broken.focus()  # the message shows on keyboard focus, not only on hover
    assert tip.evaluate("e => getComputedStyle(e).clipPath") == "none"


def test_status_page_in_a_browser(
    clusters: Clusters, namespace: str, hub: HubProcess, browser_page: Page
) -> None:
    expect = playwright_sync.expect
    page = browser_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    arrange(clusters, namespace)
    url = f"http://127.0.0.1:{hub.port}/status"
    page.goto(f"{url}?q={namespace}")
    expect_in_sync(page, namespace)
    page.screenshot(path=str(ARTIFACTS / "status-page.png"), full_page=True)
    filter_to_one(page, namespace)

    page.evaluate("window.sameDocument = true")  # gone if the page navigated instead
    clusters.sandbox.stop_apiserver("member-2")
    try:
        expect_member_2_lost(page, namespace)
        assert page.evaluate("window.sameDocument === true"), "the page reloaded"
        expect(page.locator("#objects tbody tr")).to_have_count(1)  # the filter held
        expect(page.get_by_label("Text filter")).to_have_value(f"{namespace}/api-token")
        page.screenshot(path=str(ARTIFACTS / "status-page-outage.png"), full_page=True)

        page.goto(f"{url}?q={namespace}&state=failing")  # both fail on member-2
        expect(page.locator("#objects tbody tr")).to_have_count(len(SECRETS))
        page.goto(f"{url}?object=FederatedSecret/{namespace}/api-token")
        expect(page.locator("#detail-h")).to_have_text(f"FederatedSecret/{namespace}/api-token")
        expect(page.locator("#objects tbody tr")).to_have_count(1)
    finally:
        clusters.sandbox.start_apiserver("member-2")
    page.goto(f"{url}?q={namespace}")
    expect(cell(page, namespace, "api-token", "member-2")).to_contain_text(
        "Propagated", timeout=90_000
    )


def test_status_json_matches_the_page(clusters: Clusters, namespace: str, hub: HubProcess) -> None:
    arrange(clusters, namespace)

    def objects() -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{hub.port}/status.json?q={namespace}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return list(json.load(answer)["objects"])

    def propagated() -> bool:
        found = objects()
        return len(found) == len(SECRETS) and all(
            o["health"] == "ok" and sorted(o["clusters"]) == ["member-1", "member-2"] for o in found
        )

    wait_for(propagated, timeout=60)
    found = {o["name"]: o for o in objects()}
    assert sorted(found) == sorted(SECRETS)
    token = found["api-token"]
    assert token["kind"] == "FederatedSecret"
    assert token["clusters"]["member-1"]["state"] == "Propagated"
    assert sorted(token["sources"]) == ["copy", "propagation"]
    for name in SECRETS:  # names and states only, never a value of the Secret
        assert secret_data(name)["tls.crt"] not in json.dumps(found)
