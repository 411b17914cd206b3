"""Importing targets from CSV: a dry run that changes nothing, all or nothing, every
problem with its line, files as spreadsheets write them (BOM, CRLF, quoted commas)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from tests.integration.conftest import StartApp

CONFIG = """
sites: [{name: berlin}]
targets:
  - {name: old, address: 127.0.0.1}
"""
GOOD = (
    "name,address,type,site,tags,checks,description\n"
    "sw1,127.0.0.2,device,berlin,core;switch,icmp snmp:1161,\n"
    'www,127.0.0.3,,,web,icmp tcp:443 http:http://127.0.0.3:8080/health,"front, public"\n'
)


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    return start_app(CONFIG, name="import.yaml", raise_server_exceptions=False)


def post(client: TestClient, text: str | bytes, **params: Any) -> Any:
    body = text.encode() if isinstance(text, str) else text
    return client.post(
        "/api/v1/targets/import",
        content=body,
        params=params,
        headers={"Content-Type": "text/csv"},
    )


def names(client: TestClient) -> set[str]:
    return {t["name"] for t in client.get("/api/v1/targets").json()["items"]}


def test_a_dry_run_says_what_would_be_made_and_makes_nothing(client: TestClient) -> None:
    r = post(client, GOOD, dry_run="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["dry_run"], body["imported"], body["targets"], body["jobs"]) == (True, False, 2, 5)
    assert [x["checks"] for x in body["lines"]] == [["icmp", "snmp"], ["icmp", "tcp", "http"]]
    assert names(client) == {"old"}
    assert len(client.get("/api/v1/jobs").json()) == 0


def test_an_import_makes_the_targets_and_their_checks(client: TestClient) -> None:
    r = post(client, GOOD)
    assert r.status_code == 200 and r.json()["imported"] is True, r.text
    assert names(client) == {"old", "sw1", "www"}
    jobs = {j["name"]: j for j in client.get("/api/v1/jobs").json()}
    assert jobs["sw1-snmp"]["params"] == {"port": 1161} and jobs["sw1-snmp"]["interval"] == 300
    assert jobs["www-tcp"]["params"] == {"port": 443} and jobs["www-icmp"]["interval"] == 30
    assert jobs["www-http"]["params"] == {"url": "http://127.0.0.3:8080/health"}
    www = client.get("/api/v1/targets/www").json()
    assert www["description"] == "front, public" and www["tags"] == ["web"]
    assert client.get("/api/v1/targets/sw1").json()["site"] == "berlin"
    # the scheduler has the new jobs at once
    assert client.get("/api/v1/health/details").json()["scheduler"]["jobs"] == 5
    again = post(client, GOOD)  # the same file twice: refused, nothing doubled
    assert again.status_code == 422 and "exists already" in again.text


def test_every_problem_is_named_with_its_line_and_nothing_is_imported(client: TestClient) -> None:
    text = (
        "name,address,checks\n"
        "ok1,127.0.0.5,icmp\n"  # line 2: fine
        "bad name!,127.0.0.6,icmp\n"  # 3
        "ok1,127.0.0.7,icmp\n"  # 4: twice in the file
        "old,127.0.0.8,icmp\n"  # 5: in the inventory
        "x1,127.0.0.9,telnet\n"  # 6: no such check
        "x2,127.0.0.10,tcp:99999\n"  # 7: not a port
        "x3,127.0.0.11,tcp\n"  # 8: tcp needs its port
        "x4,,icmp\n"  # 9: no address
    )
    r = post(client, text)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["imported"] is False and "nothing imported" in body["detail"]
    by_line = {x["line"]: x["errors"] for x in body["lines"] if x["errors"]}
    assert set(by_line) == {3, 4, 5, 6, 7, 8, 9}
    assert "must start with a letter or digit" in by_line[3][0]
    assert "line 2 already" in by_line[4][0] and "exists already" in by_line[5][0]
    assert "unknown check kind 'telnet'" in by_line[6][0] and "not a port" in by_line[7][0]
    assert "port" in by_line[8][0] and "address" in by_line[9][0]
    assert names(client) == {"old"}


def test_the_inventorys_own_rules_name_their_line(client: TestClient) -> None:
    r = post(client, "name,address,site\nfine,127.0.0.5,berlin\nlost,127.0.0.6,paris\n")
    assert r.status_code == 422
    [line] = [x for x in r.json()["lines"] if x["errors"]]
    assert line["line"] == 3 and "paris" in line["errors"][0]
    assert names(client) == {"old"}


def test_a_header_problem_is_said_first(client: TestClient) -> None:
    for dry in ("true", "false"):
        r = post(client, "name,adress\nx,127.0.0.1\n", dry_run=dry)
        assert r.status_code == 422 and r.json()["field"] == "body"
        assert "unknown column 'adress'" in r.json()["detail"] and "1 more" in r.json()["detail"]
    r = client.post("/api/v1/targets/import", content=b"", headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and "empty" in r.text
    r = client.post("/api/v1/targets/import", json={"name": "x"})
    assert r.status_code == 415 and "text/csv" in r.text


def test_a_spreadsheets_file_reads_as_it_looks(client: TestClient) -> None:
    text = "\ufeffName,Address,Checks\r\nxl1,127.0.0.20,icmp\r\n,,\r\n"
    r = post(client, text.encode("utf-8"))
    assert r.status_code == 200 and r.json()["targets"] == 1, r.text
    r = post(client, "name,address\nlatin,127.0.0.21\n".encode("utf-16"))
    assert r.status_code == 422 and "UTF-8" in r.text


def test_who_may_import(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    for role, status in ((Role.VIEWER, 403), (Role.OPERATOR, 200)):
        token, _ = service.accounts.create_api_token(role.value, role, FIRST_ADMIN, "t")
        r = client.post(
            "/api/v1/targets/import",
            content=f"name,address\nby-{role.value},127.0.0.30\n".encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        )
        assert r.status_code == status, r.text
