"""Site schedules through the API and in the runner: CRUD with errors naming the field, the
14-day calendar, jobs that run only when the site is open (skipped runs recorded with the
reason), maintenance that pauses a job or mutes its alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.conftest import wait_for
from tests.integration.conftest import StartApp


def hours_from_now(h0: int, h1: int) -> dict[str, str]:
    """Opening hours h0..h1 hours from now (UTC wall times), every day."""
    now = datetime.now(UTC)

    def fmt(h: int) -> str:
        return (now + timedelta(hours=h)).strftime("%H:00")

    return {"days": "daily", "start": fmt(h0), "end": fmt(h1)}


@pytest.fixture
def client(listener: int, start_app: StartApp) -> TestClient:
    closed_now = hours_from_now(2, 4)  # open later today: closed now
    text = f"""
schedules:
  - name: office
    open: [{{days: daily, start: "{closed_now["start"]}", end: "{closed_now["end"]}"}}]
sites:
  - {{name: hq, timezone: UTC, schedule: office}}
  - {{name: lab, timezone: Europe/Berlin}}
targets:
  - {{name: gw, address: 127.0.0.1, site: hq}}
  - {{name: box, address: 127.0.0.1, site: lab}}
jobs:
  - {{name: tcp-open, kind: tcp, params: {{port: {listener}}}, targets: [gw], interval: 1h,
     run_when: open}}
  - {{name: tcp-always, kind: tcp, params: {{port: {listener}}}, targets: [gw, box],
     interval: 1h}}
"""
    return start_app(text, name="s.yaml", raise_server_exceptions=False)


def finished_run(client: TestClient, job: str) -> dict[str, Any]:
    """Run ``job`` now and wait for the run's record."""
    assert client.post(f"/api/v1/jobs/{job}/run").status_code == 202

    def done() -> dict[str, Any] | None:
        runs = client.get(f"/api/v1/jobs/{job}/runs").json()["items"]
        return runs[0] if runs and runs[0]["status"] != "running" else None

    return wait_for(done, timeout=20, what=f"a finished run of {job}")


def test_a_job_that_runs_when_open_is_skipped_with_the_reason(client: TestClient) -> None:
    run = finished_run(client, "tcp-open")
    assert run["status"] == "skipped"
    assert "site hq (office, UTC) is closed" in run["error"]
    assert "runs when open" in run["error"]
    outcomes = client.get(f"/api/v1/runs/{run['id']}/targets").json()
    assert [(o["target"], o["status"]) for o in outcomes] == [("gw", "skipped")]
    always = finished_run(client, "tcp-always")
    assert always["status"] == "ok" and always["targets_ok"] == 2
    # open the site now: the next run goes ahead
    body = {"name": "office", "open": [hours_from_now(-1, 1)]}
    assert client.put("/api/v1/schedules/office", json=body).status_code == 200
    assert client.post("/api/v1/jobs/tcp-open/run").status_code == 202
    wait_for(
        lambda: client.get("/api/v1/jobs/tcp-open/runs").json()["items"][0]["status"] == "ok",
        timeout=20,
        what="a run now that the site is open",
    )


def test_maintenance_pauses_a_job_that_says_so_and_mutes_alerts(client: TestClient) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None, microsecond=0)
    body = {
        "name": "office",
        "maintenance": [
            {"name": "patch", "rrule": "FREQ=DAILY", "start": start.isoformat(), "duration": "1h"}
        ],
    }
    assert client.put("/api/v1/schedules/office", json=body).status_code == 200
    answer = client.patch("/api/v1/jobs/tcp-always", json={"maintenance": "pause"})
    assert answer.status_code == 200, answer.text
    assert client.post("/api/v1/jobs/tcp-always/run").status_code == 202

    def newest() -> dict[str, Any] | None:
        runs = client.get("/api/v1/jobs/tcp-always/runs").json()["items"]
        fresh = [r for r in runs if r["trigger"] == "manual" and r["status"] != "running"]
        return fresh[0] if fresh else None

    run = wait_for(newest, timeout=20, what="the manual run")
    assert run["status"] == "ok"  # what ran went well; the skipped target is listed
    outcomes = {o["target"]: o for o in client.get(f"/api/v1/runs/{run['id']}/targets").json()}
    assert outcomes["gw"]["status"] == "skipped"
    assert "in maintenance 'patch' until" in outcomes["gw"]["error"]
    assert outcomes["box"]["status"] == "ok"  # another site: not in maintenance
    service = client.app.state.service  # type: ignore[attr-defined]
    assert service.calendars.muted("hq", datetime.now(UTC)).startswith("maintenance 'patch'")
    assert service.calendars.muted("lab", datetime.now(UTC)) is None


