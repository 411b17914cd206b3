"""The Destinations and Devices pages over a real service: the list's search, filters,
sorting and paging; what each role sees; the add/edit form and the API answers its script
maps to fields; "Test now" (runs the covering jobs once, stores nothing)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.models import ProbeResult, ProbeStatus, now_ns
from netgauge.service import Service
from tests.integration.conftest import StartApp

N = 120  # destinations t000..t119; every third at site "hq", tags by i % 4


def _config(extra: str = "") -> str:
    lines = ["sites:", "  - {name: hq}", "  - {name: lab}", "targets:"]
    for i in range(N):
        site = "hq" if i % 3 == 0 else "lab"
        # addresses run backwards, so sorting by address is not sorting by name
        lines.append(
            f"  - {{name: t{i:03d}, address: 127.0.{(N - i) // 250}.{(N - i) % 250}, "
            f"site: {site}, tags: [tag{i % 4}]}}"
        )
    lines.append("  - {name: router1, address: 127.0.0.1, type: device, site: hq}")
    return "\n".join(lines) + "\n" + extra


def _client(settings: Settings, config: str) -> TestClient:
    service = Service(settings, load_config_text(config, "pages.yaml").config, "pages.yaml")
    return TestClient(create_app(service), raise_server_exceptions=False)


def _token(client: TestClient, role: Role) -> dict[str, str]:
    service = client.app.state.service  # type: ignore[attr-defined]
    token, _ = service.accounts.create_api_token(f"pages-{role}", role, FIRST_ADMIN, "tests")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    c = start_app(_config(), name="pages.yaml", raise_server_exceptions=False, login=None)
    c.headers.update(_token(c, Role.OPERATOR))
    return c


def names(html: str) -> list[str]:
    """The target names of the table's rows, in order."""
    return re.findall(r'<tr data-name="([^"]+)"', html)


def showing(html: str) -> str:
    match = re.search(r'id="showing">([^<]*)<', html)
    assert match, "no 'showing' line"
    return match.group(1)


# -- the list -----------------------------------------------------------------------------------
def test_list_pages_through_all_destinations(client: TestClient) -> None:
    first = client.get("/destinations")
    assert first.status_code == 200
    assert names(first.text) == [f"t{i:03d}" for i in range(50)]
    assert showing(first.text) == "Showing 1–50 of 120"
    assert 'href="/destinations/t000"' in first.text
    assert "router1" not in first.text  # a device is on the devices page only
    second = client.get("/destinations?page=2")
    assert names(second.text) == [f"t{i:03d}" for i in range(50, 100)]
    assert showing(second.text) == "Showing 51–100 of 120"
    assert 'id="page-prev" href="/destinations"' in second.text
    assert 'id="page-next" href="/destinations?page=3"' in second.text
    third = client.get("/destinations?page=3&size=100")
    assert names(third.text) == [] and "past the end: 120 match" in third.text
    assert "No destinations match" in client.get("/destinations?q=zzz").text
    big = client.get("/destinations?size=500")
    assert len(names(big.text)) == N and 'id="page-next"' not in big.text


def test_search_and_filters_combine(client: TestClient) -> None:
    assert names(client.get("/destinations?q=t01").text) == [f"t{i:03d}" for i in range(10, 20)]
    by_address = client.get("/destinations", params={"q": "127.0.0.12"}).text
    assert set(names(by_address)) == {"t000", "t108"}  # 127.0.0.120 and 127.0.0.12
    hq = names(client.get("/destinations?site=hq&size=500").text)
    assert hq == [f"t{i:03d}" for i in range(0, N, 3)]
    tagged = names(client.get("/destinations?site=hq&tag=tag1&size=500").text)
    assert tagged == [f"t{i:03d}" for i in range(N) if i % 3 == 0 and i % 4 == 1]
    page = client.get("/destinations?site=hq&tag=tag1").text
    assert re.search(r'<option value="hq" selected>', page)  # the form shows the filter
    assert 'name="tag" value="tag1"' in page


def test_sorting_by_columns(client: TestClient) -> None:
    desc = client.get("/destinations?dir=desc").text
    assert names(desc)[:3] == ["t119", "t118", "t117"]
    assert re.search(r'aria-sort="descending">\s*<a href="[^"]*" data-sort="name"', desc)
    # addresses run backwards to the names (127.0.0.1 is t119)
    by_address = names(client.get("/destinations?sort=address").text)
    assert by_address[0] == "t119"
    assert re.search(
        r'aria-sort="ascending">\s*<a[^>]*data-sort="address"',
        client.get("/destinations?sort=address").text,
    )
    by_site = names(client.get("/destinations?sort=site&size=500").text)
    assert by_site[:40] == [f"t{i:03d}" for i in range(0, N, 3)]  # hq before lab
    page2 = names(client.get("/destinations?sort=site&dir=desc&page=2").text)
    # descending: the 80 at "lab" first, so page 2 ends the lab rows and starts hq's
    assert all(int(n[1:]) % 3 != 0 for n in page2[:30])
    assert all(int(n[1:]) % 3 == 0 for n in page2[30:]) and len(page2) == 50
    # a sorted list's header links flip the direction of their own column only
    html = client.get("/destinations?sort=address").text
    assert 'href="/destinations?sort=address&amp;dir=desc" data-sort="address"' in html
    assert 'href="/destinations" data-sort="name"' in html


