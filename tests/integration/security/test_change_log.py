"""Issue: /api/v1/changes was readable by viewers, and listed every user, API token, agent
token and credentials reference (which names the variables and files holding secrets).
Lower roles now see the inventory's own history only."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from tests.integration.security.conftest import bearer

CONFIG = """
credentials:
  - {name: core, kind: snmp, env: {community: SECRET_COMMUNITY_VAR}, files: {x: /run/s/x}}
targets:
  - {name: gw, address: 127.0.0.1, type: device}
"""
PRIVATE = {"user", "api_token", "agent_token", "credentials"}


def test_viewers_and_operators_see_the_inventory_history_only(
    serve: Callable[..., TestClient],
) -> None:
    client = serve(CONFIG)
    admin = bearer(client, Role.ADMIN)
    client.post("/api/v1/devices/gw/agent-token", headers=admin)
    everything = client.get("/api/v1/changes", params={"limit": 1000}, headers=admin).json()
    assert PRIVATE <= {c["entity_type"] for c in everything}
    for role in (Role.VIEWER, Role.OPERATOR):
        who = bearer(client, role)
        seen = client.get("/api/v1/changes", params={"limit": 1000}, headers=who)
        assert seen.status_code == 200
        types = {c["entity_type"] for c in seen.json()}
        assert types and not types & PRIVATE, types
        assert "SECRET_COMMUNITY_VAR" not in seen.text and "/run/s/x" not in seen.text
        for kind in sorted(PRIVATE):
            asked = client.get("/api/v1/changes", params={"entity_type": kind}, headers=who)
            assert asked.status_code == 403 and asked.json()["field"] == "entity_type"
