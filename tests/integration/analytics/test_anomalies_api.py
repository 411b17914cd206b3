"""/api/v1/analytics/anomalies over a real service's store: seeded series with spikes
injected at known times (the generator's labels are the truth), the rate per device as
counted from those labels, the events at the spikes, ``status`` left out, the history
before ``from`` used (a spike at ``from`` is still found), 4xx naming the field, and what a
viewer or an outsider can do (read; nothing else)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from tests.conftest import service_of
from tests.integration.conftest import StartApp
from tests.integration.security.conftest import bearer

CONFIG = """
targets:
  - {name: d1, address: 127.0.0.2}
  - {name: d2, address: 127.0.0.3}
"""
NS = 1_000_000_000
STEP_S = 300
DAYS = 10
N = DAYS * 86_400 // STEP_S
SPIKES = [N - 200, N - 150, N - 90, N - 20]  # all in the last day (the default range)
OLD_SPIKE = N - 2 * 288 - 7  # in the history before the range, never reported


def _times(end_s: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    return end_s - (N - np.arange(N, dtype=np.int64)) * STEP_S


def _seed(client: TestClient) -> int:
    """d1: a daily wave with spikes (and a status series); d2: quiet noise. Returns the
    end of the data, epoch seconds."""
    end_s = int(time.time()) // STEP_S * STEP_S
    t = _times(end_s)
    rng = np.random.default_rng(3)
    wave = 40 + 10 * np.sin(2 * np.pi * t / 86_400) + rng.normal(0, 0.5, N)
    wave[[*SPIKES, OLD_SPIKE]] += 10.0
    quiet = 5 + rng.normal(0, 0.2, N)
    samples = []
    for ts, a, b in zip(t.tolist(), wave.tolist(), quiet.tolist(), strict=True):
        samples.append(Sample(DEVICE_METRICS, "d1", "icmp.rtt_avg_ms", a, ts * NS))
        samples.append(Sample(DEVICE_STATUS, "d1", "status", 1.0, ts * NS))
        samples.append(Sample(DEVICE_METRICS, "d2", "tcp.connect_ms", b, ts * NS))
    samples.append(Sample(DEVICE_STATUS, "d1", "status", 0.0, (end_s - 60) * NS))  # an outage
    store = service_of(client).stores[0]
    client.portal.call(store.write, samples)  # type: ignore[union-attr]
    return end_s


@pytest.fixture
def seeded(start_app: StartApp) -> tuple[TestClient, int]:
    client = start_app(CONFIG, name="anomalies.yaml")
    return client, _seed(client)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def test_spikes_in_the_range_are_the_anomalies(seeded: tuple[TestClient, int]) -> None:
    client, end_s = seeded
    start_s = end_s - 86_400
    r = client.get(
        "/api/v1/analytics/anomalies",
        params={"target": "d1", "from": _iso(start_s), "to": _iso(end_s + 1)},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["metric"] for s in body["series"]] == ["icmp.rtt_avg_ms"]  # status left out
    (series,) = body["series"]
    t = _times(end_s)
    in_range = t >= start_s
    assert series["ts"] == (t[in_range] * NS).tolist()
    flagged = {ts // NS for ts, a in zip(series["ts"], series["anomaly"], strict=True) if a}
    assert flagged == {int(t[i]) for i in SPIKES}
    assert body["samples"] == int(in_range.sum()) and body["anomalous"] == len(SPIKES)
    assert body["rate"] == pytest.approx(len(SPIKES) / in_range.sum())
    starts = [datetime.fromisoformat(e["start"]).timestamp() for e in body["events"]]
    assert starts == sorted((float(t[i]) for i in SPIKES), reverse=True)  # newest first
    assert all(0 <= s <= 1 for s in series["score"])


def test_history_before_from_readies_the_baselines(seeded: tuple[TestClient, int]) -> None:
    client, end_s = seeded
    first = int(_times(end_s)[SPIKES[0]])
    # the range starts at the first spike: without history it would be the first sample
    with_history = client.get(
        "/api/v1/analytics/anomalies", params={"target": "d1", "from": _iso(first)}
    ).json()
    no_history = client.get(
        "/api/v1/analytics/anomalies",
        params={"target": "d1", "from": _iso(first), "history": "0s"},
    ).json()
    assert with_history["series"][0]["anomaly"][0] is True
    assert no_history["series"][0]["anomaly"][0] is False  # no model was ready


def test_devices_by_rate_with_their_events(seeded: tuple[TestClient, int]) -> None:
    client, end_s = seeded
    r = client.get(
        "/api/v1/analytics/anomalies/devices",
        params={"from": _iso(end_s - 86_400), "to": _iso(end_s + 1)},
    )
    assert r.status_code == 200, r.text
    devices = r.json()["devices"]
    assert [d["device"] for d in devices] == ["d1", "d2"]
    assert devices[0]["anomalous"] == len(SPIKES) and len(devices[0]["events"]) == len(SPIKES)
    assert devices[1]["rate"] <= 1 / devices[1]["samples"]  # quiet noise: at most a stray one


@pytest.mark.parametrize(
    ("params", "status", "names"),
    [
        ({"target": "d1", "history": "a while"}, 422, "history: 'a while' is not a duration"),
        ({"target": "d1", "history": "400d"}, 422, "history: must lie between 0 and 90d"),
        (
            {"target": "d1", "from": "2026-01-02T00:00:00", "to": "2026-01-01T00:00:00"},
            422,
            "from: must be before",
        ),
        ({"target": "d1", "from": "2020-01-01T00:00:00"}, 422, "from: the range is longer"),
        ({"target": "d1", "to": "0.5"}, 422, "to: not a date and time"),
        ({"target": "nobody"}, 404, "target: no stored series of 'nobody'"),
        ({"target": "d1", "metric": "nope"}, 404, "target: no stored series of metric 'nope'"),
    ],
)
def test_bad_requests_name_the_field(
    seeded: tuple[TestClient, int], params: dict[str, str], status: int, names: str
) -> None:
    client, _ = seeded
    r = client.get("/api/v1/analytics/anomalies", params=params)
    assert r.status_code == status, r.text
    assert names in r.json()["detail"]


def test_a_viewer_reads_an_outsider_does_not(seeded: tuple[TestClient, int]) -> None:
    client, _ = seeded
    viewer = bearer(client, Role.VIEWER)
    anonymous = {"Authorization": ""}
    for path in ("/api/v1/analytics/anomalies?target=d1", "/api/v1/analytics/anomalies/devices"):
        assert client.get(path, headers=viewer).status_code == 200
        assert client.get(path, headers=anonymous).status_code == 401
        assert client.post(path, headers=viewer).status_code in {403, 405}


def test_the_console_lists_devices_by_rate_with_events(seeded: tuple[TestClient, int]) -> None:
    client, end_s = seeded
    r = client.get("/analytics/anomalies")
    assert r.status_code == 200, r.text
    html = r.text
    assert html.index('data-device="d1"') < html.index('data-device="d2"')
    d1 = html[html.index('data-device="d1"') : html.index('data-device="d2"')]
    assert f"{len(SPIKES)} of " in d1 and d1.count("icmp.rtt_avg_ms") == len(SPIKES)
    assert "<script>" not in html and "style=" not in html
    index = client.get("/analytics").text
    assert 'href="/analytics/anomalies"' in index
    assert client.get("/analytics/anomalies?span=1y").status_code == 422


def test_scoring_a_fleet_does_not_hold_the_event_loop(
    seeded: tuple[TestClient, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A viewer asking for every device's rate must not freeze the server: the scoring
    waits here (in its worker thread) until another request has been answered, which could
    never happen if it ran on the event loop."""
    import threading

    from netgauge.analytics import anomalies_service

    client, _ = seeded
    scoring, answered = threading.Event(), threading.Event()
    real = anomalies_service.score_stored

    def held(*args: Any, **kwargs: Any) -> Any:
        scoring.set()
        assert answered.wait(10), "no request was answered while a series was scored"
        return real(*args, **kwargs)

    monkeypatch.setattr(anomalies_service, "score_stored", held)
    results: list[int] = []
    worker = threading.Thread(
        target=lambda: results.append(client.get("/api/v1/analytics/anomalies/devices").status_code)
    )
    worker.start()
    try:
        assert scoring.wait(30), "the scoring never started"
        assert client.get("/api/v1/health").status_code == 200
    finally:
        answered.set()
        worker.join(60)
    assert results == [200]
