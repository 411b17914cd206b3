"""The health score on a running service: a real TCP destination on loopback goes down (its
listener closed) and its availability component and score drop by the documented formula;
the scores are stored as the ``health_score`` series, read back through /api/v1/metrics."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from tests.integration.analytics.conftest import config, run_job, stored
from tests.integration.conftest import StartApp

HEALTH = "/api/v1/analytics/health"


def component(detail: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in detail["components"] if c["name"] == name)


def test_a_target_going_down_loses_its_score(
    start_app: StartApp, web_port: socket.socket, listener: int
) -> None:
    client = start_app(config(web_port.getsockname()[1], listener))
    for _ in range(3):
        run_job(client, "tcp-web")
    run_job(client, "tcp-db")
    stored(client, "web", "status", 3)
    stored(client, "db", "status", 1)
    assert client.post(f"{HEALTH}/recompute").status_code == 200
    up = client.get(f"{HEALTH}/web").json()
    assert up["formula_version"] == "1" and up["kind"] == "destination"
    # three of three up: 25 + 15 + 10 (no change) of 50 scored points
    assert component(up, "availability_24h")["data"] == {
        "availability_percent": 100.0,
        "samples": 3,
    }
    assert up["score"] == 100.0 and up["coverage"] == 0.5
    assert component(up, "latency_loss")["scored"] is False  # no 24 h of history yet

    web_port.close()  # the target goes down: connections refused
    for _ in range(3):
        run_job(client, "tcp-web")
    statuses = [p["value"] for p in stored(client, "web", "status", 6)]
    assert statuses == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    listing = client.post(f"{HEALTH}/recompute").json()
    down = client.get(f"{HEALTH}/web").json()
    availability = component(down, "availability_24h")
    assert availability["data"]["availability_percent"] == 50.0  # 3 of 6 samples
    assert availability["points"] == 0.0  # 50 % is below the 90 % floor
    assert component(down, "flapping")["data"] == {"changes": 1}
    # 0 + 0 + 9 of 50 scored points = 18, under the 50 % availability cap
    assert down["score"] == pytest.approx(18.0)
    assert [t["target"] for t in listing["targets"]] == ["web", "db"]  # worst first

    site = client.get(f"{HEALTH}/sites/lab").json()
    assert (site["worst"], site["worst_score"]) == ("web", down["score"])
    # equal coverage (0.5 each): the plain mean of 18 and 100
    assert site["score"] == pytest.approx((18.0 + 100.0) / 2)
    assert [m["target"] for m in site["members"]] == ["web", "db"]

    # both recomputes stored as the health_score series, the values the API showed
    series = stored(client, "web", "health_score", 2)
    assert [p["value"] for p in series] == [100.0, pytest.approx(18.0)]
    site_series = stored(client, "lab", "site_health_score", 2)
    assert site_series[-1]["value"] == pytest.approx(59.0)

    # the console: the list worst first with the weakest component, and the breakdown
    page = client.get("/analytics/health")
    assert page.status_code == 200
    html = page.text
    rows = re.findall(r'<tr data-target="([^"]+)">', html)
    assert rows == ["web", "db"]
    assert "availability 24h: up 50.00 % of 6 status samples in the last 24 h" in html
    assert 'id="health-recompute"' in html  # an admin may recompute
    assert "style=" not in html and "<script>" not in html
    breakdown = client.get("/analytics/health/web").text
    assert re.search(r'data-component="availability_24h">.*?0\.00 of 25', breakdown, re.S)
    assert re.search(r'data-component="flapping">.*?9\.00 of 10', breakdown, re.S)
    assert "1 state change in the last 24 h" in breakdown
    assert client.get("/analytics/health/nobody").status_code == 404
    assert 'href="/analytics/health"' in client.get("/analytics").text
    # the destination's page charts health_score, with a link to the breakdown
    detail = client.get("/destinations/web").text
    assert 'data-family="health_score"' in detail
    assert 'href="/analytics/health/web">why this score</a>' in detail


def test_unknown_names_and_roles(start_app: StartApp, listener: int) -> None:
    client = start_app(config(listener, listener))
    missing = client.get(f"{HEALTH}/nobody")
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
    assert client.get(f"{HEALTH}/sites/nowhere").status_code == 404
    bad = client.get(f"{HEALTH}/bad name!")
    assert bad.status_code == 422 and "target" in bad.text
    service = client.app.state.service  # type: ignore[attr-defined]
    token, _ = service.accounts.create_api_token("viewer", Role.VIEWER, FIRST_ADMIN, "tests")
    viewer = {"Authorization": f"Bearer {token}"}
    listing = client.get(HEALTH, headers=viewer)
    assert listing.status_code == 200
    # nothing ran yet: no target has a score, each says why
    assert {t["target"]: t["score"] for t in listing.json()["targets"]} == {
        "db": None,
        "web": None,
    }
    assert client.post(f"{HEALTH}/recompute", headers=viewer).status_code == 403
    page = client.get("/analytics/health", headers=viewer)
    assert page.status_code == 200 and 'id="health-recompute"' not in page.text
