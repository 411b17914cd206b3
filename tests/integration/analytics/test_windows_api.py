"""/api/v1/analytics/windows on a real service: a site with office hours in Berlin, four
weeks of interface traffic and job runs written into its stores, and the windows the API
proposes compared with what the generator made quiet and reliable."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.inventory.tables import JobRun
from netgauge.models import DEVICE_METRICS, Sample
from tests.integration.conftest import StartApp

BERLIN = ZoneInfo("Europe/Berlin")
CONFIG = """
schedules:
  - name: office
    open: [{days: weekdays, start: "08:00", end: "18:00"}]
    peak: [{days: weekdays, start: "10:00", end: "12:00"}]
sites:
  - {name: hq, timezone: Europe/Berlin, schedule: office}
  - {name: branch, timezone: UTC}
targets:
  - {name: gw, address: 127.0.0.1, type: device, site: hq}
  - {name: edge2, address: 127.0.0.2, type: device, site: branch}
jobs:
  - {name: backup, kind: tcp, params: {port: 9}, targets: [gw], interval: 7d, run_when: closed,
     enabled: false}
  - {name: spread, kind: tcp, params: {port: 9}, targets: [gw, edge2], interval: 7d,
     enabled: false}
"""
QUIET = {(1, 3), (1, 4)}  # Tuesday 03:00-05:00 local: little traffic, runs never fail
RISKY = {(2, 3), (2, 4)}  # Wednesday 03:00-05:00: as quiet, but every run failed
BUSY_BUT_OPEN = (0, 12)  # Monday noon: the quietest hour of all, but the office is open


def _traffic(local: datetime) -> float:
    key = (local.weekday(), local.hour)
    if key == BUSY_BUT_OPEN:
        return 1.0
    return 10.0 if key in QUIET | RISKY else 1000.0


def _seed(client: TestClient) -> None:
    """Four weeks of hourly traffic of gw (two interfaces) and an hourly backup run; two
    weeks of edge2's CPU."""
    service = client.app.state.service  # type: ignore[attr-defined]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    samples, runs = [], []
    for h in range(1, 4 * 7 * 24 + 1):
        at = now - timedelta(hours=h)
        local = at.astimezone(BERLIN)
        ts = int(at.timestamp() * 1e9) + 60 * 10**9
        for interface in ("eth0", "eth1"):
            metric = f'net_in_bytes_per_sec{{interface="{interface}"}}'
            samples.append(Sample(DEVICE_METRICS, "gw", metric, _traffic(local) / 2, ts))
        failed = (local.weekday(), local.hour) in RISKY
        started = at + timedelta(minutes=5)
        runs.append(
            JobRun(
                job_name="backup", trigger="schedule", scheduled_at=started, started_at=started,
                finished_at=started + timedelta(minutes=3), status="failed" if failed else "ok",
            )
        )  # fmt: skip
    for h in range(1, 2 * 7 * 24 + 1):  # edge2 (branch, UTC): two weeks of CPU only
        at = now - timedelta(hours=h)
        value = 5.0 if (at.weekday(), at.hour) == (4, 13) else 90.0
        for minute in (10, 40):
            ts = int((at + timedelta(minutes=minute)).timestamp() * 1e9)
            samples.append(Sample(DEVICE_METRICS, "edge2", "cpu_percent", value, ts))
    # written at once, before the store rolls hours up (history written later than its
    # rollups is read raw only by raw queries)
    client.portal.call(service.stores[0].write, samples)  # type: ignore[union-attr]
    with service.inventory.session() as s:
        s.add_all(runs)


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    c = start_app(CONFIG, name="windows.yaml", raise_server_exceptions=False)
    _seed(c)
    return c


def _closed(local: datetime) -> bool:
    return local.weekday() >= 5 or not 8 <= local.hour < 18


