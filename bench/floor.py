"""The floor: a raw client doing only the necessary writes of a copy + propagation sync.

Run as a process beside the hub's measurement (``bench/scale.py`` starts it). For each
FederatedSecret ``fs-i`` copying from the master Secret ``src-i``, in one namespace:

* one merge patch of ``spec.template.data`` on the master (the copy),
* one server-side apply of the rendered Secret to every member, 4 requests in flight per
  member (the namespace is created once per member, up front): the very object the hub
  must write, with its origin and hash annotations (docs/federated.md) and a label the
  size of its managed label (not that label itself, which would put the floor's copies in
  the hub's member caches), so the two pay the member API servers the same for each apply,
* one status patch on the master (``Propagated`` on every member).

Then it watches the master Secrets and does the same chain for each change, until SIGTERM.
It prints ``{"synced": SECONDS}`` when the initial sync is done and a summary on exit. It
reuses the hub's HTTP client (hub/kube/client.py), so it measures the API work, not a
different client stack.

    .venv/bin/python bench/floor.py CONFIG NAMESPACE
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from hub.config.loader import load_config
from hub.core.errors import Conflict
from hub.core.federation import HASH_ANNOTATION, ORIGIN_ANNOTATION
from hub.core.objects import Origin
from hub.core.render import compute_hash
from hub.kube.client import APPLY_PATCH, MERGE_PATCH, ClusterClient

GROUP, VERSION = "types.kubefed.io", "v1beta1"
IN_FLIGHT = 4  # requests per cluster
#: Stands in for the hub's managed label (as long), which would put the copy in the hub's caches.
FLOOR_LABEL = "bench.floor/copied"
STARTED = time.monotonic()


class Floor:
    """The minimum writes for one namespace of copying FederatedSecrets."""

    def __init__(self, master: ClusterClient, members: list[ClusterClient], ns: str) -> None:
        self.master = master
        self.master_name = master.name
        self.members = members
        self.ns = ns
        self.sem = {c.name: asyncio.Semaphore(IN_FLIGHT) for c in [master, *members]}
        self.requests: dict[str, int] = {}
        self.sources: dict[str, dict[str, Any]] = {}

    async def call(self, client: ClusterClient, method: str, path: str, **kw: Any) -> Any:
        async with self.sem[client.name]:
            key = f"{client.name} {method}"
            self.requests[key] = self.requests.get(key, 0) + 1
            return await client.request(method, path, **kw)

    def fed_path(self, name: str = "", sub: str = "") -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{self.ns}/federatedsecrets"
        return f"{base}/{name}{'/' + sub if sub else ''}" if name else base

    async def start(self) -> str:
        """Create the namespace on the members; list the sources; the list's version."""
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}}
        for member in self.members:
            with contextlib.suppress(Conflict):
                await self.call(member, "POST", "/api/v1/namespaces", body=body)
        listing = await self.master.get(f"/api/v1/namespaces/{self.ns}/secrets")
        for item in listing.get("items") or []:
            self.sources[item["metadata"]["name"]] = item.get("data") or {}
        return str(listing["metadata"]["resourceVersion"])

    async def sync(self, index: str) -> None:
        """The chain for one object: copy, apply to every member, status."""
        name, data = f"fs-{index}", self.sources.get(f"src-{index}", {})
        await self.call(
            self.master, "PATCH", self.fed_path(name),
            body={"spec": {"template": {"data": data}}}, content_type=MERGE_PATCH,
        )  # fmt: skip
        secret = self.member_copy(name, data)
        path = f"/api/v1/namespaces/{self.ns}/secrets/{name}"
        params = {"fieldManager": "floor", "force": True}
        await asyncio.gather(
            *(
                self.call(m, "PATCH", path, params=params, body=secret, content_type=APPLY_PATCH)
                for m in self.members
            )
        )
        clusters = [{"name": m.name, "status": "Propagated"} for m in self.members]
        status = {
            "clusters": clusters,
            "conditions": [{"type": "Propagation", "status": "True", "reason": "Propagated"}],
        }
        await self.call(
            self.master, "PATCH", self.fed_path(name, "status"),
            body={"status": status}, content_type=MERGE_PATCH,
        )  # fmt: skip

    def member_copy(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """The Secret the hub renders from ``fs-<i>`` (hub/core/render.py), built directly."""
        origin = Origin(self.master_name, GROUP, "FederatedSecret", self.ns, name)
        annotations = {ORIGIN_ANNOTATION: str(origin)}
        secret: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": self.ns,
                "labels": {FLOOR_LABEL: "true"},
                "annotations": annotations,
            },
            "type": "Opaque",
            "data": data,
        }
        annotations[HASH_ANNOTATION] = compute_hash(secret)
        return secret

    async def initial(self) -> None:
        await asyncio.gather(*(self.sync(n.removeprefix("src-")) for n in self.sources))

    async def follow(self, version: str) -> None:
        """Watch the sources; re-run the chain of each one that changed."""
        path = f"/api/v1/namespaces/{self.ns}/secrets"
        running: set[asyncio.Task[None]] = set()
        while True:
            params: dict[str, str | int | bool] = {
                "watch": True,
                "resourceVersion": version,
                "allowWatchBookmarks": True,
            }
            async for event in self.master.stream(path, params, read_timeout=120):
                obj = event.get("object") or {}
                version = obj.get("metadata", {}).get("resourceVersion", version)
                if event.get("type") != "MODIFIED":
                    continue
                name = obj["metadata"]["name"]
                data = obj.get("data") or {}
                if self.sources.get(name) == data:
                    continue
                self.sources[name] = data
                task = asyncio.create_task(self.sync(name.removeprefix("src-")))
                running.add(task)
                task.add_done_callback(running.discard)


async def run(config_path: str, ns: str) -> None:
    config = load_config(Path(config_path))
    master = await ClusterClient.connect(config.master)
    members = [await ClusterClient.connect(m) for m in config.members]
    floor = Floor(master, members, ns)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    version = await floor.start()
    await floor.initial()
    print(json.dumps({"synced": round(time.monotonic() - STARTED, 3)}), flush=True)
    follower = asyncio.create_task(floor.follow(version))
    await stop.wait()
    follower.cancel()
    print(json.dumps({"requests": floor.requests}), flush=True)
    for client in [master, *members]:
        await client.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:  # `make bench` runs every bench/*.py: this one is scale.py's helper
        print("bench/floor.py CONFIG NAMESPACE is started by bench/scale.py", file=sys.stderr)
        sys.exit(0)
    asyncio.run(run(sys.argv[1], sys.argv[2]))
