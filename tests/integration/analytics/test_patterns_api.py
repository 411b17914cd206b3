"""/api/v1/analytics/patterns over a real service's inventory: job runs and error-log rows
written at known times from a few message templates (the writer's choice of template is
the truth), their counts in the window and the one before, trends, targets, new-pattern
events; skips and ok outcomes left out, run errors not counted twice; the error log for
admins only; 4xx naming the field; what a viewer or an outsider can do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from netgauge.inventory.tables import ErrorLog, JobRun, JobRunTarget
from tests.conftest import service_of
from tests.integration.conftest import StartApp
from tests.integration.security.conftest import bearer

# the last full hour: the service's housekeeping deletes runs past their retention, so the
# rows are written relative to the real clock, and asked about at UNTIL
UNTIL = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
PATH = "/api/v1/analytics/patterns"


def _run(
    client: TestClient,
    hours_ago: float,
    outcomes: list[tuple[str, str, str | None]],
    status: str = "partial",
    error: str | None = None,
) -> None:
    """One job run ``hours_ago`` before UNTIL with its per-target (name, status, error)."""
    at = UNTIL - timedelta(hours=hours_ago)
    failed = sum(1 for _, s, _ in outcomes if s not in ("ok", "skipped"))
    with service_of(client).inventory.session() as s:
        run = JobRun(
            job_name="checks",
            scheduled_at=at,
            started_at=at,
            finished_at=at,
            status=status,
            targets_ok=sum(1 for _, st, _ in outcomes if st == "ok"),
            targets_failed=failed,
            error=error if error is not None else "; ".join(e for _, _, e in outcomes if e),
        )
        s.add(run)
        s.flush()
        s.add_all(
            JobRunTarget(run_id=run.id, target=t, status=st, error=e) for t, st, e in outcomes
        )


def _log(client: TestClient, hours_ago: float, message: str) -> None:
    with service_of(client).inventory.session() as s:
        s.add(
            ErrorLog(
                at=UNTIL - timedelta(hours=hours_ago),
                category="database",
                severity="error",
                message=message,
            )
        )


def _timeout(target: str, n: int) -> tuple[str, str, str]:
    return (target, "timeout", f"Connection to 10.0.0.{n}:22 timed out after 5.0 s")


@pytest.fixture
def seeded(start_app: StartApp) -> TestClient:
    client = start_app("", name="patterns.yaml")
    # the window (the last 24 h): 10 timeouts on a/b/c, 1 refusal, 1 new SNMP auth failure
    for i in range(10):
        _run(client, 1 + i, [_timeout("abc"[i % 3], i), ("ok-target", "ok", None)])
    _run(client, 3.5, [("d", "failed", "cannot reach 10.9.9.9:443: Connection refused")])
    _run(client, 2.0, [("e", "failed", "wrong digest (authentication failed: check the key)")])
    # the window before: 2 timeouts, 4 refusals; and the DNS failure of days ago, not since
    for i in range(2):
        _run(client, 30 + i, [_timeout("a", 50 + i)])
    for i in range(4):
        _run(client, 30 + i, [("d", "failed", f"cannot reach 10.9.9.{i}:443: Connection refused")])
    _run(
        client, 60, [("f", "failed", "cannot resolve core-sw1.example: Name or service not known")]
    )
    _run(client, 70, [("f", "failed", "cannot resolve fw2.example: Name or service not known")])
    # never errors: a calendar skip, a run skipped as a whole, ok outcomes
    _run(client, 5, [("g", "skipped", "site closed")], status="skipped", error="site closed")
    # a run that failed with no targets at all: its own error counts (twice, 4 h apart)
    _run(client, 4, [], status="failed", error="the job selects no targets")
    _run(client, 8, [], status="failed", error="the job selects no targets")
    # the error log (admins only)
    _log(client, 6, "GET /api/v1/targets/x: OperationalError('database is locked')")
    return client


def _at(text: object) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _patterns(client: TestClient, **params: object) -> dict[str, dict[str, object]]:
    r = client.get(PATH, params={"until": UNTIL.isoformat(), **params})
    assert r.status_code == 200, r.text
    return {p["template"]: p for p in r.json()["patterns"]}


def test_counts_trends_and_targets_of_each_template(seeded: TestClient) -> None:
    got = _patterns(seeded)
    timeouts = got["Connection to <IP> timed out after <DUR>"]
    assert (timeouts["count"], timeouts["previous"], timeouts["trend"]) == (10, 2, "rising")
    assert timeouts["targets"] == [
        {"target": "a", "count": 4},
        {"target": "b", "count": 3},
        {"target": "c", "count": 3},
    ]
    assert timeouts["targets_total"] == 3 and timeouts["sources"] == {"target": 10}
    assert sum(cast(list[int], timeouts["buckets"])) == 10
    assert _at(timeouts["first_seen"]) == UNTIL - timedelta(hours=31)
    assert _at(timeouts["last_seen"]) == UNTIL - timedelta(hours=1)
    refused = got["cannot reach <IP>: Connection refused"]
    assert (refused["count"], refused["previous"], refused["trend"]) == (1, 4, "falling")
    new = got["wrong digest (authentication failed: check the key)"]
    assert (new["count"], new["previous"], new["trend"]) == (1, 0, "new")
    dns = got["cannot resolve <*> Name or service not known"]
    assert (dns["count"], dns["previous"], dns["trend"]) == (0, 0, "steady")
    job = got["the job selects no targets"]
    assert (job["count"], job["sources"], job["targets"]) == (2, {"job": 2}, [])
    assert job["trend"] == "new"  # first seen 8 h ago


def test_skips_and_ok_outcomes_are_not_errors_and_runs_are_not_counted_twice(
    seeded: TestClient,
) -> None:
    body = seeded.get(PATH, params={"until": UNTIL.isoformat()}).json()
    texts = " | ".join(p["template"] + " " + p["example"] for p in body["patterns"])
    assert "site closed" not in texts
    # a run's error joins its targets' errors: only the targets' are read
    assert body["in_window"] == 10 + 1 + 1 + 2 + 1  # timeouts, refused, digest, job, log
    assert body["messages"] == body["in_window"] + 2 + 4 + 2


def test_new_pattern_events_are_the_templates_first_seen_in_the_window(
    seeded: TestClient,
) -> None:
    body = seeded.get(PATH, params={"until": UNTIL.isoformat()}).json()
    # in the order they appeared: the job's error 8 h ago, the log's 6 h ago, SNMP's 2 h ago
    assert [(n["template"], n["target"], n["source"]) for n in body["new_patterns"]] == [
        ("the job selects no targets", None, "job"),
        ("GET <PATH>: OperationalError('database is locked')", None, "log"),
        ("wrong digest (authentication failed: check the key)", "e", "target"),
    ]
    digest = next(n for n in body["new_patterns"] if n["source"] == "target")
    assert _at(digest["at"]) == UNTIL - timedelta(hours=2)
    assert digest["text"] == "wrong digest (authentication failed: check the key)"


def test_a_shorter_window_moves_the_comparison(seeded: TestClient) -> None:
    got = _patterns(seeded, hours=3)  # [09:00, 12:00) against [06:00, 09:00)
    timeouts = got["Connection to <IP> timed out after <DUR>"]
    assert (timeouts["count"], timeouts["previous"]) == (3, 3)  # 1, 2, 3 h ago; 4, 5, 6 h


def test_the_error_log_is_for_admins_only(seeded: TestClient) -> None:
    viewer = bearer(seeded, Role.VIEWER)
    r = seeded.get(PATH, params={"until": UNTIL.isoformat()}, headers=viewer)
    assert r.status_code == 200
    body = r.json()
    assert body["sources"] == ["target", "job"]
    assert not any("database is locked" in p["example"] for p in body["patterns"])
    admin = seeded.get(PATH, params={"until": UNTIL.isoformat()}).json()
    assert admin["sources"] == ["target", "job", "log"]
    assert any("database is locked" in p["example"] for p in admin["patterns"])


def test_an_outsider_reads_nothing_and_a_viewer_changes_nothing(seeded: TestClient) -> None:
    assert seeded.get(PATH, headers={"Authorization": "Bearer nope"}).status_code == 401
    viewer = bearer(seeded, Role.VIEWER)
    assert seeded.post(PATH, headers=viewer).status_code in {403, 405}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"hours": "0"}, "query.hours"),
        ({"hours": "1000"}, "query.hours"),
        ({"history_days": "365"}, "query.history_days"),
        ({"until": "yesterday"}, "query.until"),
        ({"until": "0001-01-01"}, "query.until"),
        ({"until": "1e20"}, "query.until"),
        ({"limit": "0"}, "query.limit"),
    ],
)
def test_bad_parameters_name_the_field(
    start_app: StartApp, params: dict[str, str], field: str
) -> None:
    client = start_app("", name="patterns.yaml")
    r = client.get(PATH, params=params)
    assert r.status_code == 422
    assert r.json()["field"] == field and r.json()["detail"].startswith(field)


def test_until_takes_epoch_seconds_too(seeded: TestClient) -> None:
    r = seeded.get(PATH, params={"until": str(int(UNTIL.timestamp()))})
    assert r.status_code == 200 and _at(r.json()["until"]) == UNTIL


def test_limit_keeps_the_busiest(seeded: TestClient) -> None:
    r = seeded.get(PATH, params={"until": UNTIL.isoformat(), "limit": 1})
    assert [p["template"] for p in r.json()["patterns"]] == [
        "Connection to <IP> timed out after <DUR>"
    ]
    assert len(r.json()["new_patterns"]) == 1 and r.json()["new_total"] == 3


def test_the_console_view_shows_the_templates_and_the_new_ones(seeded: TestClient) -> None:
    page = seeded.get("/analytics/patterns")
    assert page.status_code == 200
    html = page.text
    # the page's window ends now, the rows were written up to an hour before: all in it
    assert "Connection to &lt;IP&gt; timed out after &lt;DUR&gt;" in html
    assert 'id="new-patterns"' in html and "wrong digest" in html
    assert "database is locked" in html  # the admin reads the error log
    assert "<script>" not in html and " style=" not in html
    viewer = bearer(seeded, Role.VIEWER)
    seen = seeded.get("/analytics/patterns?span=7d", headers=viewer).text
    assert "Connection to &lt;IP&gt;" in seen and "database is locked" not in seen
    assert seeded.get("/analytics/patterns?span=2y").status_code == 422
    assert 'href="/analytics/patterns"' in seeded.get("/analytics").text
