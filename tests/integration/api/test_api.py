"""The REST API over a real service (SQLite, scheduler, runner, loopback TCP checks)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge import web
from tests.conftest import wait_for
from tests.integration.conftest import StartApp


@pytest.fixture
def client(listener: int, start_app: StartApp) -> TestClient:
    text = f"""
sites: [{{name: hq}}]
targets:
  - {{name: gw, address: 127.0.0.1, site: hq, tags: [core]}}
  - {{name: v6, address: "::1", tags: [core]}}
jobs:
  - {{name: tcp-gw, kind: tcp, params: {{port: {listener}}}, targets: [gw], interval: 1h,
     enabled: false}}
"""
    return start_app(text, name="api-test.yaml", raise_server_exceptions=False)


def field_of(response: Any) -> str:
    return str(response.json()["field"])


def test_health(client: TestClient) -> None:
    body = client.get("/api/v1/health/details").json()
    assert body["status"] == "ok" and body["scheduler"]["running"] is True
    assert body["scheduler"]["jobs"] == 1 and body["stores"][0]["name"] == "embedded"


def test_root_is_the_console_and_the_schema_is_served(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'href="/docs"' in r.text  # the console links the API docs
    assert client.get("/openapi.json").json()["info"]["title"] == "netgauge"


def test_target_crud_and_filters(client: TestClient) -> None:
    r = client.post(
        "/api/v1/targets", json={"name": "web", "address": "127.0.0.5", "tags": ["lab"]}
    )
    assert r.status_code == 201 and r.json()["source"] == "api" and r.json()["status"] == "unknown"
    assert (
        client.post("/api/v1/targets", json={"name": "web", "address": "127.0.0.6"}).status_code
        == 409
    )
    listing = client.get("/api/v1/targets", params={"tag": "core"}).json()
    assert listing["total"] == 2 and [t["name"] for t in listing["items"]] == ["gw", "v6"]
    assert client.get("/api/v1/targets", params={"site": "hq"}).json()["total"] == 1
    assert client.get("/api/v1/targets", params={"q": "WE"}).json()["items"][0]["name"] == "web"
    assert client.get("/api/v1/targets", params={"state": "unknown"}).json()["total"] == 3
    page = client.get("/api/v1/targets", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3 and [t["name"] for t in page["items"]] == ["v6"]
    patched = client.patch("/api/v1/targets/web", json={"tags": ["lab", "edge"]}).json()
    assert patched["tags"] == ["edge", "lab"] and patched["address"] == "127.0.0.5"
    assert (
        client.put("/api/v1/targets/web", json={"name": "web", "address": "::1"}).json()["tags"]
        == []
    )
    assert client.delete("/api/v1/targets/web").status_code == 204
    assert client.get("/api/v1/targets/web").status_code == 404
    changes = client.get("/api/v1/changes", params={"entity_type": "target", "name": "web"}).json()
    assert [c["action"] for c in changes] == ["delete", "update", "update", "create"]
    assert all(c["actor"] == "token:tests" for c in changes)  # who, not just "the API"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/api/v1/targets", {"name": "x", "address": "no such!"}, 422, "body.address"),
        (
            "post",
            "/api/v1/targets",
            {"name": "x", "address": "127.0.0.1", "site": "mars"},
            422,
            "site",
        ),
        (
            "post",
            "/api/v1/targets",
            {"name": "x", "address": "127.0.0.1", "colour": 1},
            422,
            "body.colour",
        ),
        ("post", "/api/v1/targets", {"name": 5, "address": "127.0.0.1"}, 422, "body.name"),
        ("put", "/api/v1/targets/gw", {"name": "other", "address": "127.0.0.1"}, 422, "name"),
        ("patch", "/api/v1/targets/gw", {"address": "bad address!"}, 422, "address"),
        ("post", "/api/v1/jobs", {"name": "j", "kind": "smoke", "targets": ["gw"]}, 422, "kind"),
        (
            "post",
            "/api/v1/jobs",
            {"name": "j", "kind": "tcp", "params": {"port": 0}, "targets": ["gw"]},
            422,
            "params.port",
        ),
        (
            "post",
            "/api/v1/jobs",
            {"name": "j", "kind": "tcp", "params": {"port": 1}, "targets": ["ghost"]},
            422,
            "targets",
        ),
        (
            "post",
            "/api/v1/jobs",
            {"name": "j", "kind": "tcp", "targets": ["gw"], "interval": "soon"},
            422,
            "body.interval",
        ),
        ("delete", "/api/v1/targets/gw", None, 409, None),
        (
            "post",
            "/api/v1/jobs",
            {"name": "j", "kind": "icmp", "selector": {"site": "mars"}},
            422,
            "selector.site",
        ),
        (
            "post",
            "/api/v1/jobs",
            {"name": "j", "kind": "icmp", "targets": ["gw", "gw"]},
            422,
            "body.targets",
        ),
        (
            "post",
            "/api/v1/jobs",
            {
                "name": "j",
                "kind": "icmp",
                "targets": ["gw"],
                "window": {"start_time": "10:00:00+05:00"},
            },
            422,
            "body.window.start_time",
        ),
        (
            "put",
            "/api/v1/sites/hq",
            {"name": "hq", "timezone": "Mars/Olympus"},
            422,
            "body.timezone",
        ),
        ("get", "/api/v1/targets?offset=9223372036854775808", None, 422, "query.offset"),
        ("get", "/api/v1/runs?offset=-1", None, 422, "query.offset"),
        (
            "get",
            "/api/v1/metrics?target=gw&metric=status&from=0001-01-01T00:00:00"
            "&to=9999-12-31T23:59:59",
            None,
            422,
            "from",
        ),
        ("get", "/api/v1/metrics?target=gw&metric=status&to=2300-01-01T00:00:00Z", None, 422, "to"),
        ("get", "/api/v1/metrics?target=gw&metric=status&step=0", None, 422, "step"),
        ("get", "/api/v1/metrics?target=gw&metric=status&from=garbage", None, 422, "query.from"),
        ("get", "/api/v1/jobs/ghost/runs", None, 404, None),
        ("get", "/api/v1/events?kind=Path-Change", None, 422, "query.kind"),
        (
            "get",
            "/api/v1/metrics/rounds?target=gw&kind=icmp&from=2030-01-01T00:00:00Z"
            "&to=2029-01-01T00:00:00Z",
            None,
            422,
            "from",
        ),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    client: TestClient, method: str, path: str, body: Any, status: int, field: str | None
) -> None:
    r = client.request(method.upper(), path, json=body)
    assert r.status_code == status, r.text
    if field is not None:
        assert field_of(r) == field, r.json()


def test_malformed_json_and_bad_queries_are_4xx(client: TestClient) -> None:
    r = client.post(
        "/api/v1/targets", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert client.get("/api/v1/targets", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/targets", params={"state": "sideways"}).status_code == 422
    q = {"target": "gw", "metric": "status", "step": "fast"}
    r = client.get("/api/v1/metrics", params=q)
    assert r.status_code == 422 and field_of(r) == "step"
    q = {
        "target": "gw",
        "metric": "status",
        "from": "2026-01-02T00:00:00Z",
        "to": "2026-01-01T00:00:00Z",
    }
    assert field_of(client.get("/api/v1/metrics", params=q)) == "from"
    assert client.get("/api/v1/metrics", params={"target": "gw"}).status_code == 422
    assert client.post("/api/v1/jobs/nope/run").status_code == 404


def test_job_lifecycle_run_now_and_data(client: TestClient) -> None:
    job = client.get("/api/v1/jobs/tcp-gw").json()
    assert job["enabled"] is False and job["next_run"] is None
    assert client.post("/api/v1/jobs/tcp-gw/enable").json()["next_run"] is not None
    assert client.post("/api/v1/jobs/tcp-gw/disable").json()["enabled"] is False
    r = client.post("/api/v1/jobs/tcp-gw/run")
    assert r.status_code == 202 and r.json() == {"job": "tcp-gw", "started": True}

    def finished() -> Any:
        runs = client.get("/api/v1/jobs/tcp-gw/runs").json()["items"]
        return runs if runs and runs[0]["status"] != "running" else None

    runs = wait_for(finished, what="the manual run to finish")
    assert (runs[0]["status"], runs[0]["trigger"], runs[0]["targets_ok"]) == ("ok", "manual", 1)
    outcomes = client.get(f"/api/v1/runs/{runs[0]['id']}/targets").json()
    assert outcomes == [{"target": "gw", "status": "ok", "error": None}]
    assert client.get("/api/v1/runs/999999/targets").status_code == 404
    status = client.get("/api/v1/status/gw").json()
    assert status["state"] == "up" and status["checks"][0]["kind"] == "tcp"
    assert client.get("/api/v1/targets", params={"state": "up"}).json()["items"][0]["name"] == "gw"

    def stored() -> Any:
        pts = client.get(
            "/api/v1/metrics", params={"target": "gw", "metric": "tcp.connect_ms"}
        ).json()
        return pts["points"] or None

    points = wait_for(stored, what="the sample to reach the store")
    assert points[0]["value"] > 0 and points[0]["count"] == 1
    # the same series as parallel arrays (what the console's charts ask for)
    columns = client.get(
        "/api/v1/metrics",
        params={"target": "gw", "metric": "tcp.connect_ms", "format": "columns"},
    ).json()
    assert "points" not in columns
    assert (columns["ts"], columns["value"], columns["count"]) == (
        [p["ts"] for p in points],
        [p["value"] for p in points],
        [p["count"] for p in points],
    )
    rounds = client.get("/api/v1/metrics/rounds", params={"target": "gw", "kind": "tcp"}).json()
    assert rounds["rounds"][0]["metrics"]["refused"] == 0.0
    assert rounds["rounds"][0]["metrics"]["connect_ms"] == points[0]["value"]
    assert client.get("/api/v1/events", params={"target": "gw"}).json() == []
    series = client.get("/api/v1/metrics/series", params={"target": "gw"}).json()
    assert {"measurement": "device_status", "target": "gw", "metric": "status"} in series


def test_job_crud_via_api(client: TestClient) -> None:
    body = {
        "name": "ping-core",
        "kind": "icmp",
        "params": {"count": 2},
        "selector": {"tags": ["core"]},
        "interval": "5m",
        "window": {"start_time": "22:00", "end_time": "06:00", "days": ["sat"]},
    }
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["interval"] == 300.0 and r.json()["window"]["start_time"] == "22:00:00"
    assert client.get("/api/v1/health/details").json()["scheduler"]["jobs"] == 2
    assert client.patch("/api/v1/jobs/ping-core", json={"interval": 60}).json()["interval"] == 60.0
    assert client.delete("/api/v1/jobs/ping-core").status_code == 204
    assert client.get("/api/v1/health/details").json()["scheduler"]["jobs"] == 1


def test_search_is_a_plain_substring(client: TestClient) -> None:
    client.post("/api/v1/targets", json={"name": "a_b", "address": "127.0.0.7"})
    client.post("/api/v1/targets", json={"name": "axb", "address": "127.0.0.8"})
    for q, names in (("a_b", ["a_b"]), ("_", ["a_b"]), ("%", []), ("\\", [])):
        got = [t["name"] for t in client.get("/api/v1/targets", params={"q": q}).json()["items"]]
        assert got == names, q


def test_sites(client: TestClient) -> None:
    assert client.get("/api/v1/sites/hq").json() == {
        "name": "hq",
        "description": "",
        "timezone": "UTC",
        "schedule": None,
    }
    assert client.get("/api/v1/sites/nowhere").status_code == 404
    r = client.put("/api/v1/sites/dc", json={"name": "dc", "timezone": "Europe/Berlin"})
    assert r.status_code == 200
    assert [s["name"] for s in client.get("/api/v1/sites").json()] == ["dc", "hq"]
    assert client.delete("/api/v1/sites/dc").status_code == 204


def test_metrics_range_is_exact_to_the_nanosecond(client: TestClient) -> None:
    r = client.get(
        "/api/v1/metrics",
        params={
            "target": "gw",
            "metric": "status",
            "from": "2026-01-01T00:00:00.000001Z",
            "to": "2026-01-01T00:00:01Z",
        },
    )
    body = r.json()
    assert body["start"] == "2026-01-01T00:00:00.000001Z" and body["end"] == "2026-01-01T00:00:01Z"


def test_no_route_answers_500_to_odd_path_values(client: TestClient) -> None:
    odd = ["%00", "x" * 300, "..", "ü", "1;DROP TABLE targets", "a%2Fb"]
    # every templated route: the API's (from its schema) and the console's pages
    schema = client.get("/openapi.json").json()["paths"]
    routes = [(p, {m.upper() for m in item}) for p, item in schema.items()]
    routes += [(r.path, r.methods) for m in web.PAGES for r in m.router.routes]
    templated = [(path, methods) for path, methods in routes if "{" in path]
    assert len(templated) >= 20  # the whole table, not nothing
    for path, methods in templated:
        for method in methods - {"HEAD"}:
            for value in odd:
                url = path.replace("{name}", value).replace("{target}", value)
                r = client.request(method, url, json={})
                assert r.status_code < 500, (method, url, r.status_code, r.text)


def test_probe_once_through_the_api(client: TestClient, listener: int) -> None:
    kinds = client.get("/api/v1/probes").json()
    assert {"icmp", "tcp", "http", "dns", "traceroute"} <= set(kinds)
    r = client.post(
        "/api/v1/probes/tcp", json={"targets": ["127.0.0.1"], "params": {"port": listener}}
    )
    assert r.status_code == 200, r.text
    [result] = r.json()
    assert (result["target"], result["status"], result["metrics"]["refused"]) == (
        "127.0.0.1",
        "ok",
        0.0,
    )
    # a one-shot probe is not stored and changes no state
    assert client.get("/api/v1/status").json() == []


@pytest.mark.parametrize(
    ("kind", "body", "status", "field"),
    [
        ("smoke", {"targets": ["127.0.0.1"]}, 404, "kind"),
        ("tcp", {"targets": ["127.0.0.1"], "params": {"port": 0}}, 422, "params.port"),
        ("tcp", {"targets": [], "params": {"port": 1}}, 422, "body.targets"),
        ("tcp", {"targets": ["not an address!"], "params": {"port": 1}}, 422, "body.targets"),
        ("tcp", {"targets": ["127.0.0.1"] * 1001, "params": {"port": 1}}, 422, "body.targets"),
        (
            "tcp",
            {"targets": ["127.0.0.1"], "params": {"port": 1}, "timeout": "soon"},
            422,
            "timeout",
        ),
    ],
)
def test_bad_probe_requests_name_the_field(
    client: TestClient, kind: str, body: Any, status: int, field: str
) -> None:
    r = client.post(f"/api/v1/probes/{kind}", json=body)
    assert r.status_code == status, r.text
    assert field_of(r) == field


def test_a_target_added_with_checks_is_watched_by_jobs_of_its_own(
    client: TestClient, listener: int
) -> None:
    body = {
        "name": "web1",
        "address": "127.0.0.1",
        "checks": [
            {"kind": "tcp", "params": {"port": listener}, "interval": "5s"},
            {"kind": "tcp", "params": {"port": listener, "send": "x"}},
        ],
    }
    r = client.post("/api/v1/targets", json=body)
    assert r.status_code == 201, r.text
    jobs = {j["name"]: j for j in client.get("/api/v1/jobs").json()}
    assert jobs["web1-tcp"]["targets"] == ["web1"] and jobs["web1-tcp"]["interval"] == 5
    assert jobs["web1-tcp-2"]["params"]["send"] == "x"  # the second of a kind: its own name
    assert jobs["web1-tcp-2"]["interval"] == 60  # the default
    # the scheduler has them at once (no reload, no restart)
    details = client.get("/api/v1/health/details").json()
    assert details["scheduler"]["jobs"] == 3


@pytest.mark.parametrize(
    ("check", "field", "words"),
    [
        ({"kind": "tcp", "params": {}}, "checks.1.params.port", "required"),
        ({"kind": "tcp", "params": {"port": 70000}}, "checks.1.params.port", "at most 65535"),
        ({"kind": "telnet"}, "checks.1.kind", "unknown check kind"),
        ({"kind": "tcp", "params": {"port": 1}, "interval": "soon"}, "checks.1.interval", ""),
    ],
)
def test_a_bad_check_names_its_field_and_nothing_is_added(
    client: TestClient, listener: int, check: dict[str, Any], field: str, words: str
) -> None:
    good = {"kind": "tcp", "params": {"port": listener}}
    r = client.post(
        "/api/v1/targets", json={"name": "web2", "address": "127.0.0.1", "checks": [good, check]}
    )
    assert r.status_code == 422, r.text
    assert field_of(r).removeprefix("body.") == field and words in r.json()["detail"], r.json()
    assert client.get("/api/v1/targets/web2").status_code == 404
    assert "web2-tcp" not in {j["name"] for j in client.get("/api/v1/jobs").json()}


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        (
            {"interfaces": {"include": ["(unclosed"]}},
            "params.interfaces.include.0",
            "'(unclosed' is not a regular expression: missing ): (unclosed",
        ),
        (
            {"disks": {"exclude": ["^/run", "(?!x)"]}},
            "params.disks.exclude.1",
            "not a regular expression",
        ),
        ({"interfaces": {"skip_type": ["tunnel"]}}, "params.interfaces.skip_type", "unknown key"),
    ],
)
def test_a_device_jobs_selection_is_checked_and_named(
    client: TestClient, params: dict[str, Any], field: str, words: str
) -> None:
    r = client.post(
        "/api/v1/jobs",
        json={"name": "sw", "kind": "snmp", "params": params, "targets": ["gw"]},
    )
    assert r.status_code == 422, r.text
    assert field_of(r) == field
    assert words in r.json()["detail"]


def test_a_device_jobs_selection_is_kept_as_given(client: TestClient) -> None:
    chosen = {"interfaces": {"exclude": ["^veth", "^docker"]}, "disks": {"skip_types": ["vfat"]}}
    r = client.post(
        "/api/v1/jobs", json={"name": "sw", "kind": "snmp", "params": chosen, "targets": ["gw"]}
    )
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/jobs/sw").json()["params"] == chosen
