"""An ``snmp`` job in a real service against the real agent: the device's secrets come from
its credentials reference (an environment variable), the samples are stored under the
documented metric names, and a device whose secret is missing fails with that reason."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.service import Service
from tests.conftest import as_admin, wait_for
from tests.integration.conftest import StartApp
from tests.lab.host import local_uptime
from tests.lab.snmpd import Snmpd

ENV = "NETGAUGE_TEST_SNMP_COMMUNITY"


@pytest.fixture
def client(snmpd: Snmpd, monkeypatch: pytest.MonkeyPatch, start_app: StartApp) -> TestClient:
    monkeypatch.setenv(ENV, snmpd.community)
    text = f"""
credentials:
  - {{name: lab-snmp, kind: snmp, env: {{community: {ENV}}}}}
  - {{name: nowhere, kind: snmp, env: {{community: NETGAUGE_TEST_UNSET_VARIABLE}}}}
targets:
  - {{name: agent, address: 127.0.0.1, type: device, credentials: lab-snmp}}
  - {{name: secretless, address: 127.0.0.1, type: device, credentials: nowhere}}
jobs:
  - {{name: health, kind: snmp, params: {{port: {snmpd.port}}}, targets: [agent, secretless],
     interval: 1h, enabled: false}}
"""
    return start_app(text, name="snmp-job.yaml", raise_server_exceptions=False)


def run_job(client: TestClient) -> dict[str, Any]:
    before = len(client.get("/api/v1/jobs/health/runs").json()["items"])
    assert client.post("/api/v1/jobs/health/run").status_code == 202

    def finished() -> Any:
        runs = client.get("/api/v1/jobs/health/runs").json()["items"]
        return runs[0] if len(runs) > before and runs[0]["status"] != "running" else None

    return dict(wait_for(finished, timeout=20, what="the snmp job run to finish"))


def test_an_snmp_job_stores_device_metrics_under_their_names(
    client: TestClient, snmpd: Snmpd
) -> None:
    run = run_job(client)
    assert (run["status"], run["targets_ok"], run["targets_failed"]) == ("partial", 1, 1)
    assert (
        "environment variable NETGAUGE_TEST_UNSET_VARIABLE (community) is not set" in (run["error"])
    )

    def stored(metric: str) -> Any:
        params = {"target": "agent", "metric": metric}
        return client.get("/api/v1/metrics", params=params).json()["points"] or None

    uptime = wait_for(lambda: stored("uptime_seconds"), what="uptime_seconds to be stored")
    # the host's uptime (hrSystemUptime): snmpd runs here, so /proc/uptime bounds it
    assert 0 < uptime[-1]["value"] <= local_uptime()
    assert stored("memory_percent") is not None
    series = client.get("/api/v1/metrics/series", params={"target": "agent"}).json()
    names = {s["metric"] for s in series}
    assert any(name.startswith('disk_percent{mount="') for name in names), names
    assert not any(name.startswith("snmp.") for name in names)  # no protocol prefix
    assert client.get("/api/v1/status/agent").json()["state"] == "online"  # decided
    secretless = client.get("/api/v1/status/secretless").json()
    assert secretless["state"] != "online" and secretless["checks"][0]["status"] == "failed"


def test_stopping_the_service_closes_the_snmp_socket(
    settings: Settings, snmpd: Snmpd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, snmpd.community)
    text = f"""
credentials: [{{name: lab-snmp, kind: snmp, env: {{community: {ENV}}}}}]
targets: [{{name: agent, address: 127.0.0.1, type: device, credentials: lab-snmp}}]
jobs:
  - {{name: health, kind: snmp, params: {{port: {snmpd.port}}}, targets: [agent],
     interval: 1h, enabled: false}}
"""
    service = Service(settings, load_config_text(text, "snmp-job.yaml").config, "snmp-job.yaml")
    with TestClient(create_app(service)) as c:
        as_admin(c)
        run_job(c)
        clients = service.runner._probes["snmp"]._clients  # type: ignore[attr-defined]
        sockets = [t.get_extra_info("socket") for cl in clients for t in cl._transports.values()]
        assert sockets and all(s.fileno() >= 0 for s in sockets)
    assert all(s.fileno() == -1 for s in sockets)  # closed with the service
