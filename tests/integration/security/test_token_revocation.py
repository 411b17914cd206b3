"""Revoking an API token, or disabling a user, takes effect at the next request, even with
every cache of the request path warm (the answers of token and user lookups are kept for
10 s, and a target list page until the next change): no window, not even a few seconds.
A lookup that was running while the revocation committed is not kept either."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.auth.accounts import FIRST_ADMIN, MISS, Accounts
from netgauge.auth.roles import Principal, Role
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.inventory import Inventory
from netgauge.service import Service
from tests.conftest import TEST_ADMIN_PASSWORD, as_admin

CONFIG = "targets:\n  - {name: gw, address: 127.0.0.1}\n"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    service = Service(settings, load_config_text(CONFIG, "r.yaml").config, "r.yaml")
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        yield c


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_revoked_api_token_is_refused_at_the_next_request(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    token, token_id = service.accounts.create_api_token("poller", Role.VIEWER, FIRST_ADMIN, "t")
    for _ in range(5):  # the token's lookup and the page are both kept now
        assert client.get("/api/v1/targets", headers=_bearer(token)).status_code == 200
    assert service.accounts.peek("token_principal", token) is not MISS
    admin = as_admin(client)
    assert admin.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    refused = client.get("/api/v1/targets", headers=_bearer(token))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_a_disabled_users_access_token_is_refused_at_the_next_request(
    client: TestClient,
) -> None:
    admin = as_admin(client)
    made = admin.post(
        "/api/v1/users",
        json={"username": "olga", "password": TEST_ADMIN_PASSWORD + "-olga", "role": "viewer"},
    )
    assert made.status_code == 201, made.text
    login = {"username": "olga", "password": TEST_ADMIN_PASSWORD + "-olga"}
    access = client.post("/api/v1/auth/login", json=login).json()["access_token"]
    for _ in range(5):
        assert client.get("/api/v1/targets", headers=_bearer(access)).status_code == 200
    assert admin.patch("/api/v1/users/olga", json={"disabled": True}).status_code == 200
    assert client.get("/api/v1/targets", headers=_bearer(access)).status_code == 401


def test_a_lookup_overtaken_by_a_revocation_is_not_kept(inventory: Inventory) -> None:
    accounts = Accounts(inventory)
    accounts.ensure_first_admin(TEST_ADMIN_PASSWORD)
    token, token_id = accounts.create_api_token("poller", Role.VIEWER, FIRST_ADMIN, "t")
    read = accounts._load_token

    def overtaken(given: str) -> Principal | None:
        found = read(given)  # the row as it was...
        accounts.revoke_api_token(token_id, "admin")  # ...then the revocation commits
        return found

    accounts._load_token = overtaken  # type: ignore[method-assign, assignment]
    assert accounts.token_principal(token) is not None  # that request's answer: read before
    accounts._load_token = read  # type: ignore[method-assign]
    assert accounts.peek("token_principal", token) is MISS
    assert accounts.token_principal(token) is None
