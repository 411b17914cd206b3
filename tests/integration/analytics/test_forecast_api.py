"""/api/v1/analytics/forecasts over a real service: disk series posted by an agent (hourly,
the last 10 days), each mount's ETA against the line that generated it, soonest first (a
full disk first); a flat mount never fills; bad parameters are 422s naming the field;
anonymous clients are refused."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import wait_for
from tests.integration.conftest import StartApp

HOUR_NS = 3600 * 10**9
DAYS = 10
# mount → (level at the first sample, rise per day); None: flat with noise
MOUNTS: dict[tuple[str, str], tuple[float, float] | None] = {
    ("db1", "/"): (40.0, 2.0),
    ("db1", "/data"): None,
    ("db1", "/var"): (70.0, 1.5),
}
# db2 has one sample, 99 %: full now, first in the fleet's list. (Its history is not
# posted after db1's: the embedded store's hour rollups then miss a second device's
# backfilled hours, a store matter reported separately.)


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    text = """
targets:
  - {name: db1, address: 127.0.0.1, type: device}
  - {name: db2, address: 127.0.0.1, type: device}
alerts:
  - name: disk-full-soon
    condition: {forecast: disk_percent, reaches: 95, within: 20d}
"""
    return start_app(text, name="forecast.yaml", raise_server_exceptions=False)


def first_ns() -> int:
    """The first sample's time: on an hour, DAYS days ago (the store's hour rollups then
    hold one sample each, at its own time)."""
    return (time.time_ns() // HOUR_NS - DAYS * 24) * HOUR_NS


def post_history(client: TestClient, device: str, start_ns: int) -> None:
    rng = np.random.default_rng(len(device))
    token = client.post(f"/api/v1/devices/{device}/agent-token").json()["token"]
    batches = []
    for i in range(DAYS * 24):
        metrics = []
        for (owner, mount), line in MOUNTS.items():
            if owner != device:
                continue
            value = 50 + rng.normal(0, 0.8) if line is None else line[0] + line[1] * i / 24
            metrics.append({"name": "disk_percent", "value": value, "labels": {"mount": mount}})
        batches.append({"seq": i + 1, "ts_ns": start_ns + i * HOUR_NS, "metrics": metrics})
    answer = client.post(
        "/api/v1/ingest",
        json={"agent": {"version": "t", "hostname": device}, "batches": batches},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200 and answer.json()["refused"] == [], answer.text


def at(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def truth(start_ns: int, line: tuple[float, float], limit: float) -> datetime:
    return datetime.fromtimestamp(start_ns / 1e9, UTC) + timedelta(days=(limit - line[0]) / line[1])


def history(client: TestClient) -> int:
    """db1's 10 days posted, db2's one full sample; the start, once the store answers."""
    start = first_ns()
    post_history(client, "db1", start)
    token = client.post("/api/v1/devices/db2/agent-token").json()["token"]
    one = [{"name": "disk_percent", "value": 99.0, "labels": {"mount": "/"}}]
    batch = {"seq": 1, "ts_ns": time.time_ns(), "metrics": one}
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/ingest", json={"batches": [batch]}, headers=headers).is_success

    def stored() -> bool:  # every hour of every series readable from the hour rollups
        for owner, mount in MOUNTS:
            params = {
                "target": owner,
                "metric": f'disk_percent{{mount="{mount}"}}',
                "from": datetime.fromtimestamp(start / 1e9, UTC).isoformat(),
                "step": "1h",
            }
            points = client.get("/api/v1/metrics", params=params).json()["points"]
            if len(points) < DAYS * 24:
                return False
        return True

    wait_for(stored, what="the hour rollups of 3 disk series")
    return start


def test_each_mount_gets_its_generators_eta_soonest_first(client: TestClient) -> None:
    start = history(client)
    body = client.get("/api/v1/analytics/forecasts", params={"limit": 95}).json()
    full, *mounts = body["forecasts"]
    assert (full["target"], full["reached"], full["samples"]) == ("db2", True, 1)
    assert at(full["reaches_at"]) <= datetime.now(UTC)
    assert [f["samples"] for f in mounts] == [DAYS * 24] * 3
    order = [(f["target"], f["labels"]["mount"]) for f in mounts]
    # /var: 70 + 1.5/day → 95 at day 16.7; /: 40 + 2/day → day 27.5; /data: never
    assert order == [("db1", "/var"), ("db1", "/"), ("db1", "/data")]
    for found in mounts[:2]:
        line = MOUNTS[(found["target"], found["labels"]["mount"])]
        assert line is not None
        expected = truth(start, line, 95)
        lead = (expected - datetime.now(UTC)).total_seconds()
        assert abs((at(found["reaches_at"]) - expected).total_seconds()) <= 0.02 * lead
        assert at(found["low"]) <= expected <= at(found["high"])
        assert found["hours_left"] == pytest.approx(lead / 3600, rel=0.03)
        assert found["slope_per_day"] == pytest.approx(line[1], rel=0.01)
    flat = mounts[2]
    assert flat["reaches_at"] is None and flat["low"] is None and flat["high"] is None
    assert "no trend" in flat["reason"]

    # one target, one mount by label
    one = client.get(
        "/api/v1/analytics/forecasts",
        params={"target": "db1", "metric": 'disk_percent{mount="/"}', "limit": 95},
    ).json()
    assert [f["series"] for f in one["forecasts"]] == ['disk_percent{mount="/"}']
    # a limit already passed: /var crossed 80 at day 6.67, in the past
    passed = client.get(
        "/api/v1/analytics/forecasts",
        params={"target": "db1", "metric": 'disk_percent{mount="/var"}', "limit": 80},
    ).json()["forecasts"][0]
    assert passed["reached"] and passed["hours_left"] < 0
    crossed = truth(start, (70.0, 1.5), 80)
    assert abs((at(passed["reaches_at"]) - crossed).total_seconds()) <= 3600


@pytest.mark.parametrize(
    "params, field",
    [
        ({"metric": "disk percent"}, "metric"),
        ({"limit": "nan"}, "limit"),
        ({"window": "5m"}, "window"),
        ({"window": "400d"}, "window"),
        ({"window": "soon"}, "window"),
    ],
)
def test_bad_parameters_name_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    answer = client.get("/api/v1/analytics/forecasts", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and answer.json()["detail"].startswith(f"{field}: ")


def test_unauthenticated_clients_are_refused(start_app: StartApp) -> None:
    anonymous = start_app("", name="anon.yaml", login=None)
    assert anonymous.get("/api/v1/analytics/forecasts").status_code == 401


def test_console_lists_the_soonest_and_the_device_page_its_mounts(client: TestClient) -> None:
    history(client)
    page = client.get("/analytics/forecasts")
    assert page.status_code == 200, page.text
    table = page.text[page.text.index('id="forecasts"') :]
    # the full disk, then /var, /, and the flat /data: each device's link, in that order
    places = [table.index(t) for t in ("mount=/<", "mount=/var<", "mount=/<", "mount=/data<")]
    assert table.index('href="/devices/db2"') < table.index('href="/devices/db1"')
    assert places[1] < table.index("mount=/<", places[1]) < places[3]
    assert "never" in table and "reached" in table
    assert "<script>" not in page.text and "style=" not in page.text
    index = client.get("/analytics").text
    assert 'href="/analytics/forecasts"' in index
    device = client.get("/devices/db1").text
    card = device[device.index('id="disk-forecast"') :]
    assert card.index("mount=/var") < card.index("mount=/<") < card.index("mount=/data")
    assert 'href="/devices/' not in card[: card.index("</section>")]
    bad = client.get("/analytics/forecasts", params={"limit": "lots"})
    assert bad.status_code == 200 and "limit: &#39;lots&#39; is not a number" in bad.text


def test_the_alert_condition_fires_for_the_mounts_that_fill_within_its_horizon(
    client: TestClient,
) -> None:
    start = history(client)  # /var meets 95 in 6.7 days from now, / in 17.5, /data never
    token = client.post("/api/v1/devices/db1/agent-token").json()["token"]
    seq = DAYS * 24

    def now_on(line: tuple[float, float] | None) -> float:
        days = (time.time_ns() - start) / HOUR_NS / 24
        return 50.0 if line is None else line[0] + line[1] * days

    def firing() -> set[str]:
        nonlocal seq  # each batch is a result the rules see (the first queues the forecasts)
        seq += 1
        metrics = [
            {"name": "disk_percent", "value": now_on(line), "labels": {"mount": mount}}
            for (_, mount), line in MOUNTS.items()
        ]
        batch = {"seq": seq, "ts_ns": time.time_ns(), "metrics": metrics}
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/v1/ingest", json={"batches": [batch]}, headers=headers).is_success
        found = client.get("/api/v1/alerts", params={"target": "db1"}).json()
        return {a["labels"]["mount"] for a in found if a["labels"]["alertname"] == "disk-full-soon"}

    # within 20 days: /var (6.7 days) and / (17.5 days); /data never
    wait_for(lambda: firing() == {"/", "/var"}, what="the forecast alerts of / and /var")
    found = client.get("/api/v1/alerts", params={"target": "db1"}).json()
    var = next(a for a in found if a["labels"]["mount"] == "/var")
    said = re.fullmatch(r"db1: disk_percent reaches 95 in (\d+) h", var["annotations"]["summary"])
    left = (truth(start, (70.0, 1.5), 95) - datetime.now(UTC)).total_seconds() / 3600
    assert said is not None and abs(int(said.group(1)) - left) <= 2