def test_the_calendar_of_a_site_for_14_days_in_its_zone(client: TestClient) -> None:
    body = {
        "name": "office",
        "open": [{"days": "weekdays", "start": "08:00", "end": "18:00"}],
        "peak": [{"days": "weekdays", "start": "09:00", "end": "11:00"}],
        "maintenance": [
            {
                "name": "patch",
                "rrule": "FREQ=WEEKLY;BYDAY=SU",
                "start": "2026-03-01T02:00",
                "duration": "2h",
            }
        ],
        "holidays": {"country": "DE", "subdiv": "BE"},
    }
    assert client.put("/api/v1/schedules/office", json=body).status_code == 200
    site = {"name": "lab", "timezone": "Europe/Berlin", "schedule": "office"}
    assert client.put("/api/v1/sites/lab", json=site).status_code == 200
    cal = client.get(
        "/api/v1/sites/lab/calendar", params={"start": "2026-03-23T12:00:00Z", "days": 14}
    ).json()
    assert cal["timezone"] == "Europe/Berlin" and cal["schedule"] == "office"
    segments = cal["segments"]
    first, last = segments[0], segments[-1]
    assert first["start"] == "2026-03-23T00:00:00+01:00"
    assert last["end"] == "2026-04-06T00:00:00+02:00"  # after the spring change
    states = [s["state"] for s in segments]
    assert states.count("maintenance") == 2
    holidays = {s["detail"] for s in segments if s["state"] == "holiday"}
    assert holidays == {"Good Friday"}  # 2026-04-03; Easter Monday (04-06) is the day after


@pytest.mark.parametrize(
    "path, body, status, field",
    [
        ("/api/v1/schedules/x", {"name": "x", "timezone": "Nowhere/City"}, 422, "body.timezone"),
        (
            "/api/v1/schedules/x",
            {
                "name": "x",
                "maintenance": [
                    {"rrule": "FREQ=SECONDLY", "start": "2026-01-01T00:00", "duration": "1h"}
                ],
            },
            422,
            "body.maintenance.0.rrule",
        ),
        ("/api/v1/schedules/x", {"name": "y"}, 422, "name"),
        ("/api/v1/sites/hq", {"name": "hq", "schedule": "ghost"}, 422, "schedule"),
    ],
)
def test_bad_schedules_name_the_field(
    client: TestClient, path: str, body: dict[str, Any], status: int, field: str
) -> None:
    answer = client.put(path, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field


def test_a_schedule_in_use_cannot_be_deleted(client: TestClient) -> None:
    answer = client.delete("/api/v1/schedules/office")
    assert answer.status_code == 409 and "hq" in answer.json()["detail"]


def test_viewers_read_calendars_but_cannot_change_them(client: TestClient) -> None:
    from netgauge.auth.accounts import FIRST_ADMIN
    from netgauge.auth.roles import Role

    service = client.app.state.service  # type: ignore[attr-defined]
    token, _ = service.accounts.create_api_token("viewer", Role.VIEWER, FIRST_ADMIN, "tests")
    client.headers["Authorization"] = f"Bearer {token}"
    assert client.get("/api/v1/sites/hq/calendar").status_code == 200
    assert client.put("/api/v1/schedules/office", json={"name": "office"}).status_code == 403
    assert (
        client.post(
            "/api/v1/silences",
            json={"matchers": [{"name": "target", "value": "gw"}], "duration": "1h"},
        ).status_code
        == 403
    )


def test_zone_offsets_in_the_calendar_are_the_sites() -> None:
    z = ZoneInfo("Europe/Berlin")
    assert datetime(2026, 3, 23, tzinfo=z).isoformat() == "2026-03-23T00:00:00+01:00"
