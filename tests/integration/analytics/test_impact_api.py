"""Configuration impact on a running service: a real TCP destination on loopback is up, a
change to it is recorded, then it goes down (its listener closed): the change's verdict is
"worse", with availability, failures and state changes counted by this test itself."""

from __future__ import annotations

import re
import socket
from typing import Any

from tests.integration.analytics.conftest import config, run_job, stored
from tests.integration.conftest import StartApp

IMPACT = "/api/v1/analytics/impact"


def test_a_change_followed_by_an_outage_is_worse(
    start_app: StartApp, web_port: socket.socket, listener: int
) -> None:
    client = start_app(config(web_port.getsockname()[1], listener))
    for _ in range(2):
        run_job(client, "tcp-web")
    stored(client, "web", "status", 2)
    body = {"name": "web", "address": "127.0.0.1", "site": "lab", "description": "new NIC"}
    assert client.put("/api/v1/targets/web", json=body).status_code == 200
    [change] = [
        c for c in client.get("/api/v1/changes", params={"name": "web"}).json()
        if c["action"] == "update"
    ]  # fmt: skip
    web_port.close()
    for _ in range(3):
        run_job(client, "tcp-web")
    stored(client, "web", "status", 5)

    listing = client.get(IMPACT, params={"hours": 6}).json()
    found: dict[str, Any] = next(c for c in listing if c["id"] == change["id"])
    assert found["verdict"] == "worse" and found["watching"] is True
    assert (found["entity_type"], found["entity_name"]) == ("target", "web")
    assert (found["targets"], found["compared"]) == (1, 1)
    # before: 2 up samples; after: 3 down, 3 failed outcomes, no flip inside either window
    assert found["availability"] == {"before": 100.0, "after": 0.0, "delta": -100.0}
    assert found["failures"] == {"before": 0.0, "after": 3.0, "delta": 3.0}
    assert found["state_changes"] == {"before": 0.0, "after": 0.0, "delta": 0.0}
    assert "availability 100 % → 0 %" in found["reasons"]
    # the job and target created by the file at start: nothing before them to compare
    created = [c for c in listing if c["action"] == "create"]
    assert created and all(c["verdict"] == "no data" for c in created)

    detail = client.get(f"{IMPACT}/{change['id']}", params={"hours": 6}).json()
    [web] = detail["affected"]
    assert web["target"] == "web" and web["after"]["failures"] == 3
    # a site change touches its targets
    site_change = next(c for c in listing if c["entity_type"] == "site")
    assert site_change["targets"] == 2

    page = client.get("/analytics/impact", params={"hours": 6}).text
    row = re.search(rf'<tr data-change="{change["id"]}" data-verdict="([^"]+)">', page)
    assert row is not None and row.group(1) == "worse"
    assert "style=" not in page and "<script>" not in page


def test_bad_input_is_named(start_app: StartApp, listener: int) -> None:
    client = start_app(config(listener, listener))
    assert client.get(f"{IMPACT}/999999").status_code == 404
    bad = client.get(IMPACT, params={"hours": "0"})
    assert bad.status_code == 422 and "hours" in bad.text
    assert client.get(IMPACT, params={"limit": "1000"}).status_code == 422