def test_a_closed_hours_job_gets_the_quiet_reliable_night(client: TestClient) -> None:
    r = client.get("/api/v1/analytics/windows", params={"job": "backup", "duration": "2h"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["site"], body["schedule"], body["timezone"]) == ("hq", "office", "Europe/Berlin")
    assert body["load_source"] == "traffic" and body["run_when"] == "closed"
    windows = body["windows"]
    assert len(windows) == 10
    first = windows[0]
    local = datetime.fromisoformat(first["local_start"])
    assert (local.weekday(), local.hour) == (1, 3)
    assert datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"]) == (
        timedelta(hours=2)
    )
    assert first["start"].endswith("Z") and local.utcoffset() in (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    # 4 weeks of one run an hour: 8 runs in its two hours, none failed
    assert first["runs"] == 8 and first["failed"] == 0
    assert first["reason"].startswith("Tue 03:00–05:00: site closed, ")
    assert first["reason"].endswith("of weekly traffic, 0 of 8 runs failed")
    assert first["confidence"] == pytest.approx(8 / 18, abs=1e-3)  # runs: 8 / (8 + 10)
    assert first["score"] == 100.0
    # the equally quiet Wednesday, where every run failed, comes after both Tuesdays
    ranked = [
        (datetime.fromisoformat(w["local_start"]).weekday(), w["local_start"]) for w in windows
    ]
    assert [day for day, _ in ranked[:2]] == [1, 1]
    for w in windows:  # inside the office's closed hours, every 5 minutes
        at = datetime.fromisoformat(w["start"])
        while at < datetime.fromisoformat(w["end"]):
            assert _closed(at.astimezone(BERLIN)), w["reason"]
            at += timedelta(minutes=5)
        now = datetime.fromisoformat(body["generated_at"])
        assert now <= datetime.fromisoformat(w["start"])
        assert datetime.fromisoformat(w["end"]) <= now + timedelta(days=14)


def test_a_maintenance_task_at_a_site_off_peak(client: TestClient) -> None:
    r = client.get("/api/v1/analytics/windows", params={"site": "hq", "duration": "90m"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["job"] is None and body["run_when"] == "off_peak"
    assert body["duration_s"] == 5400
    assert body["runs_counted"] == 4 * 7 * 24  # the backup covers the site's device
    # Monday noon is open and not peak, but the hour after it is busy: 90 min from Tuesday 03:00
    first = datetime.fromisoformat(body["windows"][0]["local_start"])
    assert (first.weekday(), first.hour) == (1, 3)
    r = client.get(
        "/api/v1/analytics/windows", params={"site": "hq", "duration": "2h", "run_when": "closed"}
    )
    local = datetime.fromisoformat(r.json()["windows"][0]["local_start"])
    assert (local.weekday(), local.hour) == (1, 3)


@pytest.mark.parametrize(
    ("params", "status", "field", "words"),
    [
        ({}, 422, "job", "give a job, or a site"),
        ({"site": "hq"}, 422, "duration", "needs one"),
        ({"site": "hq", "duration": "soon"}, 422, "duration", "not a duration"),
        ({"site": "hq", "duration": "30d"}, 422, "duration", "between 5m and 7d"),
        ({"site": "hq", "duration": "1s"}, 422, "duration", "between 5m and 7d"),
        ({"job": "spread"}, 422, "site", "2 sites"),
        ({"job": "backup", "site": "branch"}, 422, "site", "no target at site 'branch'"),
        ({"job": "nope"}, 404, None, "nope"),
        ({"site": "nowhere", "duration": "1h"}, 404, None, "nowhere"),
        ({"job": "backup", "run_when": "sometimes"}, 422, "query.run_when", ""),
        ({"job": "backup", "limit": "0"}, 422, "query.limit", "at least 1"),
        ({"job": "x" * 129}, 422, "query.job", "at most 128"),
    ],
)
def test_bad_questions_get_a_4xx_naming_the_field(
    client: TestClient, params: dict[str, str], status: int, field: str | None, words: str
) -> None:
    r = client.get("/api/v1/analytics/windows", params=params)
    assert r.status_code == status, r.text
    body = r.json()
    assert words in body["detail"]
    if field is not None:
        assert body["field"] == field


def test_a_job_spanning_sites_is_answered_per_site(client: TestClient) -> None:
    r = client.get("/api/v1/analytics/windows", params={"job": "spread", "site": "branch"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["site"] == "branch" and body["timezone"] == "UTC"
    assert body["load_source"] == "CPU" and body["runs_counted"] == 0
    assert body["duration_s"] == 3600  # no runs: an hour
    assert body["windows"][0]["reason"].endswith("no run history")


def test_viewers_may_read_and_strangers_may_not(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    token, _ = service.accounts.create_api_token("viewer", Role.VIEWER, FIRST_ADMIN, "tests")
    headers = {"Authorization": f"Bearer {token}"}
    params = {"site": "hq", "duration": "1h"}
    assert (
        client.get("/api/v1/analytics/windows", params=params, headers=headers).status_code == 200
    )
    del client.headers["Authorization"]
    assert client.get("/api/v1/analytics/windows", params=params).status_code == 401


def test_the_console_view_shows_the_ranked_windows_with_reasons(client: TestClient) -> None:
    r = client.get("/analytics/windows", params={"job": "backup", "duration": "2h"})
    assert r.status_code == 200, r.text
    assert 'id="windows-table"' in r.text
    assert "Tue 03:00–05:00: site closed, " in r.text
    assert "Europe/Berlin" in r.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text)  # CSP: no inline code or style
    assert not re.search(r"\son\w+=|\sstyle=|<style", r.text)
    bad = client.get("/analytics/windows", params={"site": "hq", "duration": "soon"})
    assert bad.status_code == 200 and 'id="windows-problem"' in bad.text
    assert "duration: &#39;soon&#39; is not a duration" in bad.text
    assert 'href="/analytics/windows"' in client.get("/analytics").text
    assert 'href="/analytics/windows?job=backup"' in client.get("/jobs/backup").text


def test_without_traffic_the_load_is_the_devices_cpu(client: TestClient) -> None:
    """edge2 (site branch, UTC) stores only CPU: busy 90 % but for Fridays 13:00-14:00 (5 %)."""
    r = client.get("/api/v1/analytics/windows", params={"site": "branch", "duration": "1h"})
    body = r.json()
    assert body["load_source"] == "CPU"
    first = datetime.fromisoformat(body["windows"][0]["local_start"])
    assert (first.weekday(), first.hour) == (4, 13)
    assert "of weekly CPU" in body["windows"][0]["reason"]
    assert body["windows"][0]["confidence"] == 0.5  # two weeks of the four for full trust
