"""Issue: POST /activity (any user, for the console's own reports) took any details of any
size as often as sent: a viewer wrote 116 MB into the audit trail in 0.3 s. Reports are now
small by construction and limited per user."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from tests.integration.security.conftest import bearer


def test_a_viewer_cannot_fill_the_audit_trail(serve: Callable[..., TestClient]) -> None:
    client = serve()
    viewer, admin = bearer(client, Role.VIEWER), bearer(client, Role.ADMIN)
    report = {"kind": "page_view", "page": "/devices/x", "details": {"ms": 12}}
    statuses = [
        client.post("/api/v1/activity", json=report, headers=viewer).status_code for _ in range(40)
    ]
    assert statuses[:30] == [204] * 30 and set(statuses[30:]) == {429}, statuses
    limited = client.post("/api/v1/activity", json=report, headers=viewer)
    assert int(limited.headers["Retry-After"]) >= 1
    # another user has a budget of their own
    assert client.post("/api/v1/activity", json=report, headers=admin).status_code == 204
    # big reports are refused whatever the budget left
    fresh = bearer(client, Role.VIEWER)
    many = {**report, "details": {f"k{i}": i for i in range(100)}}
    long = {**report, "details": {"k": "x" * 300}}
    wide = {**report, "details": {f"k{i}": "x" * 250 for i in range(12)}}
    for body, status in ((many, 422), (long, 422), (wide, 422)):
        r = client.post("/api/v1/activity", json=body, headers=fresh)
        assert r.status_code == status and r.json()["field"].startswith("body.details"), r.text
    huge = {**report, "page": "/x", "details": {"k": "x" * 20_000}}
    assert client.post("/api/v1/activity", json=huge, headers=fresh).status_code == 413
    service = client.app.state.service  # type: ignore[attr-defined]
    service.audit.flush()
    rows = client.get("/api/v1/activity", params={"limit": 1000}, headers=admin).json()
    assert len(rows) == 31  # the viewer's 30 and the admin's one
