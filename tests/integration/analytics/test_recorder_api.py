"""The analytics recorder on a running service: a device's history with spikes injected at
known times (the generator's labels are the truth) gives an ``anomaly_rate`` series and one
``anomaly`` event per spike, read back through /api/v1/metrics and /api/v1/events; a second
pass adds no event; a disk rising at a known rate gives ``disk_full_hours`` as the line's own
arithmetic says; a check that starts failing (its port closed: the kernel refuses) gives one
``error_pattern`` event; the target page shows both kinds in words."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from netgauge.analytics.recorder import Recorded
from netgauge.inventory.event_log import NewEvent, add_once
from netgauge.models import DEVICE_METRICS, Sample
from tests.conftest import service_of
from tests.integration.analytics.conftest import run_job, stored
from tests.integration.conftest import StartApp

NS = 1_000_000_000
STEP_S = 300
DAYS = 10
N = DAYS * 86_400 // STEP_S
SPIKES = [N - 200, N - 150, N - 90, N - 20, N - 3]  # the last one inside the last hour
DISK_START, DISK_PER_HOUR = 50.0, 0.1  # percent, percent per hour


def _config(port: int) -> str:
    return f"""
targets:
  - {{name: d1, address: 127.0.0.1, type: device}}
  - {{name: d2, address: 127.0.0.1, type: device}}
  - {{name: web, address: 127.0.0.1}}
jobs:
  - {{name: tcp-web, kind: tcp, params: {{port: {port}}}, targets: [web], interval: 1h,
     enabled: false}}
"""


def _seed(client: TestClient) -> tuple[np.ndarray[Any, np.dtype[np.int64]], int]:
    """d1: a daily wave with spikes; d2: a disk filling at DISK_PER_HOUR. Written in time
    order, before anything reads. Returns the sample times (epoch s) and the first one."""
    end_s = int(time.time()) // STEP_S * STEP_S
    t = end_s - (N - np.arange(N, dtype=np.int64)) * STEP_S
    rng = np.random.default_rng(3)
    wave = 40 + 10 * np.sin(2 * np.pi * t / 86_400) + rng.normal(0, 0.5, N)
    wave[SPIKES] += 10.0
    disk = DISK_START + DISK_PER_HOUR * (t - t[0]) / 3600
    samples = []
    for ts, a, b in zip(t.tolist(), wave.tolist(), disk.tolist(), strict=True):
        samples.append(Sample(DEVICE_METRICS, "d1", "icmp.rtt_avg_ms", a, ts * NS))
        samples.append(Sample(DEVICE_METRICS, "d2", 'disk_percent{mount="/"}', b, ts * NS))
    client.portal.call(service_of(client).stores[0].write, samples)  # type: ignore[union-attr]
    return t, int(t[0])


def _record(client: TestClient) -> Recorded:
    return client.portal.call(service_of(client).recorder.record_once)  # type: ignore[union-attr]


def _events(client: TestClient, kind: str, target: str | None = None) -> list[dict[str, Any]]:
    params = {"kind": kind} | ({"target": target} if target else {})
    r = client.get("/api/v1/events", params=params)
    assert r.status_code == 200, r.text
    return list(r.json())


def test_recorded_series_and_events(
    start_app: StartApp, web_port: socket.socket, listener: int
) -> None:
    client = start_app(_config(web_port.getsockname()[1]), name="recorder.yaml")
    t, t0 = _seed(client)
    run_job(client, "tcp-web")  # the port listens: no error
    first = _record(client)
    assert first.events_added == len(_events(client, "anomaly"))  # no error pattern yet

    # anomaly_rate at the pass's time: the injected spikes among the samples of its last hour
    (rate,) = stored(client, "d1", "anomaly_rate", 1)
    at_s = rate["ts"] / NS
    last_hour = (t >= at_s - 3600) & (t < at_s)
    spikes_in_hour = sum(1 for i in SPIKES if last_hour[i])
    assert spikes_in_hour == 1
    assert rate["value"] == pytest.approx(spikes_in_hour / last_hour.sum())

    # one event per injected spike (d2's disk is the detector's business, not asserted here)
    anomalies = _events(client, "anomaly", "d1")
    starts = sorted(datetime.fromisoformat(e["at"]).timestamp() for e in anomalies)
    assert starts == [float(t[i]) for i in SPIKES]
    newest = anomalies[0]
    assert newest["data"]["series"] == "icmp.rtt_avg_ms" and newest["data"]["samples"] == 1
    assert newest["data"]["peak_score"] >= 0.5
    assert newest["summary"].startswith("anomaly in icmp.rtt_avg_ms: 1 unusual samples from")

    # the disk: hours until the line reaches 95 %, from the line's own slope
    (hours,) = stored(client, "d2", 'disk_full_hours{mount="/"}', 1)
    level_now = DISK_START + DISK_PER_HOUR * (hours["ts"] / NS - t0) / 3600
    assert hours["value"] == pytest.approx((95.0 - level_now) / DISK_PER_HOUR, rel=0.05)

    # failure risk: what the risk API answers for the same 24 h horizon
    risk = client.get("/api/v1/analytics/risk", params={"horizon": "24h"}).json()
    answered = {d["device"]: d["probability"] for d in risk["devices"]}
    for device in ("d1", "d2"):
        (stored_risk,) = stored(client, device, "failure_risk", 1)
        assert stored_risk["value"] == pytest.approx(answered[device])

    # a second pass finds the same events: none added
    every = len(_events(client, "anomaly"))
    second = _record(client)
    assert second.events_added == 0
    assert len(_events(client, "anomaly", "d1")) == len(SPIKES)
    assert len(_events(client, "anomaly")) == every

    # the check starts failing with a message never seen: one new-pattern event
    web_port.close()
    run_job(client, "tcp-web")
    runs = client.get("/api/v1/jobs/tcp-web/runs").json()["items"]
    outcomes = client.get(f"/api/v1/runs/{runs[0]['id']}/targets").json()
    error = next(o["error"] for o in outcomes if o["target"] == "web")
    assert error and "refused" in error.lower()
    assert _record(client).events_added == 1
    (pattern,) = _events(client, "error_pattern")
    assert pattern["target_name"] == "web"
    assert pattern["data"]["example"] == error and pattern["data"]["targets"] == ["web"]
    assert pattern["summary"].startswith("new error pattern: ")
    assert _record(client).events_added == 0  # and only once
    assert len(_events(client, "error_pattern")) == 1

    # the target pages say it in words
    page = client.get("/devices/d1").text
    assert page.count('data-kind="anomaly"') == len(SPIKES)
    assert "anomaly in icmp.rtt_avg_ms" in page
    web = client.get("/destinations/web").text
    assert 'data-kind="error_pattern"' in web and "new error pattern" in web
    overview = client.get("/").text  # the recent transitions: kind and words
    assert "error pattern" in overview and "new error pattern: " in overview


def test_an_event_from_hostile_text_is_shown_as_text(
    start_app: StartApp, web_port: socket.socket
) -> None:
    """An error message is whatever a target answered: on the pages it stays text."""
    client = start_app(_config(web_port.getsockname()[1]), name="recorder.yaml")
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    data = {"key": "t1", "template": hostile, "example": hostile, "targets": ["web"]}
    event = NewEvent("error_pattern", "web", datetime.now(UTC), data)
    assert add_once(service_of(client).inventory, [event]) == (1, 0)
    (listed,) = _events(client, "error_pattern")
    assert listed["data"]["template"] == hostile  # the API gives it back as it was
    for page in (client.get("/destinations/web").text, client.get("/").text):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert(1)" not in page and "<img src=x" not in page
