"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's semantics.

A candidate takes the lease when it is free or when its record has not changed for a lease
duration, judged by this process's monotonic clock (never by the timestamps in the record,
which come from other machines' clocks). The leader renews every retry period; if it cannot
renew within the renew deadline it has lost the lease: it stops writing at once (the
:class:`WriteFence` closes) and the process exits non-zero to restart clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hub.core.errors import KubeError, LeadershipLost, NotFound, NotLeader
from hub.kube.client import ClusterClient
from hub.runtime.metrics import Metrics

log = logging.getLogger(__name__)

LEASE_NAME = "synchub"


@dataclass(frozen=True)
class Timing:
    """Lease timing, client-go's defaults: duration, renew deadline, retry period (seconds)."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class WriteFence:
    """Every write passes this right before its request is sent.

    Open only while this process can be sure it still holds the lease: until the renew
    deadline after the *start* of its last successful renewal, on the monotonic clock. A
    process that was paused (SIGSTOP, a frozen VM) therefore finds the fence closed the moment
    it resumes, before the elector's own loop has run; closing it cancels writes in flight.
    """

    def __init__(self, open_: bool = True, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._open = open_
        self._clock = clock
        self._until = math.inf
        self._in_flight: set[asyncio.Task[Any]] = set()

    @property
    def open(self) -> bool:
        """Whether a write may be sent now."""
        return self._open and self._clock() < self._until

    def grant(self, until: float = math.inf) -> None:
        """Open the fence until the monotonic time ``until``."""
        self._open = True
        self._until = until

    def close(self) -> None:
        """Refuse every later write and cancel the ones in flight."""
        self._open = False
        for task in list(self._in_flight):
            if task is not asyncio.current_task():
                task.cancel()

    def check(self, what: str = "write") -> None:
        """Raise NotLeader unless a write may be sent now."""
        if not self.open:
            raise NotLeader(f"not the leader: refusing to {what}")

    @contextlib.contextmanager
    def writing(self, what: str) -> Iterator[None]:
        """Around one write request: refused when closed, cancelled if the fence closes."""
        self.check(what)
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._in_flight.discard(task)


def default_identity() -> str:
    """This process's holder identity: pod (or host) name and a random suffix."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _micro_time() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Takes, renews and releases the hub's Lease on the master (see the module docstring)."""

    def __init__(
        self,
        client: ClusterClient,
        namespace: str,
        metrics: Metrics,
        *,
        fence: WriteFence,
        identity: str | None = None,
        timing: Timing = Timing(),
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.identity = identity or default_identity()
        self.timing = timing
        self.metrics = metrics
        self.fence = fence
        self.fence.close()
        self.is_leader = False
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._renewed_at = 0.0
        self._last_warning = ""
        self._leader_gauge = metrics.leader.labels(identity=self.identity)
        self._leader_gauge.set(0)

    @property
    def path(self) -> str:
        """The API path of the Lease."""
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases/{LEASE_NAME}"

    async def acquire(self) -> None:
        """Return once this process holds the lease."""
        log.info("leader election: %s waiting for lease %s/%s", self.identity, self.namespace,
                 LEASE_NAME)  # fmt: skip
        while True:
            if await self._try_acquire_or_renew():
                break
            await asyncio.sleep(self.timing.retry_period)
        self.is_leader = True
        self.fence.grant(self._renewed_at + self.timing.renew_deadline)
        self._leader_gauge.set(1)
        log.info("leader election: %s is the leader", self.identity)

    async def hold(self) -> None:
        """Renew until leadership is lost; then close the fence and raise LeadershipLost."""
        while True:
            await asyncio.sleep(self.timing.retry_period)
            if await self._try_acquire_or_renew():
                self.fence.grant(self._renewed_at + self.timing.renew_deadline)
                continue
            if time.monotonic() - self._renewed_at > self.timing.renew_deadline:
                self.fence.close()
                self.is_leader = False
                self._leader_gauge.set(0)
                raise LeadershipLost(
                    f"could not renew lease {self.namespace}/{LEASE_NAME} within "
                    f"{self.timing.renew_deadline:.0f}s"
                )

    async def release(self) -> None:
        """Give the lease up on graceful shutdown so a standby takes over at once."""
        if not self.is_leader:
            return
        self.fence.close()
        self.is_leader = False
        self._leader_gauge.set(0)
        try:
            lease = await self.client.get(self.path)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            lease["spec"] = {**spec, "holderIdentity": None, "leaseDurationSeconds": 1}
            await self.client.request("PUT", self.path, body=lease)
            log.info("leader election: released the lease")
        except KubeError as exc:
            log.warning("leader election: could not release the lease: %s", exc)

    async def _try_acquire_or_renew(self) -> bool:
        now = time.monotonic()
        try:
            lease = await self.client.get(self.path)
        except NotFound:
            return await self._create()
        except KubeError as exc:
            self._warn_once(f"cannot read lease {self.namespace}/{LEASE_NAME}: {exc}")
            return False
        spec = lease.get("spec") or {}
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))
        if record != self._observed:
            self._observed, self._observed_at = record, now
        holder = spec.get("holderIdentity")
        expired = now - self._observed_at > float(
            spec.get("leaseDurationSeconds") or self.timing.lease_duration
        )
        if holder and holder != self.identity and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        stamp = _micro_time()
        lease["spec"] = {
            **spec,
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.timing.lease_duration),
            "renewTime": stamp,
        }
        if holder != self.identity:
            lease["spec"]["acquireTime"] = stamp
            lease["spec"]["leaseTransitions"] = transitions + 1
        try:
            await self.client.request("PUT", self.path, body=lease)  # resourceVersion guards it
        except KubeError as exc:  # a Conflict means someone else renewed first
            log.debug("leader election: update failed: %s", exc)
            return False
        # From the attempt's start: the server may have stamped the lease any time after it.
        self._renewed_at = now
        return True

    def _warn_once(self, message: str) -> None:
        if message != self._last_warning:
            log.warning("leader election: %s", message)
            self._last_warning = message

    async def _create(self) -> bool:
        started = time.monotonic()
        stamp = _micro_time()
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE_NAME, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.timing.lease_duration),
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        }
        try:
            await self.client.request(
                "POST",
                f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases",
                body=lease,
            )
        except KubeError as exc:
            self._warn_once(f"cannot create lease {self.namespace}/{LEASE_NAME}: {exc}")
            return False
        self._renewed_at = started
        return True
