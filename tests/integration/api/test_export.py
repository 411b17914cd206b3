"""/api/v1/export: a target's samples as CSV and as an XLSX report, opened and checked."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from netgauge.api import create_app
from netgauge.config import load_config_text
from netgauge.config.settings import Settings
from netgauge.service import Service
from tests.conftest import as_admin

CONFIG = "targets:\n  - {name: laptop, address: 127.0.0.1, type: device}\n"
CPU = [12.5, 40.0, 33.25, 99.0, 5.0]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    service = Service(settings, load_config_text(CONFIG, "export.yaml").config, "export.yaml")
    with TestClient(create_app(service)) as c:
        as_admin(c)
        token = c.post("/api/v1/devices/laptop/agent-token").json()["token"]
        now = time.time_ns()
        batches = [
            {
                "seq": i + 1,
                "ts_ns": now - (len(CPU) - i) * 60_000_000_000,
                "metrics": [{"name": "cpu_percent", "value": v}],
            }
            for i, v in enumerate(CPU)
        ]
        r = c.post(
            "/api/v1/ingest",
            json={"batches": batches},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200
        yield c


def test_csv_has_every_sample(client: TestClient) -> None:
    params = {"target": "laptop", "from": "2000-01-01T00:00:00"}
    r = client.get("/api/v1/export/csv", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="netgauge-laptop-' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    cpu = [float(row["value"]) for row in rows if row["metric"] == "cpu_percent"]
    assert cpu == CPU
    assert {row["metric"] for row in rows} >= {"cpu_percent", "status"}


def test_xlsx_report_has_the_statistics(client: TestClient) -> None:
    params = {"target": "laptop", "from": "2000-01-01T00:00:00"}
    r = client.get("/api/v1/export/xlsx", params=params)
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content), read_only=True)
    assert book.sheetnames == ["statistics", "samples"]
    rows = list(book["statistics"].iter_rows(values_only=True))
    assert rows[1] == ("metric", "samples", "min", "avg", "max", "p95", "availability %")
    stats = {row[0]: row for row in rows[2:]}
    assert stats["cpu_percent"][1:6] == (5, 5.0, sum(CPU) / 5, 99.0, 99.0)
    assert stats["status"][6] == 100.0  # every agent batch was an up observation
    samples = list(book["samples"].iter_rows(values_only=True))[1:]
    assert [v for _, m, v in samples if m == "cpu_percent"] == CPU


def test_a_bad_range_is_a_clear_4xx(client: TestClient) -> None:
    params = {"target": "laptop", "from": "2030-01-01T00:00:00", "to": "2020-01-01T00:00:00"}
    r = client.get("/api/v1/export/csv", params=params)
    assert r.status_code == 422 and r.json()["field"] == "from"
