"""A device's decided state in a real service: a lab device whose interface goes down is
offline within fail_after x interval of its last answer, with exactly one transition
recorded, and online again once it answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.config.settings import Settings
from tests.conftest import wait_for
from tests.integration.conftest import StartApp
from tests.lab import Lab, missing_requirement

pytestmark = [pytest.mark.privileged, pytest.mark.network]
INTERVAL_S = 1.0


@pytest.fixture
def lab() -> Iterator[Lab]:
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    with Lab(ipv6=False) as built:
        yield built


@pytest.fixture
def client(lab: Lab, start_app: StartApp) -> TestClient:
    (address,) = lab.add_hosts(1)
    text = f"""
targets:
  - {{name: sw1, address: {address}, type: device}}
jobs:
  - {{name: sw1-status, kind: icmp, params: {{count: 1, timeout: 0.3}}, targets: [sw1],
     interval: {INTERVAL_S}}}
"""
    return start_app(text, name="devices.yaml", raise_server_exceptions=False)


def state(client: TestClient) -> str | None:
    states = {s["device"]: s["state"] for s in client.get("/api/v1/devices/states").json()}
    return states.get("sw1")


def history(client: TestClient) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/devices/sw1/history").json())


def test_a_device_whose_interface_fails_is_offline_in_time_once(
    client: TestClient, lab: Lab, settings: Settings
) -> None:
    wait_for(lambda: state(client) == "online", timeout=15, what="sw1 online")
    lab.set_link(up=False)
    down_at = time.time()
    wait_for(lambda: state(client) == "offline", timeout=15, what="sw1 offline")
    offline = history(client)[0]
    assert (offline["previous_state"], offline["new_state"]) == ("online", "offline")
    assert offline["reason"] == f"{settings.device_fail_after} checks in a row without an answer"
    at = datetime.fromisoformat(offline["at"]).timestamp()
    # promised: within fail_after x interval of the last answer (+ one interval of phase
    # and the check's own timeout)
    assert at - down_at <= (settings.device_fail_after + 1) * INTERVAL_S + 0.3 + 0.5

    lab.set_link(up=True)
    wait_for(lambda: state(client) == "online", timeout=15, what="sw1 online again")

    def changes() -> list[tuple[Any, Any]] | None:  # the history is stored a moment later
        found = [(h["previous_state"], h["new_state"]) for h in reversed(history(client))]
        return found if len(found) >= 3 else None

    found = wait_for(changes, timeout=10, what="the recovery in the history")
    assert found == [(None, "online"), ("online", "offline"), ("offline", "online")]

    def status_points() -> Any:
        params = {"target": "sw1", "metric": "status", "measurement": "device_status"}
        points = client.get("/api/v1/metrics", params=params).json()["points"]
        return points if any(p["value"] == 0 for p in points) else None

    points = wait_for(status_points, what="the offline state in device_status")
    assert {p["value"] for p in points} <= {0.0, 1.0}
