"""The status page rendered from snapshots: escaping, filters, paging, deep links, JSON."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from hub.runtime.metrics import Metrics
from hub.runtime.snapshots import SEVERITY, Cell, ClusterSnapshot, Health, HubInfo, Snapshots
from hub.web.server import HttpServer
from hub.web.status import Query, paginate, render_page, status_json

HOSTILE = "<script>alert('x')</script>&\"quoted\" 'single'"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def registry() -> Snapshots:
    snapshots = Snapshots(clock=Clock())
    snapshots.set_hub(HubInfo("1.2.3", "direct", "leader", "pod-a"))
    snapshots.publish_cluster(ClusterSnapshot("master", True, role="master", version="v1.35.4"))
    snapshots.publish_cluster(ClusterSnapshot("member-1", True, labels=(("env", "prod"),)))
    snapshots.publish_cluster(
        ClusterSnapshot("member-2", False, last_error="connection refused", last_probe=1.0)
    )
    return snapshots


def publish_secret(snapshots: Snapshots, name: str, member_2: Health = Health.OK) -> None:
    state = "Propagated" if member_2 == Health.OK else "ClusterNotReady"
    snapshots.publish(
        "propagation",
        "FederatedSecret",
        "cloud",
        name,
        [
            Cell("member-1", "Propagated", Health.OK),
            Cell("member-2", state, member_2, "" if member_2 == Health.OK else "refused"),
        ],
    )


class Collector(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Collector:
    collector = Collector()
    collector.feed(page)
    return collector


def test_hostile_names_are_escaped_in_text_and_attributes() -> None:
    snapshots = registry()
    snapshots.publish(
        "copy",
        "FederatedSecret",
        HOSTILE,
        HOSTILE,
        state=HOSTILE,
        health=Health.FAILING,
        message=HOSTILE,
    )
    snapshots.publish_cluster(ClusterSnapshot(HOSTILE, False, last_error=HOSTILE))
    page = render_page(snapshots.view(), Query(text="<"))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page
    assert "&amp;" in page
    assert '"quoted"' not in page  # a double quote would end an attribute
    parsed = parse(page)
    # One script: the page's own. A hostile name never opens a tag or an attribute.
    assert [t for t, _ in parsed.tags].count("script") == 1
    assert not any("alert" in name for _, attrs in parsed.tags for name in attrs)
    assert HOSTILE in "".join(parsed.text)
    titles = [a["title"] for t, a in parsed.tags if a.get("title")]
    assert any(HOSTILE in (title or "") for title in titles)


def test_hostile_text_in_the_query_is_escaped() -> None:
    page = render_page(registry().view(), Query(text=HOSTILE, state=HOSTILE, object=HOSTILE))
    assert "<script>alert" not in page
    values = [a.get("value") for t, a in parse(page).tags if t == "input"]
    assert HOSTILE in values


def test_matrix_has_a_cell_per_cluster_with_state_and_message() -> None:
    snapshots = registry()
    publish_secret(snapshots, "cert", Health.FAILING)
    page = render_page(snapshots.view(), Query())
    parsed = parse(page)
    headers = [a.get("data-cluster") for t, a in parsed.tags if t == "th" and "data-cluster" in a]
    assert headers == ["master", "member-1", "member-2"]
    cells = [a for t, a in parsed.tags if t == "td" and "cell" in (a.get("class") or "")]
    assert [c["class"] for c in cells] == ["cell ok", "cell failing"]
    assert cells[1]["title"] is not None
    assert "member-2: ClusterNotReady — refused" in cells[1]["title"]
    assert '<span class="tip">refused</span>' in page
    assert "(not ready)" in page
    assert 'scope="row"' in page
    assert 'scope="col"' in page


def test_failing_filter_and_text_filter_narrow_the_rows() -> None:
    snapshots = registry()
    publish_secret(snapshots, "good")
    publish_secret(snapshots, "bad", Health.FAILING)
    view = snapshots.view()
    assert [r.name for r in paginate(view, Query()).rows] == ["bad", "good"]
    assert [r.name for r in paginate(view, Query(state="failing")).rows] == ["bad"]
    assert [r.name for r in paginate(view, Query(state="ok")).rows] == ["good"]
    assert [r.name for r in paginate(view, Query(text="GOO")).rows] == ["good"]
    assert [r.name for r in paginate(view, Query(text="refused")).rows] == ["bad"]
    assert [r.name for r in paginate(view, Query(state="ClusterNotReady")).rows] == ["bad"]
    counts = paginate(view, Query(state="failing"))
    assert counts.health_counts == {"ok": 1, "progressing": 0, "failing": 1}
    assert counts.matched == 1
    assert counts.total == 2


def test_deep_link_shows_one_object_and_its_detail() -> None:
    snapshots = registry()
    publish_secret(snapshots, "a")
    publish_secret(snapshots, "b", Health.FAILING)
    snapshots.publish("copy", "FederatedSecret", "cloud", "b", state="Copied")
    query = Query.parse({"object": "FederatedSecret/cloud/b"})
    page = render_page(snapshots.view(), query)
    assert [r.name for r in paginate(snapshots.view(), query).rows] == ["b"]
    assert '<h2 id="detail-h">FederatedSecret/cloud/b</h2>' in page
    assert "copy controller" in page
    assert "propagation controller" in page
    assert 'href="/status?object=FederatedSecret%2Fcloud%2Fb"' in page


def test_paging_keeps_the_filter_in_its_links() -> None:
    snapshots = registry()
    for i in range(25):
        publish_secret(snapshots, f"s{i:02d}")
    query = Query.parse({"q": "s", "per": "10", "page": "2"})
    page = paginate(snapshots.view(), query)
    assert [r.name for r in page.rows] == [f"s{i:02d}" for i in range(10, 20)]
    assert page.pages == 3
    rendered = render_page(snapshots.view(), query)
    assert 'href="/status?q=s&amp;page=3&amp;per=10" rel="next"' in rendered
    assert 'href="/status?q=s&amp;per=10" rel="prev"' in rendered


def test_query_parse_is_forgiving() -> None:
    query = Query.parse({"page": "x", "per": "-3", "q": "  a  "})
    assert (query.page, query.per, query.text) == (1, 1, "a")
    assert Query.parse({"per": "999999"}).per == 5000


def test_json_is_the_same_data() -> None:
    snapshots = registry()
    publish_secret(snapshots, "cert", Health.FAILING)
    data = status_json(snapshots.view(), Query.parse({}, per=10**9))
    json.dumps(data)  # serialisable
    assert data["hub"] == {"version": "1.2.3", "mode": "direct", "leader": "leader",
                           "identity": "pod-a"}  # fmt: skip
    assert [c["name"] for c in data["clusters"]] == ["master", "member-1", "member-2"]
    assert data["clusters"][2]["ready"] is False
    assert data["clusters"][2]["lastError"] == "connection refused"
    (obj,) = data["objects"]
    assert obj["key"] == "FederatedSecret/cloud/cert"
    assert obj["health"] == "failing"
    assert obj["clusters"]["member-2"] == {
        "state": "ClusterNotReady",
        "health": "failing",
        "message": "refused",
        "lastChange": "2023-11-14T22:13:20Z",
    }


def test_unchanged_publish_keeps_generation_and_change_times() -> None:
    clock = Clock()
    snapshots = Snapshots(clock=clock)
    publish_secret(snapshots, "cert")
    generation = snapshots.generation
    first = snapshots.view().objects[0].cells["member-2"].changed
    clock.now += 60
    publish_secret(snapshots, "cert")
    assert snapshots.generation == generation
    publish_secret(snapshots, "cert", Health.FAILING)
    row = snapshots.view().objects[0]
    assert snapshots.generation == generation + 1
    assert row.cells["member-1"].changed == first  # unchanged cell keeps its time
    assert row.cells["member-2"].changed == clock.now


def test_merge_of_two_controllers_shows_the_worst() -> None:
    snapshots = Snapshots(clock=Clock())
    publish_secret(snapshots, "cert")
    snapshots.publish("copy", "FederatedSecret", "cloud", "cert", state="Copied")
    assert snapshots.view().objects[0].state == "Copied · Propagated"
    snapshots.publish(
        "copy", "FederatedSecret", "cloud", "cert", state="SourceNotFound",
        health=Health.FAILING, message="secrets cloud/cert not found",
    )  # fmt: skip
    (row,) = snapshots.view().objects
    assert (row.state, row.health) == ("SourceNotFound", Health.FAILING)
    assert row.message == "secrets cloud/cert not found"
    snapshots.forget("copy", "FederatedSecret", "cloud", "cert")
    (row,) = snapshots.view().objects
    assert (row.state, row.health) == ("Propagated", Health.OK)
    snapshots.forget("propagation", "FederatedSecret", "cloud", "cert")
    assert snapshots.view().objects == ()


@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=40))
def test_any_name_renders_escaped(namespace: str, name: str, message: str) -> None:
    snapshots = Snapshots(clock=Clock())
    snapshots.publish(
        "copy", "FederatedSecret", namespace, name, state="Copied", message=message
    )  # fmt: skip
    page = render_page(snapshots.view(), Query())
    assert len(re.findall(r"<script\b", page)) == 1
    assert [t for t, _ in parse(page).tags].count("script") == 1


async def test_server_serves_page_and_json_with_a_strict_policy() -> None:
    snapshots = registry()
    publish_secret(snapshots, "cert", Health.FAILING)
    server = HttpServer(Metrics(), lambda: (True, "ready"), snapshots)
    async with TestClient(TestServer(server.app())) as client:
        page = await client.get("/status", params={"state": "failing"})
        assert page.status == 200
        assert page.content_type == "text/html"
        policy = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
        body = await page.text()
        assert f'<script nonce="{nonce}">' in body
        assert "FederatedSecret" in body
        data = await (await client.get("/status.json")).json()
        assert [o["name"] for o in data["objects"]] == ["cert"]
        assert data["pages"] == 1


HEALTHS = st.sampled_from(list(Health))
PUBLISHES = st.lists(
    st.tuples(
        st.sampled_from(["copy", "propagation", "objectsync"]),
        st.sampled_from(["a", "b"]),
        st.dictionaries(st.sampled_from(["m", "m1", "m2"]), HEALTHS, max_size=3),
    ),
    max_size=12,
)


@given(PUBLISHES)
def test_rows_show_the_worst_of_the_latest_snapshots(
    publishes: list[tuple[str, str, dict[str, Health]]],
) -> None:
    snapshots = Snapshots(clock=Clock())
    latest: dict[tuple[str, str], dict[str, Health]] = {}
    for source, name, cells in publishes:
        snapshots.publish(
            source, "Kind", "ns", name, [Cell(c, h.value, h) for c, h in cells.items()]
        )
        latest[(source, name)] = cells
        generation = snapshots.generation
        snapshots.publish(  # the same again changes nothing
            source, "Kind", "ns", name, [Cell(c, h.value, h) for c, h in cells.items()]
        )
        assert snapshots.generation == generation
    rows = {r.name: r for r in snapshots.view().objects}
    assert sorted(rows) == sorted({name for _, name in latest})
    for name, row in rows.items():
        parts = [cells for (_, n), cells in latest.items() if n == name]
        # A snapshot without cells or a verdict is "Unknown", progressing.
        healths = [h for cells in parts for h in (cells.values() or [Health.PROGRESSING])]
        assert SEVERITY[row.health] == max(SEVERITY[h] for h in healths)
        for cluster, cell in row.cells.items():
            said = [cells[cluster] for cells in parts if cluster in cells]
            assert SEVERITY[cell.health] == max(SEVERITY[h] for h in said)
