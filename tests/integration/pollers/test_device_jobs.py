"""``ssh`` and ``winrm`` jobs in a real service: the ssh job polls the real sshd with the
key file its credentials reference names and stores the device metrics; a winrm job whose
host does not answer leaves the device down, with the reason."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from tests.conftest import wait_for
from tests.integration.conftest import StartApp
from tests.lab.sshd import Sshd

PASSWORD_ENV = "NETGAUGE_TEST_WINRM_PASSWORD"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def client(
    settings: Settings, sshd: Sshd, monkeypatch: pytest.MonkeyPatch, start_app: StartApp
) -> TestClient:
    monkeypatch.setenv(PASSWORD_ENV, "not-a-real-password")
    # a job's known_hosts lies in the data directory (or file_dirs): the sshd's copy there
    known_hosts = settings.data_dir / "known_hosts"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    known_hosts.write_bytes(sshd.known_hosts.read_bytes())
    text = f"""
credentials:
  - {{name: lab-ssh, kind: ssh, username: root, files: {{key: "{sshd.client_key}"}}}}
  - {{name: lab-win, kind: winrm, username: admin, env: {{password: {PASSWORD_ENV}}}}}
targets:
  - {{name: linux1, address: 127.0.0.1, type: device, credentials: lab-ssh}}
  - {{name: win1, address: 127.0.0.1, type: device, credentials: lab-win}}
jobs:
  - {{name: linux-health, kind: ssh, targets: [linux1], interval: 1h, enabled: false,
     params: {{port: {sshd.port}, known_hosts: "{known_hosts.resolve()}"}}}}
  - {{name: win-health, kind: winrm, targets: [win1], interval: 1h, enabled: false,
     params: {{https: false, port: {closed_port()}, timeout: 3}}}}
"""
    loaded = load_config_text(text, "jobs.yaml", data_dir=settings.data_dir)
    return start_app(loaded.config, name="jobs.yaml", raise_server_exceptions=False)


def run(client: TestClient, job: str) -> dict[str, Any]:
    assert client.post(f"/api/v1/jobs/{job}/run").status_code == 202

    def finished() -> Any:
        runs = client.get(f"/api/v1/jobs/{job}/runs").json()["items"]
        return runs[0] if runs and runs[0]["status"] != "running" else None

    return dict(wait_for(finished, timeout=30, what=f"{job} to finish"))


def test_an_ssh_job_stores_the_hosts_metrics(client: TestClient) -> None:
    outcome = run(client, "linux-health")
    assert outcome["status"] == "ok", outcome

    def stored() -> Any:
        series = client.get("/api/v1/metrics/series", params={"target": "linux1"}).json()
        return {s["metric"] for s in series} or None

    names = wait_for(stored, what="linux1's samples")
    assert {"memory_percent", "uptime_seconds"} <= names
    assert any(name.startswith('disk_percent{mount="') for name in names)


def test_a_silent_winrm_host_is_down_with_the_reason(client: TestClient) -> None:
    outcome = run(client, "win-health")
    assert outcome["status"] == "failed" and outcome["targets_failed"] == 1
    status = client.get("/api/v1/status/win1").json()
    # a device's live state is its decided one (issue 4's words): one silent poll of a device
    # never seen is not yet "offline" (that takes 3 in a row), and never the checks' "down"
    assert status["state"] == "unknown"
    assert status["checks"][0]["status"] != "ok" and status["checks"][0]["error"]
    assert status["checks"][0]["details"]["state"] == "offline"
