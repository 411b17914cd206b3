"""Issue: an agent token could create series without end (a new label value in every
sample, each a series of its own in every store) and fill the disk. A device's agent may
now have ``ingest_max_series_per_device`` series; samples of new ones beyond are refused,
counted and said, and the limit holds across a restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from tests.integration.security.conftest import bearer

CONFIG = "targets: [{name: pc, address: 127.0.0.1, type: device}]\n"


def disks(*mounts: str) -> list[dict[str, Any]]:
    return [{"name": "disk_percent", "value": 50.0, "labels": {"mount": m}} for m in mounts]


def post(client: TestClient, token: str, seq: int, metrics: list[dict[str, Any]]) -> Any:
    body = {"batches": [{"seq": seq, "ts_ns": time.time_ns(), "metrics": metrics}]}
    r = client.post("/api/v1/ingest", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def stored_series(client: TestClient, headers: dict[str, str]) -> set[str]:
    got = client.get("/api/v1/metrics/series", params={"target": "pc"}, headers=headers).json()
    return {s["metric"] for s in got if s["metric"] != "status"}


def test_an_agent_cannot_create_series_without_end(serve: Callable[..., TestClient]) -> None:
    client = serve(CONFIG, ingest_max_series_per_device=5)
    admin = bearer(client, Role.ADMIN)
    token = client.post("/api/v1/devices/pc/agent-token", headers=admin).json()["token"]
    first = post(client, token, 1, disks(*(f"/m{i}" for i in range(10))))
    assert first["stored"] == 5 and len(first["refused"]) == 5
    assert all("ingest_max_series_per_device" in line for line in first["refused"])
    second = post(client, token, 2, disks("/m0", "/m4", "/new"))
    assert second["stored"] == 2 and len(second["refused"]) == 1
    assert stored_series(client, admin) == {f'disk_percent{{mount="/m{i}"}}' for i in range(5)}
    health = client.get("/api/v1/health/details", headers=admin).json()
    assert any("ingest_max_series_per_device" in r for r in health["rejected_samples"])


def test_the_limit_holds_across_a_restart(serve: Callable[..., TestClient], tmp_path: Any) -> None:
    data = tmp_path / "kept"
    client = serve(CONFIG, ingest_max_series_per_device=3, data_dir=data)
    admin = bearer(client, Role.ADMIN)
    token = client.post("/api/v1/devices/pc/agent-token", headers=admin).json()["token"]
    assert post(client, token, 1, disks("/a", "/b", "/c"))["stored"] == 3
    client.__exit__(None, None, None)  # stop it: the samples are written on the way out
    again = serve(CONFIG, ingest_max_series_per_device=3, data_dir=data)
    later = post(again, token, 2, disks("/a", "/d"))
    assert later["stored"] == 1 and len(later["refused"]) == 1
