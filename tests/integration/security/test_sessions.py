"""Issue: access tokens outlived a logout or a password reset, a user made again under a
deleted user's name inherited the old user's tokens, a refresh token could be spent several
times in parallel, and any 12 characters made a password."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi.testclient import TestClient

from netgauge.auth.accounts import Accounts
from netgauge.auth.roles import Role
from netgauge.inventory import Inventory
from tests.integration.security.conftest import PASSWORD, bearer


def login(client: TestClient, username: str = "admin", password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    return dict(r.json())


def me(client: TestClient, access: str) -> int:
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"})
    return int(r.status_code)


def test_logout_ends_the_access_token(serve: Callable[..., TestClient]) -> None:
    client = serve()
    tokens = login(client)
    assert me(client, tokens["access_token"]) == 200
    out = client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    assert me(client, tokens["access_token"]) == 401
    # a session elsewhere renews itself with its own refresh token
    other = login(client)
    assert me(client, other["access_token"]) == 200


def test_a_new_password_ends_every_session(serve: Callable[..., TestClient]) -> None:
    client = serve()
    admin = bearer(client, Role.ADMIN)
    new = {"username": "olga", "password": "operator password 1", "role": "operator"}
    assert client.post("/api/v1/users", json=new, headers=admin).status_code == 201
    olga = login(client, "olga", new["password"])
    reset = client.patch("/api/v1/users/olga", json={"password": "another long passphrase"},
                         headers=admin)  # fmt: skip
    assert reset.status_code == 200
    assert me(client, olga["access_token"]) == 401
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": olga["refresh_token"]})
    assert refreshed.status_code == 401


def test_a_user_made_again_under_the_same_name_inherits_nothing(
    serve: Callable[..., TestClient],
) -> None:
    client = serve()
    admin = bearer(client, Role.ADMIN)
    bob = {"username": "bob", "password": "first bob's passphrase", "role": "admin"}
    assert client.post("/api/v1/users", json=bob, headers=admin).status_code == 201
    old = login(client, "bob", bob["password"])
    assert client.delete("/api/v1/users/bob", headers=admin).status_code == 204
    again = {**bob, "password": "second bob's passphrase", "role": "viewer"}
    assert client.post("/api/v1/users", json=again, headers=admin).status_code == 201
    assert me(client, old["access_token"]) == 401


def test_a_refresh_token_is_spent_once_however_many_try_at_once(inventory: Inventory) -> None:
    accounts = Accounts(inventory)
    accounts.create_user("carol", "carol's long passphrase", Role.VIEWER, "tests")
    for _ in range(5):  # a race is a matter of luck: give it several chances
        token = accounts.issue_refresh("carol", timedelta(days=1))
        start = threading.Barrier(8)

        def spend(_: int, token: str = token, start: threading.Barrier = start) -> str | None:
            start.wait()
            return accounts.use_refresh(token)

        with ThreadPoolExecutor(8) as pool:
            winners = [who for who in pool.map(spend, range(8)) if who is not None]
        assert winners == ["carol"], winners


def test_common_and_blank_passwords_are_refused(serve: Callable[..., TestClient]) -> None:
    client = serve()
    admin = bearer(client, Role.ADMIN)
    for weak in ("password1234", "qwertyuiopasdf", "123456789012", " " * 16, "aaaaaaaaaaaaaaa"):
        r = client.post(
            "/api/v1/users", json={"username": "w", "password": weak, "role": "viewer"},
            headers=admin,
        )  # fmt: skip
        assert r.status_code == 422 and "password" in r.json()["detail"], (weak, r.text)
    strong = {"username": "w", "password": "violet kettle under moonlight", "role": "viewer"}
    assert client.post("/api/v1/users", json=strong, headers=admin).status_code == 201


def test_the_secure_cookies_setting_marks_every_session_cookie(
    serve: Callable[..., TestClient],
) -> None:
    client = serve(secure_cookies=True)  # behind a TLS proxy that sends no X-Forwarded-Proto
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 3 and all("Secure" in c for c in cookies), cookies
