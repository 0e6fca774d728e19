from conftest import HubProcess


def test_hub_serves_health_and_metrics(hub: HubProcess) -> None:
    assert "synchub_reconcile_total" in hub.metrics() or hub.metrics()
    assert hub.metric("synchub_member_writes_total") >= 0
