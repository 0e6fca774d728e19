"""Certificate renewal: renewal requested ─► cert-manager issues ─► both members hold the cert.

The real cert-manager runs on the master of its own sandbox (master + 2 members) with the
``synchub-ca`` ClusterIssuer; each Certificate's Secret is fanned out by a FederatedSecret
copying its data, the hub in direct mode. Renewals are requested one at a time the way
``cmctl renew`` does, and three latencies are measured per renewal: issuance (new ``tls.crt``
on the master), propagation (master ─► both members) and end to end. Prints one JSON object;
never fails on a number.

    .venv/bin/python bench/cert_renewal.py [--objects 20] [--updates 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import _common as c

from hub.sandbox import MASTER, Sandbox, certmanager
from hub.testing import install_federated_crds, wait_for

NAMESPACE = "bench-certs"
GROUP, VERSION = c.KUBEFED
PLURAL = "federatedsecrets"
CM = ("cert-manager.io", "v1")
ISSUE_TIMEOUT = 300.0
FANOUT_TIMEOUT = 300.0
RENEW_TIMEOUT = 60.0
MEMBERS_ONLY = {"matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]}


def certificate(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": f"cert-{i}"},
        "spec": {
            "secretName": f"cert-{i}-tls",
            "dnsNames": [f"cert-{i}.{NAMESPACE}.synchub.test"],
            "issuerRef": {"name": certmanager.CA_ISSUER, "kind": "ClusterIssuer"},
        },
    }


def federated(i: int) -> dict[str, Any]:
    secret = f"cert-{i}-tls"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "FederatedSecret",
        "metadata": {
            "name": secret,
            "annotations": {
                "k8s-copier.fig.org/replace-spec.template.data": f"secrets:{secret}:data"
            },
        },
        "spec": {
            "template": {"type": "kubernetes.io/tls"},
            "placement": {"clusterSelector": MEMBERS_ONLY},
        },
    }


def tls_crt(secret: dict[str, Any] | None) -> str | None:
    value = c.dig(secret, "data", "tls.crt")
    return None if value is None else str(value)


def setup(bench: c.Bench, objects: int) -> float:
    """cert-manager, CRDs, namespace, Certificates (issued) and FederatedSecrets; seconds the
    first issuance of all certificates took."""
    c.say("installing the Federated CRDs")
    install_federated_crds(bench.api[MASTER])
    started = time.monotonic()
    assert isinstance(bench.sandbox, Sandbox)
    bench.sandbox.start_cert_manager()
    c.say(f"cert-manager and its issuer chain ready in {time.monotonic() - started:.1f}s")
    bench.create_namespace(NAMESPACE, on=[MASTER])  # on the master; the hub creates it on members
    custom = bench.custom()
    started = time.monotonic()
    c.parallel(
        lambda i: custom.create_namespaced_custom_object(
            *CM, NAMESPACE, "certificates", certificate(i)
        ),
        objects,
        "Certificates",
    )

    def all_ready() -> bool:
        items = custom.list_namespaced_custom_object(*CM, NAMESPACE, "certificates")["items"]
        return sum(1 for o in items if certmanager.ready(o)) >= objects

    wait_for(all_ready, ISSUE_TIMEOUT, what=f"{objects} Certificates Ready")
    issued = time.monotonic() - started
    c.say(f"{objects} certificates issued in {issued:.1f}s")
    c.parallel(
        lambda i: custom.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, federated(i)
        ),
        objects,
        "FederatedSecrets",
    )
    return issued


def measure(
    bench: c.Bench, master: c.Watcher, members: list[c.Watcher], objects: int, renewals: int
) -> dict[str, Any]:
    custom = bench.custom()
    issuance: list[float] = []
    propagation: list[float] = []
    end_to_end: list[float] = []
    timeouts = 0
    for k in range(renewals):
        name = f"cert-{k % objects}"
        secret = f"{name}-tls"
        before = tls_crt(master.snapshot().get(secret))
        current = custom.get_namespaced_custom_object(*CM, NAMESPACE, "certificates", name)
        started = time.monotonic()
        custom.patch_namespaced_custom_object_status(
            *CM, NAMESPACE, "certificates", name, certmanager.renewal_patch(current)
        )

        def reissued(obj: dict[str, Any], before: str | None = before) -> bool:
            return tls_crt(obj) not in (None, before)

        issued_at = master.wait_for(secret, reissued, RENEW_TIMEOUT)
        if issued_at is None:
            timeouts += 1
            c.say(f"  renewal {k}: {name} not re-issued within {RENEW_TIMEOUT:.0f}s")
            continue
        new = tls_crt(master.snapshot()[secret])

        def holds_new(obj: dict[str, Any], new: str | None = new) -> bool:
            return tls_crt(obj) == new

        seen = [w.wait_for(secret, holds_new, RENEW_TIMEOUT) for w in members]
        if any(s is None for s in seen):
            timeouts += 1
            c.say(f"  renewal {k}: {secret} not on both members within {RENEW_TIMEOUT:.0f}s")
            continue
        arrived = max(s for s in seen if s is not None)
        issuance.append(issued_at - started)
        propagation.append(arrived - issued_at)
        end_to_end.append(arrived - started)
        time.sleep(0.3)  # let cert-manager's and the hub's status writes land
    return {
        "issuance_latency_ms": c.summary_ms(issuance),
        "propagation_latency_ms": c.summary_ms(propagation),
        "end_to_end_latency_ms": c.summary_ms(end_to_end),
        "renewal_timeouts": timeouts,
    }


def run(bench: c.Bench, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "cert_renewal",
        "certificates": args.objects,
        "members": len(bench.members),
        "renewals": args.updates,
    }
    result["initial_issuance_seconds"] = round(setup(bench, args.objects), 2)
    with c.running_hub(bench, "--mode", "direct") as hub:
        result["hub_ready_seconds"] = round(hub.wait_ready(), 2)
        watchers = [
            c.Watcher(bench.core(member).list_namespaced_secret, namespace=NAMESPACE).start()
            for member in bench.members
        ]
        master = c.Watcher(bench.core().list_namespaced_secret, namespace=NAMESPACE).start()

        def fanned_out() -> bool:
            hub.check_running()
            issued = {n: tls_crt(o) for n, o in master.snapshot().items() if n.startswith("cert-")}
            return len(issued) >= args.objects and all(
                all(tls_crt(w.snapshot().get(n)) == crt for n, crt in issued.items())
                for w in watchers
            )

        wait_for(fanned_out, FANOUT_TIMEOUT, what="every certificate Secret on both members")
        result["initial_fanout_seconds"] = round(time.monotonic() - hub.started, 2)
        c.say(f"fan-out done {result['initial_fanout_seconds']}s after the hub started")
        before = hub.writes()
        c.say(f"measuring {args.updates} renewals")
        result.update(measure(bench, master, watchers, args.objects, args.updates))
        result["renewal_writes"] = c.delta(hub.writes(), before)
        for watcher in [master, *watchers]:
            watcher.stop()
        c.say(f"end-to-end latency ms: {result['end_to_end_latency_ms']}")
        result["hub_rss_mb"] = hub.rss_mb()
        result["hub_cpu_seconds"] = hub.cpu_seconds()
    result["hub_exit_code"] = hub.process.returncode if hub.process else None
    result.update(c.log_report(hub))
    return result


def main() -> int:
    p = c.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.set_defaults(objects=20, updates=30)
    return c.main(p.parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
