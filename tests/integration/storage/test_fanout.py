"""A service writing to the embedded store, InfluxDB and VictoriaMetrics at once (fan-out):
every sample reaches each, /api/v1/health lists them, and ``query_store`` picks which one
answers the API, with the same answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings, StoreSettings
from netgauge.errors import ConfigError
from netgauge.service import Service
from netgauge.storage.factory import build_stores
from netgauge.storage.influxdb import InfluxV1Store
from tests.conftest import as_admin, wait_for
from tests.integration.conftest import StartApp
from tests.lab.influxdb import InfluxDB
from tests.lab.victoriametrics import VictoriaMetrics, missing_victoriametrics

CONFIG = "targets:\n  - {name: laptop, address: 127.0.0.1, type: device}\n"


def service_with(tmp_path: Path, influxdb: InfluxDB, database: str, **kw: Any) -> Service:
    store = StoreSettings(kind="influxdb", url=influxdb.url, database=database)
    settings = Settings(data_dir=tmp_path / "data", port=0, stores=[store], **kw)
    return Service(settings, load_config_text(CONFIG, "fanout.yaml").config, "fanout.yaml")


@pytest.fixture
def client(influxdb: InfluxDB, start_app: StartApp) -> TestClient:
    database = f"fanout_{time.time_ns()}"
    store = StoreSettings(kind="influxdb", url=influxdb.url, database=database)
    return start_app(CONFIG, name="fanout.yaml", stores=[store], query_store="influxdb")


def test_samples_reach_every_store_and_influxdb_answers_queries(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    ts = time.time_ns()
    body = {
        "batches": [{"seq": 1, "ts_ns": ts, "metrics": [{"name": "cpu_percent", "value": 7.5}]}]
    }
    r = client.post("/api/v1/ingest", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    stores = {s["name"]: s for s in client.get("/api/v1/health/details").json()["stores"]}
    assert set(stores) == {"embedded", "influxdb"} and stores["influxdb"]["answers_queries"]
    assert all(s["reachable"] and s["samples_written"] >= 1 for s in stores.values())

    def points() -> Any:
        params = {"target": "laptop", "metric": "cpu_percent", "from": "2000-01-01T00:00:00"}
        return client.get("/api/v1/metrics", params=params).json()["points"] or None

    found = wait_for(points, what="the sample read back from InfluxDB")
    assert [(p["ts"], p["value"]) for p in found] == [(ts, 7.5)]


def test_a_missing_store_password_is_a_clear_error(tmp_path: Path) -> None:
    store = StoreSettings(
        kind="influxdb", url="http://127.0.0.1:1", username="u", password_env="NG_UNSET_PW"
    )
    with pytest.raises(ConfigError, match="NG_UNSET_PW is not set"):
        build_stores(Settings(data_dir=tmp_path, stores=[store]), tmp_path / "m.db")


def test_query_store_must_be_configured() -> None:
    with pytest.raises(ValueError, match="query_store 'influxdb' is not among"):
        Settings(query_store="influxdb")


async def test_the_influx_store_is_the_same_class_the_service_builds(
    tmp_path: Path, influxdb: InfluxDB
) -> None:
    store = StoreSettings(kind="influxdb", url=influxdb.url)
    built = build_stores(Settings(data_dir=tmp_path, stores=[store]), tmp_path / "m.db")
    assert [type(s).__name__ for s in built] == ["EmbeddedStore", "InfluxV1Store"]
    assert isinstance(built[1], InfluxV1Store)
    for each in built:
        await each.close()


@pytest.fixture(scope="module")
def victoria() -> Iterator[VictoriaMetrics]:
    reason = missing_victoriametrics()
    if reason:
        pytest.skip(reason)
    with VictoriaMetrics() as server:
        yield server


@pytest.mark.parametrize("answering", ["embedded", "influxdb", "victoriametrics"])
def test_round_trip_through_the_api_whichever_store_answers(
    tmp_path: Path, influxdb: InfluxDB, victoria: VictoriaMetrics, answering: str
) -> None:
    """Agent batches in through /api/v1/ingest, read back through /api/v1/metrics from each
    store in turn: exactly the values sent, raw and by the minute (ms-aligned timestamps, as
    VictoriaMetrics keeps milliseconds)."""
    stores = [
        StoreSettings(kind="influxdb", url=influxdb.url, database=f"rt_{time.time_ns()}"),
        StoreSettings(kind="victoriametrics", url=victoria.url),
    ]
    device = f"rt-{answering}"
    config = f"targets:\n  - {{name: {device}, address: 127.0.0.1, type: device}}\n"
    settings = Settings(data_dir=tmp_path / "d", port=0, stores=stores, query_store=answering)
    service = Service(settings, load_config_text(config, "rt.yaml").config, "rt.yaml")
    minute = 60_000_000_000
    start = (time.time_ns() // minute - 30) * minute
    sent = [(start + i * 7_000_000_000, round(10 + (i * 37 % 23) * 0.5, 1)) for i in range(40)]
    with TestClient(create_app(service)) as client:
        as_admin(client)
        token = client.post(f"/api/v1/devices/{device}/agent-token").json()["token"]
        batches = [
            {"seq": i + 1, "ts_ns": ts, "metrics": [{"name": "cpu_percent", "value": v}]}
            for i, (ts, v) in enumerate(sent)
        ]
        r = client.post(
            "/api/v1/ingest",
            json={"batches": batches},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200 and r.json()["stored"] == 40
        victoria.flush()
        params = {"target": device, "metric": "cpu_percent", "from": "2000-01-01T00:00:00"}

        def raw() -> Any:
            found = client.get("/api/v1/metrics", params=params).json()["points"]
            return found if len(found) == len(sent) else None

        got = wait_for(raw, what=f"40 samples read back from {answering}")
        assert [(p["ts"], p["value"]) for p in got] == sent
        from_ = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start / 1e9))
        stepped = client.get(
            "/api/v1/metrics", params={**params, "from": from_, "step": "1m", "agg": "max"}
        ).json()["points"]
        want: dict[int, list[float]] = {}
        for ts, v in sent:
            want.setdefault(start + (ts - start) // minute * minute, []).append(v)
        assert [(p["ts"], p["value"], p["count"]) for p in stepped] == [
            (b, max(v), len(v)) for b, v in sorted(want.items())
        ]
