"""The jobs pages over a real service: the list, a job's page with runs and history, the form
with its time-window editor, and the preview route that says when a job would run next."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.scheduler.timing import next_due
from netgauge.scheduler.window import TimeWindow
from tests.conftest import wait_for
from tests.integration.conftest import StartApp

CONFIG = """
sites:
  - {name: hq}
targets:
  - {name: loop-a, address: 127.0.0.1, site: hq, tags: [lab]}
  - {name: loop-b, address: 127.0.0.1, site: hq, tags: [lab]}
"""
WINDOW = {
    "start_time": "09:00",
    "end_time": "17:00",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "timezone": "Europe/Berlin",
}


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    return start_app(CONFIG, name="jobs.yaml")


def bearer(client: TestClient, role: Role) -> dict[str, str]:
    token, _ = client.app.state.service.accounts.create_api_token(  # type: ignore[attr-defined]
        f"pages-{role}", role, FIRST_ADMIN, "tests"
    )
    return {"Authorization": f"Bearer {token}"}


def make_job(client: TestClient, port: int, **extra: object) -> dict[str, object]:
    body = {
        "name": "tcp-lab",
        "kind": "tcp",
        "params": {"port": port, "timeout": 2},
        "targets": ["loop-a"],
        "selector": {"tags": ["lab"]},
        "interval": "1h",
        **extra,
    }
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def row_of(html: str, job: str) -> str:
    match = re.search(rf'<tr data-job="{re.escape(job)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {job}"
    return match.group(1)


def test_list_shows_each_job_with_schedule_and_controls(client: TestClient, listener: int) -> None:
    make_job(client, listener, window=WINDOW)
    make_job(client, listener, name="off-job", enabled=False, selector=None)
    html = client.get("/jobs").text
    row = row_of(html, "tcp-lab")
    assert "<code>tcp</code>" in row and "loop-a" in row and "selector tag:lab" in row
    assert "1h" in row and "09:00–17:00 Mon–Fri Europe/Berlin" in row
    assert 'class="badge ok">enabled' in row
    next_run = client.app.state.service.next_runs()["tcp-lab"]  # type: ignore[attr-defined]
    assert f'datetime="{next_run.isoformat()}"' in row
    assert 'data-call="POST /api/v1/jobs/tcp-lab/run"' in row
    assert 'data-call="POST /api/v1/jobs/tcp-lab/disable"' in row
    off = row_of(html, "off-job")
    assert "disabled" in off and 'data-call="POST /api/v1/jobs/off-job/enable"' in off
    assert 'id="new-job"' in html


def test_viewer_sees_no_controls_and_cannot_open_the_form(
    client: TestClient, listener: int
) -> None:
    make_job(client, listener)
    viewer = bearer(client, Role.VIEWER)
    html = client.get("/jobs", headers=viewer).text
    assert "tcp-lab" in html
    assert "New job" not in html and "data-call" not in html and "Run now" not in html
    detail = client.get("/jobs/tcp-lab", headers=viewer).text
    assert 'id="run-now"' not in detail and "/edit" not in detail and "data-call" not in detail
    assert client.get("/jobs/new", headers=viewer).status_code == 403
    assert client.get("/jobs/tcp-lab/edit", headers=viewer).status_code == 403
    operator = bearer(client, Role.OPERATOR)
    assert client.get("/jobs/new", headers=operator).status_code == 200
    assert client.post("/api/v1/jobs/tcp-lab/run", headers=viewer).status_code == 403


def test_run_now_records_a_run_shown_with_per_target_outcomes(
    client: TestClient, listener: int
) -> None:
    make_job(client, listener)
    html = client.get("/jobs/tcp-lab").text
    assert 'id="run-now" data-job="tcp-lab"' in html and 'id="runs-empty"' in html
    assert client.post("/api/v1/jobs/tcp-lab/run").status_code == 202

    def finished() -> dict[str, object] | None:
        items = client.get("/api/v1/jobs/tcp-lab/runs?limit=1").json()["items"]
        return items[0] if items and items[0]["finished_at"] else None

    run = wait_for(finished, what="the manual run to finish")
    assert run["status"] == "ok" and run["targets_ok"] == 2 and run["trigger"] == "manual"
    html = client.get("/jobs/tcp-lab").text
    runs = re.search(r'<table id="runs-table">(.*?)</table>', html, re.S)
    assert runs and f'data-run="{run["id"]}"' in runs.group(1)
    assert "manual" in runs.group(1) and 'class="badge ok">ok' in runs.group(1)
    # the run's own per-target outcomes, recorded with it
    listed = re.search(r'<ul class="outcome-list">(.*?)</ul>', runs.group(1), re.S)
    assert listed and re.findall(r"</span> (loop-[ab])", listed.group(1)) == ["loop-a", "loop-b"]
    outcomes = re.search(r'<table id="target-outcomes">(.*?)</table>', html, re.S)
    assert outcomes
    assert re.findall(r">(loop-[ab])</a>", outcomes.group(1)) == ["loop-a", "loop-b"]
    assert outcomes.group(1).count('class="badge ok">ok') == 2
    # the status filter keeps only matching runs
    assert 'id="runs-empty"' in client.get("/jobs/tcp-lab?status=failed").text


def test_detail_shows_the_configuration_history(client: TestClient, listener: int) -> None:
    make_job(client, listener)
    assert client.patch("/api/v1/jobs/tcp-lab", json={"interval": "5m"}).status_code == 200
    html = client.get("/jobs/tcp-lab").text
    history = html[html.index("Configuration history") :]
    assert "update" in history and "create" in history
    assert "<code>interval</code>" in history
    assert '<code class="old">3600.0</code> → <code class="new">300.0</code>' in history
    missing = client.get("/jobs/nope")
    assert missing.status_code == 404 and "No job named &#39;nope&#39;" in missing.text
    assert client.get("/jobs/nope/edit").status_code == 404


def test_form_prefills_the_window_editor(client: TestClient, listener: int) -> None:
    make_job(client, listener, window=WINDOW)
    html = client.get("/jobs/tcp-lab/edit").text
    assert 'id="job-form"' in html and 'data-mode="edit"' in html and 'id="next-run"' in html
    assert re.search(r'name="window\.start_time" type="time" value="09:00"', html)
    assert re.search(r'name="window\.end_time" type="time" value="17:00"', html)
    checked = re.findall(r'name="window\.days" value="(\w+)" checked', html)
    assert checked == ["mon", "tue", "wed", "thu", "fri"]
    assert 'value="Europe/Berlin"' in html and '<option value="Europe/Berlin">' in html
    assert 'id="use-window" name="use_window" checked' in html
    assert 'data-call="DELETE /api/v1/jobs/tcp-lab"' in html and ">Save</button>" in html
    kinds = re.findall(r'<option value="(\w+)"', html[html.index('id="job-kind"') :])[:8]
    assert {"icmp", "tcp", "http", "snmp", "ssh", "winrm"} <= set(kinds)
    new = client.get("/jobs/new").text
    assert 'data-mode="new"' in new and 'id="delete-job"' not in new
    assert 'id="use-window" name="use_window">' in new  # no window until asked for


def test_preview_matches_the_scheduler_for_a_window(client: TestClient) -> None:
    after = datetime(2026, 3, 27, 16, 30, tzinfo=UTC)  # a Friday, 17:30 in Berlin
    body = {"name": "office", "interval": "2h", "window": WINDOW, "count": 6}
    r = client.post("/api/v1/jobs/preview", json={**body, "after": after.isoformat()})
    assert r.status_code == 200, r.text
    runs = [datetime.fromisoformat(t) for t in r.json()["next_runs"]]
    window = TimeWindow(
        start_time=datetime.strptime("09:00", "%H:%M").time(),
        end_time=datetime.strptime("17:00", "%H:%M").time(),
        days=frozenset(range(5)),
        timezone="Europe/Berlin",
    )
    expected, point = [], after
    for _ in range(6):
        point = next_due("office", 7200, point, window)  # type: ignore[assignment]
        expected.append(point)
    assert runs == expected
    berlin = [t.astimezone(ZoneInfo("Europe/Berlin")) for t in runs]
    # the weekend is skipped; Monday 30 March (after the DST change) opens at 09:00 local
    assert berlin[0].date().isoformat() == "2026-03-30" and berlin[0].hour == 9
    assert all(t.weekday() < 5 and 9 <= t.hour < 17 for t in berlin)
    assert all(b - a >= timedelta(hours=2) for a, b in zip(runs, runs[1:], strict=False))


def test_preview_without_window_and_disabled(client: TestClient) -> None:
    after = datetime(2026, 1, 1, tzinfo=UTC)
    r = client.post(
        "/api/v1/jobs/preview", json={"interval": "5m", "after": after.isoformat(), "count": 3}
    )
    runs = [datetime.fromisoformat(t) for t in r.json()["next_runs"]]
    assert len(runs) == 3 and runs[0] > after
    assert [b - a for a, b in zip(runs, runs[1:], strict=False)] == [timedelta(minutes=5)] * 2
    off = client.post("/api/v1/jobs/preview", json={"interval": "5m", "enabled": False}).json()
    assert off["next_runs"] == [] and "disabled" in off["note"]


def test_preview_and_job_api_name_the_bad_field(client: TestClient, listener: int) -> None:
    bad_interval = client.post("/api/v1/jobs/preview", json={"interval": "soon"})
    assert bad_interval.status_code == 422 and bad_interval.json()["field"] == "body.interval"
    base = {"name": "bad", "kind": "tcp", "params": {"port": listener}, "targets": ["loop-a"]}
    r = client.post("/api/v1/jobs", json={**base, "window": {**WINDOW, "start_time": "25:00"}})
    assert r.status_code == 422
    assert "body.window.start_time" in [e["field"] for e in r.json()["errors"]]
    r = client.post("/api/v1/jobs", json={**base, "interval": "0s"})
    assert r.status_code == 422 and r.json()["field"] == "body.interval"
    assert "between 1s and 7d" in r.json()["detail"]
    r = client.post("/api/v1/jobs", json={**base, "window": {**WINDOW, "timezone": "Mars/Base"}})
    assert r.status_code == 422 and r.json()["field"] == "body.window.timezone"
    r = client.post("/api/v1/jobs", json={**base, "params": {"port": "x"}})
    assert r.status_code == 422 and r.json()["field"].startswith("params")


def test_pages_load_their_script_and_no_inline_code(client: TestClient, listener: int) -> None:
    make_job(client, listener, window=WINDOW)
    for path in ("/jobs", "/jobs/tcp-lab", "/jobs/new", "/jobs/tcp-lab/edit"):
        html = client.get(path).text
        assert re.search(r'<script src="/static/js/jobs\.js\?v=\w+" defer>', html), path
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"\son\w+=|\sstyle=|<style", html), path
    assert client.get("/static/js/jobs.js").status_code == 200


def test_form_fields_are_named_like_the_api_fields(client: TestClient) -> None:
    """ng.bindForm puts a 422 next to the input named like the API's field: every input of
    the form must carry a JobCreate field path (or be the form's own window switch)."""
    from netgauge.config.model import JobConfig, SelectorConfig, WindowConfig
    from netgauge.probes.base import PROBES

    html = client.get("/jobs/new").text
    start = html.index('<form id="job-form"')
    form = html[start : html.index("</form>", start)]  # (the header has a form of its own)
    names = set(re.findall(r'\sname="([\w.]+)"', form)) - {"use_window"}
    nested: dict[str, type[BaseModel]] = {"selector": SelectorConfig, "window": WindowConfig}
    for name in names:
        head, _, rest = name.partition(".")
        assert head in JobConfig.model_fields, name
        if rest and head != "params":
            assert rest in nested[head].model_fields, name
    assert set(JobConfig.model_fields) <= {n.partition(".")[0] for n in names}
    # each kind's settings are its own parameters model's fields, every one of them
    kinds = re.findall(r'<fieldset class="params-kind" data-kind="(\w+)"', form)
    assert sorted(kinds) == sorted(PROBES.names())
    for kind, part in zip(kinds, form.split('<fieldset class="params-kind"')[1:], strict=True):
        fields = PROBES.get(kind).params_model.model_fields
        paths = set(re.findall(r'\sname="params\.([\w.]+)"', part))
        assert {path.partition(".")[0] for path in paths} == set(fields), kind
        # a nested model's part (interfaces.exclude) is a field of that model
        for head, _, rest in (path.partition(".") for path in paths if "." in path):
            model = fields[head].annotation
            assert isinstance(model, type) and rest in model.model_fields, (kind, head, rest)
