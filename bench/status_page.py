"""Benchmark: render /status and /status.json for 5,000 objects x 3 clusters.

Pure rendering from snapshots (no clusters needed): publish N objects (a third of them
failing on one member), then time the default page (200 rows), a full page with every row,
the failing-only filter, and the JSON. Prints one JSON object; never fails on a number.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

from hub.runtime.snapshots import Cell, ClusterSnapshot, Health, HubInfo, Snapshots
from hub.web.status import MAX_PER_PAGE, Query, render_page, status_json

CLUSTERS = ("master", "member-1", "member-2")


def populated(objects: int) -> Snapshots:
    snapshots = Snapshots()
    snapshots.set_hub(HubInfo("bench", "direct", "leader"))
    for name in CLUSTERS:
        snapshots.publish_cluster(ClusterSnapshot(name, True, role="member", version="v1.35.4"))
    for i in range(objects):
        failing = i % 3 == 0
        snapshots.publish(
            "propagation", "FederatedSecret", f"ns-{i % 50}", f"secret-{i:05d}",
            [Cell("master", "Propagated", Health.OK),
             Cell("member-1", "Propagated", Health.OK),
             Cell("member-2", "ClusterNotReady" if failing else "Propagated",
                  Health.FAILING if failing else Health.OK,
                  "connection refused" if failing else "")],
        )  # fmt: skip
        snapshots.publish("copy", "FederatedSecret", f"ns-{i % 50}", f"secret-{i:05d}",
                          state="Copied")  # fmt: skip
    return snapshots


def timed(work: Callable[[], object], runs: int) -> dict[str, float]:
    times = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - started)
        size = len(out) if isinstance(out, str) else len(json.dumps(out))
    return {
        "median_s": round(statistics.median(times), 4),
        "max_s": round(max(times), 4),
        "bytes": size,
    }


def rebuild(snapshots: Snapshots, runs: int) -> float:
    """Median time of the first view() after one object changed (the view is rebuilt)."""
    times = []
    for i in range(runs):
        snapshots.publish("copy", "FederatedSecret", "ns-0", "secret-00000", state=f"S{i}")
        started = time.perf_counter()
        snapshots.view()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    snapshots = populated(args.objects)
    publish_s = time.perf_counter() - started
    view = snapshots.view
    everything = Query(per=MAX_PER_PAGE)
    result = {
        "benchmark": "status_page",
        "objects": args.objects,
        "clusters": len(CLUSTERS),
        "publish_all_s": round(publish_s, 4),
        "publish_per_object_us": round(publish_s / max(1, args.objects) * 1e6 / 2, 2),
        "view_rebuild_after_one_change_s": rebuild(snapshots, args.runs),
        "page_default": timed(lambda: render_page(view(), Query()), args.runs),
        "page_all_rows": timed(lambda: render_page(view(), everything), args.runs),
        "page_failing_only": timed(lambda: render_page(view(), Query(state="failing")), args.runs),
        "json_all": timed(lambda: status_json(view(), Query(per=10**9)), args.runs),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
