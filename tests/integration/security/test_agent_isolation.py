"""Issue: one agent's odd label (a Windows volume ``C:\\ Label:  Serial Number ...``) made
the InfluxDB encoder refuse the whole batch it shared with every other device's samples:
unrelated targets had no data for as long as that agent posted. An agent's samples can now
only ever cost themselves, in every store."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from netgauge.config.settings import StoreSettings
from tests.conftest import wait_for
from tests.integration.conftest import portal
from tests.integration.security.conftest import bearer
from tests.lab.victoriametrics import VictoriaMetrics

WINDOWS_VOLUME = "C:\\ Label:  Serial Number 1a2b3c4d"
CONFIG = """
targets:
  - {name: win, address: 127.0.0.1, type: device}
  - {name: linux, address: 127.0.0.2, type: device}
"""


def post(client: TestClient, token: str, seq: int, metrics: list[dict[str, Any]]) -> None:
    body = {"batches": [{"seq": seq, "ts_ns": time.time_ns(), "metrics": metrics}]}
    r = client.post("/api/v1/ingest", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


def test_an_agents_labels_never_cost_other_devices_their_samples(
    serve: Callable[..., TestClient], influxdb: Any, victoriametrics: VictoriaMetrics
) -> None:
    stores = [
        StoreSettings(kind="influxdb", url=influxdb.url, database=f"t_{secrets.token_hex(4)}"),
        StoreSettings(kind="victoriametrics", url=victoriametrics.url),
    ]
    client = serve(CONFIG, stores=stores)
    operator = bearer(client, Role.OPERATOR)
    tokens = {
        name: client.post(f"/api/v1/devices/{name}/agent-token", headers=operator).json()["token"]
        for name in ("win", "linux")
    }
    for seq in (1, 2, 3):  # both agents post into the same flushes
        odd = {"name": "disk_percent", "value": 40.0 + seq, "labels": {"mount": WINDOWS_VOLUME}}
        post(client, tokens["win"], seq, [odd, {"name": "cpu_percent", "value": 5.0}])
        post(client, tokens["linux"], seq, [{"name": "cpu_percent", "value": 10.0 + seq}])
    service = client.app.state.service  # type: ignore[attr-defined]
    disk = f'disk_percent{{mount="{WINDOWS_VOLUME.replace(chr(92), chr(92) * 2)}"}}'
    wanted = {("linux", "cpu_percent"): 3, ("win", "cpu_percent"): 3, ("win", disk): 3}
    for store in service.stores:  # the embedded store, InfluxDB 1.6, VictoriaMetrics
        if store.name == "victoriametrics":
            victoriametrics.flush()

        async def counts(store: Any = store) -> dict[tuple[str, str], int]:
            found = {}
            for device, metric in wanted:
                points = await store.points(device, metric, 0, time.time_ns() + 10**9)
                found[(device, metric)] = len(points)
            return found

        def complete(counts: Any = counts) -> bool:
            return bool(portal(client).call(counts) == wanted)

        wait_for(complete, timeout=20, what=f"every device's samples in {store.name}")
    assert service.writer.dropped() == {s.name: 0 for s in service.stores}
