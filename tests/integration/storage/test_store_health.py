"""A store that loses samples, or takes none, says so: ``state`` in /api/v1/health (with a
``cause`` that names no host), the reason in /api/v1/health/details and the console's storage
panel, and ``netgauge_store_up`` / ``netgauge_store_degraded`` in /metrics, checked by
Prometheus's own ``promtool check metrics``. Against real InfluxDB 1.6 servers: a sample it
cannot carry, and a user that may read but not write."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings, StoreSettings
from netgauge.service import Service
from tests.conftest import as_admin, wait_for
from tests.integration.storage.conftest import SecuredInflux
from tests.lab.influxdb import InfluxDB

pytestmark = pytest.mark.network

CONFIG = "targets:\n  - {name: winbox, address: 127.0.0.1, type: device}\n"
PROMTOOL = "/usr/bin/promtool"


@contextmanager
def _client(tmp_path: Path, store: StoreSettings, **kw: Any) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", port=0, stores=[store], **kw)
    service = Service(settings, load_config_text(CONFIG, "health.yaml").config, "health.yaml")
    with TestClient(create_app(service)) as client:
        yield as_admin(client)


def _ingest(client: TestClient, metrics: list[dict[str, Any]]) -> None:
    token = client.post("/api/v1/devices/winbox/agent-token").json()["token"]
    batch = {"seq": 1, "ts_ns": time.time_ns(), "metrics": metrics}
    r = client.post(
        "/api/v1/ingest", json={"batches": [batch]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text


def _store(client: TestClient, name: str, path: str = "/api/v1/health") -> dict[str, Any]:
    stores = client.get(path).json()["stores"]
    found: dict[str, Any] = next(s for s in stores if s["name"] == name)
    return found


def _metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in an exposition, or None when it is not there."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def _promtool_ok(text: str) -> None:
    if not Path(PROMTOOL).exists():
        return  # the promtool test below skips, naming the package; the rest still holds
    done = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _conflicting_database(influxdb: InfluxDB) -> str:
    """A database another tool shares, whose ``device_metrics.value`` is a string in this
    week's shard: InfluxDB refuses netgauge's float values there ("field type conflict")."""
    db = f"shared_{time.time_ns()}"
    httpx.post(f"{influxdb.url}/query", params={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
    line = f'device_metrics,device_id=other-tool,metric_name=note value="text" {time.time_ns()}'
    httpx.post(f"{influxdb.url}/write", params={"db": db}, content=line).raise_for_status()
    return db


@pytest.fixture
def refusing(tmp_path: Path, influxdb: InfluxDB) -> Iterator[TestClient]:
    store = StoreSettings(
        kind="influxdb", url=influxdb.url, database=_conflicting_database(influxdb)
    )
    with _client(tmp_path, store, store_degraded_for_s=3600) as client:
        yield client


def test_a_store_that_refuses_a_sample_is_degraded_with_the_reason(
    refusing: TestClient, influxdb: InfluxDB
) -> None:
    client = refusing
    assert client.get("/api/v1/health").json()["status"] == "ok"
    # InfluxDB refuses the metric samples (the field type conflict), takes the status one
    _ingest(
        client, [{"name": "cpu_percent", "value": 12.0}, {"name": "memory_percent", "value": 3}]
    )
    health = client.get("/api/v1/health").json()
    influx = _store(client, "influxdb")
    assert health["status"] == "degraded"
    assert influx["state"] == "degraded" and influx["cause"] == "samples_lost"
    assert influx["reachable"] and influx["dropped"] == 2
    assert "reason" not in influx  # the open summary names no error text
    assert _store(client, "embedded")["state"] == "ok"
    details = _store(client, "influxdb", "/api/v1/health/details")
    assert "field type conflict" in details["reason"] and "2 samples lost" in details["reason"]
    # the embedded store has them all the same
    cpu = client.get(
        "/api/v1/metrics",
        params={"target": "winbox", "metric": "cpu_percent", "from": "2000-01-01"},
    )
    assert [p["value"] for p in cpu.json()["points"]] == [12.0]
    metrics = client.get("/metrics").text
    assert _metric(metrics, "netgauge_store_degraded", store="influxdb", cause="samples_lost") == 1
    assert _metric(metrics, "netgauge_store_up", store="influxdb") == 1
    assert _metric(metrics, "netgauge_store_degraded", store="embedded", cause="") == 0
    _promtool_ok(metrics)
    # the console's storage panel says it too, with the reason
    page = client.get("/").text
    assert 'data-state="degraded"' in page and "field type conflict" in page


def test_degraded_ends_store_degraded_for_s_after_the_last_loss(
    tmp_path: Path, influxdb: InfluxDB
) -> None:
    db = _conflicting_database(influxdb)
    store = StoreSettings(kind="influxdb", url=influxdb.url, database=db)
    with _client(tmp_path, store, store_degraded_for_s=1) as client:
        _ingest(client, [{"name": "cpu_percent", "value": 1.0}])
        assert _store(client, "influxdb")["state"] == "degraded"
        wait_for(lambda: _store(client, "influxdb")["state"] == "ok", timeout=10, what="ok again")
        assert client.get("/api/v1/health").json()["status"] == "ok"


def test_a_user_who_may_not_write_makes_the_store_down_not_reachable_and_ok(
    tmp_path: Path, secured_influxdb: SecuredInflux, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = secured_influxdb
    monkeypatch.setenv("NG_TEST_INFLUX_PW", lab.reader[1])
    store = StoreSettings(
        kind="influxdb",
        url=lab.url,
        database=lab.database,
        username=lab.reader[0],
        password_env="NG_TEST_INFLUX_PW",
    )
    with _client(tmp_path, store) as client:
        _ingest(client, [{"name": "cpu_percent", "value": 5.0}])
        influx = _store(client, "influxdb")
        assert influx["reachable"]  # /ping answers: that alone said "fine" before
        assert influx["state"] == "down" and influx["cause"] == "permission_denied"
        assert influx["pending"] >= 1  # kept in the spool, not dropped
        details = _store(client, "influxdb", "/api/v1/health/details")
        assert "permission denied" in details["reason"] and "'dashboards'" in details["reason"]
        assert lab.reader[1] not in client.get("/api/v1/health/details").text
        metrics = client.get("/metrics").text
        assert _metric(metrics, "netgauge_store_up", store="influxdb") == 0
        _promtool_ok(metrics)


def test_promtool_accepts_the_exposition(refusing: TestClient) -> None:
    if not shutil.which(PROMTOOL):
        pytest.skip("promtool not installed (Debian package prometheus)")
    _ingest(refusing, [{"name": "cpu_percent", "value": 3.0}])
    _promtool_ok(refusing.get("/metrics").text)
