"""Configuration impact through the API and the console: a job whose port is changed to a
closed one is "worse", with the counts the job's own run records give (read over
/api/v1/jobs/.../runs, another path), and a viewer does not see credentials changes."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from tests.conftest import free_port, service_of, wait_for
from tests.integration.conftest import StartApp

RUNS = 6


def run_times(client: TestClient, job: str, n: int) -> None:
    """Run ``job`` ``n`` times, each after the previous finished."""
    for _ in range(n):
        before = client.get(f"/api/v1/jobs/{job}/runs").json()["total"]
        assert client.post(f"/api/v1/jobs/{job}/run").status_code == 202

        def finished(before: int = before) -> bool:
            items = client.get(f"/api/v1/jobs/{job}/runs").json()
            return bool(items["total"] > before and items["items"][0]["status"] != "running")

        wait_for(finished, timeout=20, what=f"a finished run of {job}")


def counts(client: TestClient, job: str) -> tuple[int, int]:
    """(passed, failed) outcomes of the job's runs, from the runs API."""
    items: list[dict[str, Any]] = client.get(
        f"/api/v1/jobs/{job}/runs", params={"limit": 100}
    ).json()["items"]
    return sum(r["targets_ok"] for r in items), sum(r["targets_failed"] for r in items)


def test_a_change_that_breaks_a_check_is_worse(start_app: StartApp, listener: int) -> None:
    client = start_app(
        f"""
targets:
  - {{name: web, address: 127.0.0.1}}
jobs:
  - {{name: tcp-web, kind: tcp, params: {{port: {listener}}}, targets: [web], interval: 1h}}
"""
    )
    run_times(client, "tcp-web", RUNS)
    ok_before, failed_before = counts(client, "tcp-web")
    closed = free_port()  # nothing listens there
    answer = client.patch("/api/v1/jobs/tcp-web", json={"params": {"port": closed}})
    assert answer.status_code == 200, answer.text
    run_times(client, "tcp-web", RUNS)
    ok_all, failed_all = counts(client, "tcp-web")
    found = client.get("/api/v1/analytics/impact", params={"hours": 1}).json()
    change = next(c for c in found if c["entity_type"] == "job" and c["action"] == "update")
    assert change["entity_name"] == "tcp-web" and "params" in change["fields"]
    assert change["targets"][0]["target"] == "web"
    assert (change["before"]["checks"], change["before"]["failed"]) == (
        ok_before + failed_before,
        failed_before,
    )
    assert (change["after"]["checks"], change["after"]["failed"]) == (
        ok_all + failed_all - ok_before - failed_before,
        failed_all - failed_before,
    )
    assert (failed_before, failed_all - failed_before) == (0, RUNS)
    assert change["verdict"] == "worse" and change["partial"] is True
    assert change["p_value"] < 0.05 and "worse" in change["reason"]
    page = client.get("/analytics/impact", params={"hours": 1}).text
    row = re.search(r'<tr data-change="\d+" data-verdict="worse">(.*?)</tr>', page, re.S)
    assert row is not None and "tcp-web" in row.group(1)
    assert "/analytics/impact" in client.get("/analytics").text


def test_a_viewer_sees_no_credentials_changes_and_bad_input_is_named(
    start_app: StartApp,
) -> None:
    client = start_app("")
    secret = {"kind": "snmp", "secrets": {"community": "s3cret-community"}}
    made_credentials = client.put("/api/v1/credentials/core-snmp", json=secret)
    assert made_credentials.status_code == 201, made_credentials.text
    admin_view = client.get("/api/v1/analytics/impact").json()
    assert any(c["entity_type"] == "credentials" for c in admin_view)
    accounts = service_of(client).accounts
    token, _ = accounts.create_api_token("ro", Role.VIEWER, FIRST_ADMIN, "tests")
    viewer = {"Authorization": f"Bearer {token}"}
    seen = client.get("/api/v1/analytics/impact", headers=viewer)
    assert seen.status_code == 200
    assert all(c["entity_type"] != "credentials" for c in seen.json())
    assert "s3cret" not in seen.text and "s3cret" not in client.get("/api/v1/analytics/impact").text
    bad = client.get("/api/v1/analytics/impact", params={"hours": 0})
    assert bad.status_code == 422 and "hours" in bad.text
