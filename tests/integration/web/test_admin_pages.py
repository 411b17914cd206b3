"""The admin pages over a real service: users, API tokens, the audit trail, the error and
request logs, each with real rows made through the API; admins only."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.integration.conftest import StartApp

CONFIG = "targets:\n  - {name: loop, address: 127.0.0.1}\n"
PAGES = (
    "/admin/users",
    "/admin/tokens",
    "/admin/credentials",
    "/admin/collectors",
    "/discover",
    "/admin/audit",
    "/admin/errors",
    "/admin/requests",
)


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    # a person logged in with a password, as in the console (an API token owns no tokens)
    # (the paging test posts 63 activity reports in a row: above the default per minute)
    c = start_app(
        CONFIG,
        name="admin.yaml",
        login="password",
        admin_password=TEST_ADMIN_PASSWORD,
        activity_per_minute=1000,
    )
    c.cookies.clear()  # the bearer header only: no CSRF dance in these tests
    return c


def flush(client: TestClient) -> None:
    """Write the buffered audit rows now (the service writes them every couple of seconds)."""
    client.app.state.service.audit.flush()  # type: ignore[attr-defined]


def bearer(client: TestClient, role: Role) -> dict[str, str]:
    token, _ = client.app.state.service.accounts.create_api_token(  # type: ignore[attr-defined]
        f"pages-{role}", role, FIRST_ADMIN, "tests"
    )
    return {"Authorization": f"Bearer {token}"}


def body_rows(html: str, table_id: str) -> int:
    return table(html, table_id).split("<tbody>")[1].count("<tr>")


def table(html: str, table_id: str) -> str:
    match = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert match, f"no table {table_id}"
    return match.group(1)


def test_only_admins_open_the_admin_pages(client: TestClient) -> None:
    for role in (Role.VIEWER, Role.OPERATOR):
        headers = bearer(client, role)
        for path in (*PAGES, "/admin"):
            r = client.get(path, headers=headers, follow_redirects=False)
            assert r.status_code == 403, (role, path, r.status_code)
            assert "Admin" not in re.sub(r"<title>.*?</title>", "", r.text.split("<main")[0])
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/users"
    for path in PAGES:
        html = client.get(path).text
        nav = re.search(r'<nav class="segmented admin-nav".*?</nav>', html, re.S)
        assert nav and f'<a href="{path}" aria-current="true">' in nav.group(0), path
        assert nav.group(0).count("<a ") == len(PAGES)
        assert not re.search(r"<script(?![^>]*\bsrc=)|\son\w+=|\sstyle=|<style", html), path


def test_users_page_lists_roles_states_and_activity(client: TestClient) -> None:
    r = client.post(
        "/api/v1/users",
        json={"username": "olga", "password": "a long password 1", "role": "operator"},
    )
    assert r.status_code == 201, r.text
    client.post(
        "/api/v1/users", json={"username": "vic", "password": "a long password 2", "role": "viewer"}
    )
    assert client.patch("/api/v1/users/vic", json={"disabled": True}).status_code == 200
    client.app.state.service.audit.activity(  # type: ignore[attr-defined]
        user="olga", kind="page_view", page="/jobs", action=None, details={}
    )
    flush(client)
    html = client.get("/admin/users").text
    users = table(html, "users-table")
    olga = re.search(r'<tr data-user="olga">(.*?)</tr>', users, re.S)
    vic = re.search(r'<tr data-user="vic">(.*?)</tr>', users, re.S)
    assert olga and vic and '<tr data-user="admin">' in users
    assert re.search(r'<option value="operator" selected>', olga.group(1))
    assert 'class="badge ok">active' in olga.group(1) and "<time" in olga.group(1).split("</td>")[4]
    assert 'class="badge disabled">disabled' in vic.group(1)
    assert 'data-user-patch="vic" data-disabled="false">Enable' in vic.group(1)
    assert 'data-call="DELETE /api/v1/users/vic"' in vic.group(1)
    assert 'id="user-form"' in html and 'name="password" type="password"' in html


def test_tokens_page_lists_tokens_but_never_the_secret(client: TestClient) -> None:
    made = client.post("/api/v1/tokens", json={"name": "prometheus", "role": "viewer"}).json()
    other = client.post("/api/v1/tokens", json={"name": "old-script", "role": "operator"}).json()
    assert client.delete(f"/api/v1/tokens/{other['id']}").status_code == 204
    html = client.get("/admin/tokens").text
    assert made["token"] not in html
    tokens = table(html, "tokens-table")
    live = re.search(rf'<tr data-token="{made["id"]}">(.*?)</tr>', tokens, re.S)
    gone = re.search(rf'<tr data-token="{other["id"]}">(.*?)</tr>', tokens, re.S)
    assert live and "prometheus" in live.group(1) and "viewer" in live.group(1)
    assert f'data-call="DELETE /api/v1/tokens/{made["id"]}"' in live.group(1)
    assert "never" in live.group(1)  # not used yet
    assert gone and "revoked" in gone.group(1) and "data-call" not in gone.group(1)
    # the one-time box the script fills, and its copy button
    assert re.search(r'id="token-result" class="result" hidden', html)
    assert 'id="token-copy"' in html


def test_audit_page_shows_changes_field_by_field_and_activity(client: TestClient) -> None:
    job = {"name": "probe-loop", "kind": "tcp", "params": {"port": 9}, "targets": ["loop"]}
    assert client.post("/api/v1/jobs", json=job).status_code == 201
    assert client.patch("/api/v1/jobs/probe-loop", json={"interval": "2m"}).status_code == 200
    assert (
        client.post(
            "/api/v1/activity", json={"kind": "action", "page": "/jobs", "action": "job.create"}
        ).status_code
        == 204
    )
    flush(client)
    html = client.get("/admin/audit", params={"entity_type": "job", "name": "probe-loop"}).text
    history = html[html.index('id="config-history"') : html.index('id="user-activity"')]
    assert history.count("<strong>probe-loop</strong>") == 2  # create and update
    assert '<code class="old">60.0</code> → <code class="new">120.0</code>' in history
    assert "target <strong>loop</strong>" not in history  # filtered to the job
    assert "target <strong>loop</strong>" in client.get("/admin/audit").text
    activity = table(html, "activity-table")
    assert "job.create" in activity and FIRST_ADMIN in activity


def test_errors_page_filters_and_expands_stacks(client: TestClient) -> None:
    # a validation error (logged by the API) and a collector error with a stack and a device
    assert client.post("/api/v1/jobs", json={"name": "x"}).status_code == 422
    try:
        raise RuntimeError("snmp walk exploded")
    except RuntimeError as exc:
        client.app.state.service.audit.error(  # type: ignore[attr-defined]
            "collector", "error", "poll of sw-1 failed", exc, device="sw-1"
        )
    flush(client)
    rows = table(client.get("/admin/errors").text, "errors-table")
    assert "poll of sw-1 failed" in rows and "validation" in rows
    # in words, as the answer said it, never the answer's JSON
    assert "/api/v1/jobs: body.kind: required: give a value" in rows and "{&#34;" not in rows
    collector = table(client.get("/admin/errors?category=collector").text, "errors-table")
    assert "validation" not in collector
    assert re.search(
        r"<details><summary>poll of sw-1 failed</summary><pre class=\"stack\">Traceback", collector
    )
    assert "RuntimeError: snmp walk exploded" in collector and ">sw-1</a>" in collector
    none = client.get("/admin/errors?category=database").text
    assert 'id="errors-table"' not in none and "No errors recorded for these filters" in none
    # an unknown filter value filters nothing instead of failing
    assert "poll of sw-1 failed" in client.get("/admin/errors?severity=bogus").text


def test_requests_page_lists_logged_requests_with_paging(client: TestClient) -> None:
    for _ in range(3):
        client.post("/api/v1/activity", json={"kind": "page_view", "page": "/"})
    client.get("/api/v1/targets/nope")  # a 404: always logged
    flush(client)
    html = client.get("/admin/requests").text
    assert 'id="sampling-note"' in html and "weight" in html
    rows = table(html, "requests-table")
    assert "<code>/api/v1/activity</code>" in rows and "<code>/api/v1/targets/{name}</code>" in rows
    assert ">404</span>" in rows and "testclient" in rows and FIRST_ADMIN in rows
    only = table(client.get("/admin/requests?status=404").text, "requests-table")
    assert "/api/v1/targets/{name}" in only and "/api/v1/activity" not in only
    # more rows than a page: an "Older" link that keeps the filter
    for _ in range(60):
        client.post("/api/v1/activity", json={"kind": "page_view", "page": "/"})
    flush(client)
    first = client.get("/admin/requests?status=204").text
    assert body_rows(first, "requests-table") == 50
    older = re.search(r'<a class="button subtle" rel="next" href="([^"]+)">Older', first)
    assert older and "status=204" in older.group(1) and "offset=50" in older.group(1)
    second = client.get(older.group(1).replace("&amp;", "&")).text
    assert 0 < body_rows(second, "requests-table") <= 50
    assert 'rel="prev"' in second
