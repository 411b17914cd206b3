"""A service writing to the embedded store and to InfluxDB at once (fan-out): every sample
reaches both, /api/v1/health lists both, and ``query_store`` makes InfluxDB answer the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.config import load_config_text
from netgauge.config.settings import Settings, StoreSettings
from netgauge.errors import ConfigError
from netgauge.service import Service
from netgauge.storage.factory import build_stores
from netgauge.storage.influxdb import InfluxV1Store
from tests.conftest import wait_for
from tests.lab.influxdb import InfluxDB

CONFIG = "targets:\n  - {name: laptop, address: 127.0.0.1, type: device}\n"


def service_with(tmp_path: Path, influxdb: InfluxDB, database: str, **kw: Any) -> Service:
    store = StoreSettings(kind="influxdb", url=influxdb.url, database=database)
    settings = Settings(data_dir=tmp_path / "data", port=0, stores=[store], **kw)
    return Service(settings, load_config_text(CONFIG, "fanout.yaml").config, "fanout.yaml")


@pytest.fixture
def client(tmp_path: Path, influxdb: InfluxDB) -> Iterator[TestClient]:
    service = service_with(tmp_path, influxdb, f"fanout_{time.time_ns()}", query_store="influxdb")
    with TestClient(create_app(service)) as c:
        yield c


def test_samples_reach_every_store_and_influxdb_answers_queries(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    ts = time.time_ns()
    body = {
        "batches": [{"seq": 1, "ts_ns": ts, "metrics": [{"name": "cpu_percent", "value": 7.5}]}]
    }
    r = client.post("/api/v1/ingest", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    stores = {s["name"]: s for s in client.get("/api/v1/health").json()["stores"]}
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