def test_sorting_by_last_change_sees_a_change_at_once(client: TestClient) -> None:
    before = client.get("/destinations?q=t050").text  # the list's page is kept: read it once
    assert ">tag2</a>" in before and ">edge</a>" not in before
    changed = client.patch("/api/v1/targets/t050", json={"tags": ["edge"]})
    assert changed.status_code == 200
    newest_first = names(client.get("/destinations?sort=updated&dir=desc&size=500").text)
    assert newest_first[0] == "t050" and len(newest_first) == N
    assert names(client.get("/destinations?sort=updated&size=500").text)[-1] == "t050"
    after = client.get("/destinations?q=t050").text  # the change, not the kept page
    assert ">edge</a>" in after and ">tag2</a>" not in after


def test_state_filter_and_badges(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    ok = ProbeResult("t005", "icmp", now_ns(), ProbeStatus.OK, {"rtt_avg_ms": 0.1})
    bad = ProbeResult("t007", "icmp", now_ns(), ProbeStatus.FAILED, {}, "no reply")
    service.status.update("manual", ok)
    service.status.update("manual", bad)
    up = client.get("/destinations?state=up").text
    assert names(up) == ["t005"] and '<span class="badge up">up</span>' in up
    assert names(client.get("/destinations?state=down").text) == ["t007"]
    unknown = client.get("/destinations?state=unknown&size=500").text
    assert len(names(unknown)) == N - 2 and "t005" not in names(unknown)
    by_state = names(client.get("/destinations?sort=status&size=500").text)
    assert by_state[0] == "t007" and by_state[-1] == "t005"  # down < unknown < up
    devices = client.get("/devices").text
    assert names(devices) == ["router1"]
    for state in ("online", "offline", "degraded", "flapping"):
        assert f'<option value="{state}">' in devices
    assert names(client.get("/devices?state=online").text) == []


def test_bad_parameters_fall_back_to_defaults(client: TestClient) -> None:
    r = client.get("/destinations?page=x&size=7&sort=nope&state=weird")
    assert r.status_code == 200 and showing(r.text) == "Showing 1–50 of 120"
    # a page far past the end (an offset SQLite could not even take) is an empty page
    for sort in ("name", "address"):
        r = client.get(f"/destinations?page={10**20}&sort={sort}")
        assert r.status_code == 200, r.text


def test_an_unknown_page_is_the_console_s_404_page(client: TestClient) -> None:
    r = client.get("/destinationz")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "<h1>404</h1>" in r.text
    api = client.get("/api/v1/nothing-here")  # the API keeps its JSON
    assert api.status_code == 404 and api.json()["detail"] == "Not Found"


# -- roles ----------------------------------------------------------------------------------------
def test_viewer_sees_no_controls_and_gets_403_on_forms(client: TestClient) -> None:
    viewer = _token(client, Role.VIEWER)
    page = client.get("/destinations", headers=viewer).text
    assert names(page)  # the list itself is for everyone
    for control in ('id="add-target"', "/edit", "data-test=", "Test now"):
        assert control not in page
    assert client.get("/destinations/new", headers=viewer).status_code == 403
    assert client.get("/devices/router1/edit", headers=viewer).status_code == 403
    assert client.post("/api/v1/targets/t000/test", headers=viewer).status_code == 403
    operator = client.get("/destinations").text
    assert 'id="add-target" href="/destinations/new"' in operator
    assert 'href="/destinations/t000/edit"' in operator and 'data-test="t000"' in operator


def test_export_links_name_the_row(client: TestClient) -> None:
    html = client.get("/destinations").text
    link = re.search(r'href="(/api/v1/export/csv\?target=t000&amp;from=[^"]+)"', html)
    assert link
    r = client.get(link.group(1).replace("&amp;", "&"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")


# -- the form -------------------------------------------------------------------------------------
def test_operator_gets_the_forms(client: TestClient) -> None:
    new = client.get("/destinations/new")
    assert new.status_code == 200
    html = new.text
    assert 'id="target-form"' in html and 'data-mode="new"' in html
    for field in ("name", "address", "site", "tags", "credentials", "description", "type"):
        assert f'name="{field}"' in html
    assert '<input type="hidden" name="type" value="destination">' in html
    assert re.search(r'<button class="button primary" type="submit">Save</button>', html)
    assert '<option value="hq">hq</option>' in html
    assert "/static/js/targets.js" in html and "<script>" not in html and "style=" not in html
    device = client.get("/devices/new").text
    assert '<input type="hidden" name="type" value="device">' in device
    edit = client.get("/devices/router1/edit").text
    assert 'data-mode="edit"' in edit and 'data-name="router1"' in edit
    assert 'value="127.0.0.1"' in edit and '<option value="hq" selected>' in edit
    assert 'data-call="DELETE /api/v1/targets/router1"' in edit
    assert 'data-then="/devices"' in edit
    assert client.get("/destinations/nothing-here/edit").status_code == 404


def _error(r: Any) -> tuple[int, str]:
    return r.status_code, r.json().get("field")


def test_api_answers_name_the_fields_the_form_has(client: TestClient) -> None:
    good = {
        "name": "new-one",
        "address": "127.0.0.9",
        "type": "destination",
        "site": None,
        "tags": ["a"],
        "credentials": None,
        "description": "",
    }
    assert _error(client.post("/api/v1/targets", json={**good, "address": "not an address"})) == (
        422,
        "body.address",
    )
    assert _error(client.post("/api/v1/targets", json={**good, "name": "-bad name"})) == (
        422,
        "body.name",
    )
    assert _error(client.post("/api/v1/targets", json={**good, "tags": ["no spaces"]}))[1] == (
        "body.tags"
    )
    assert _error(client.post("/api/v1/targets", json={**good, "site": "mars"})) == (422, "site")
    created = client.post("/api/v1/targets", json=good)
    assert created.status_code == 201 and created.json()["name"] == "new-one"
    duplicate = client.post("/api/v1/targets", json=good)
    assert _error(duplicate) == (409, "name")
    edited = client.put("/api/v1/targets/new-one", json={**good, "site": "hq"})
    assert edited.status_code == 200 and edited.json()["site"] == "hq"
    assert client.delete("/api/v1/targets/new-one").status_code == 204


# -- test now -------------------------------------------------------------------------------------
@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts and closes connections."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    server.close()


def _never_today() -> str:
    """A day that is neither today nor its neighbours in any zone: the scheduler skips the
    jobs, so only "Test now" checks anything."""
    return (datetime.now(UTC) + timedelta(days=3)).strftime("%a").lower()


def test_test_now_runs_the_covering_jobs_and_stores_nothing(
    settings: Settings, listener: int
) -> None:
    day = _never_today()
    jobs = f"""
jobs:
  - {{name: tcp-by-name, kind: tcp, params: {{port: {listener}}}, targets: [t119],
     timeout: 3, window: {{days: [{day}]}}}}
  - {{name: tcp-by-tag, kind: tcp, params: {{port: {listener}}}, selector: {{tags: [tag3]}},
     timeout: 3, window: {{days: [{day}]}}}}
  - {{name: http-elsewhere, kind: http, params: {{url: "http://127.0.0.1:{listener}/"}},
     targets: [t119], window: {{days: [{day}]}}}}
  - {{name: tcp-other, kind: tcp, params: {{port: {listener}}}, targets: [t002],
     window: {{days: [{day}]}}}}
"""
    with _client(settings, _config(jobs)) as client:
        client.headers.update(_token(client, Role.OPERATOR))
        service = client.app.state.service  # type: ignore[attr-defined]
        accepted = service.writer.accepted
        r = client.post("/api/v1/targets/t119/test")
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["covered"] is True and report["address"] == "127.0.0.1"
        by_job = {x["job"]: x for x in report["results"]}
        assert set(by_job) == {"tcp-by-name", "tcp-by-tag", "http-elsewhere"}
        assert by_job["tcp-by-name"]["status"] == "ok", by_job
        assert by_job["tcp-by-tag"]["kind"] == "tcp" and by_job["tcp-by-tag"]["status"] == "ok"
        assert "connect_ms" in by_job["tcp-by-name"]["metrics"]
        # a check aimed elsewhere than the target's address is not run
        assert by_job["http-elsewhere"]["status"] == "skipped"
        # nothing stored, no state, no run recorded
        assert service.writer.accepted == accepted
        assert service.status.get("t119") is None
        runs = client.get("/api/v1/runs").json()
        assert all(run["status"] == "skipped" for run in runs.get("items", runs))
        assert client.post("/api/v1/targets/nobody/test").status_code == 404


def test_test_now_without_a_job_runs_a_default_ping(client: TestClient) -> None:
    r = client.post("/api/v1/targets/t118/test")  # 127.0.0.2
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["covered"] is False and "no enabled job covers t118" in report["note"]
    [result] = report["results"]
    assert result["job"] is None and result["kind"] == "icmp"
    # ok where ICMP sockets are allowed, else a failure that says why: never a 5xx
    assert result["status"] == "ok" or "cannot run icmp" in (result["error"] or "")
