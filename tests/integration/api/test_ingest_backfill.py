"""Agents that backfill history through /api/v1/ingest, one device after the other: every
accepted sample counts in hourly steps (the embedded store's hour rollups), the second
device's too, whose hours the store had rolled up already for the first.

The truth is the values posted, summed up per hour here by plain arithmetic.
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import wait_for
from tests.integration.conftest import StartApp

HOUR = 3600 * 1_000_000_000
HOURS = 240  # 10 days, one sample an hour


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    text = """
targets:
  - {name: laptop, address: 127.0.0.1, type: device}
  - {name: desktop, address: 127.0.0.1, type: device}
"""
    return start_app(text, name="backfill.yaml", raise_server_exceptions=False)


def backfill(client: TestClient, device: str, history: dict[int, float]) -> None:
    token = client.post(f"/api/v1/devices/{device}/agent-token").json()["token"]
    batches = [
        {"seq": seq, "ts_ns": ts, "metrics": [{"name": "cpu_percent", "value": value}]}
        for seq, (ts, value) in enumerate(sorted(history.items()), start=1)
    ]
    body = client.post(
        "/api/v1/ingest",
        json={"agent": {"version": "t", "hostname": device}, "batches": batches},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert body["stored"] == HOURS and body["refused"] == [], body


def query(client: TestClient, device: str, start_ns: int, step: str | None) -> dict[str, Any]:
    params = {
        "target": device,
        "metric": "cpu_percent",
        "from": datetime.fromtimestamp(start_ns / 1e9, UTC).isoformat(),
        "format": "columns",
    }
    if step is not None:
        params["step"] = step
    response = client.get("/api/v1/metrics", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_second_devices_backfill_counts_in_hourly_steps(client: TestClient) -> None:
    now = time.time_ns() - 60 * 1_000_000_000  # a minute back: agents' clocks may lag
    rng = random.Random(11)
    histories = {
        device: {now - i * HOUR: round(rng.uniform(0, 100), 2) for i in range(HOURS)}
        for device in ("laptop", "desktop")
    }
    start = (now - HOURS * HOUR) // HOUR * HOUR
    for device, history in histories.items():
        backfill(client, device, history)

        def stored(device: str = device) -> bool:
            return len(query(client, device, start, None)["ts"]) == HOURS

        wait_for(stored, what=f"{device}'s {HOURS} samples stored")
    for device, history in histories.items():
        hours: dict[int, list[float]] = {}
        for ts, value in history.items():
            hours.setdefault(ts - ts % HOUR, []).append(value)
        body = query(client, device, start, "1h")
        got = list(
            zip(body["ts"], body["value"], body["min"], body["max"], body["count"], strict=True)
        )
        want = [
            (b, pytest.approx(math.fsum(v) / len(v), rel=1e-12), min(v), max(v), len(v))
            for b, v in sorted(hours.items())
        ]
        assert got == want, device
