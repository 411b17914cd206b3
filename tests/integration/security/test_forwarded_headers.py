"""Issue: X-Forwarded-For was believed from anyone on loopback (uvicorn's default), so a
local client could rotate its apparent address past the per-address login throttle and
forge the request log. Forwarded headers now count only from ``trusted_proxies``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import wait_for
from tests.integration.security.conftest import PASSWORD, Served

pytestmark = pytest.mark.network


def _logged_clients(served: Served, token: str, logins: int) -> set[str]:
    """The client addresses of the request log's logins, once all ``logins`` are in it
    (rows are written in batches every couple of seconds: one batch may hold some only)."""

    def rows() -> list[dict[str, Any]] | None:
        with served.client(headers={"Authorization": f"Bearer {token}"}) as http:
            found = http.get("/api/v1/logs/requests", params={"limit": 1000}).json()
        seen = [r for r in found if r["path"] == "/api/v1/auth/login"]
        return seen if len(seen) >= logins else None

    return {str(r["client"]) for r in wait_for(rows, timeout=15, what="the request log")}


def test_forwarded_headers_from_anyone_are_ignored(netgauge_serve: Callable[..., Served]) -> None:
    served = netgauge_serve()
    token = served.admin_token()

    async def rotate() -> list[int]:
        async with served.async_client() as http:
            statuses = []
            for i in range(10):  # one guess per made-up address, each at another account
                r = await http.post(
                    "/api/v1/auth/login",
                    json={"username": f"user{i}", "password": "not the password at all"},
                    headers={"X-Forwarded-For": f"10.66.0.{i + 1}"},
                )
                statuses.append(r.status_code)
            return statuses

    statuses = asyncio.run(rotate())
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses
    assert _logged_clients(served, token, 10) == {"127.0.0.1"}  # not the forged ones


def test_a_trusted_proxy_is_believed_and_its_https_makes_cookies_secure(
    netgauge_serve: Callable[..., Served],
) -> None:
    served = netgauge_serve("settings: {trusted_proxies: [127.0.0.1/32]}\n")
    forwarded = {"X-Forwarded-For": "10.77.0.9", "X-Forwarded-Proto": "https"}
    with served.client() as http:
        r = http.post(
            "/api/v1/auth/login",
            json={"username": "admin", "password": PASSWORD},
            headers=forwarded,
        )
        assert r.status_code == 200
        cookies = r.headers.get_list("set-cookie")
        assert cookies and all("Secure" in c for c in cookies), cookies
        plain = http.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        assert not any("Secure" in c for c in plain.headers.get_list("set-cookie"))
    # the same headers from an address that is not the proxy count for nothing
    with httpx.Client(
        base_url=served.url, transport=httpx.HTTPTransport(local_address="127.0.0.5")
    ) as other:
        other.post(
            "/api/v1/auth/login",
            json={"username": "admin", "password": "wrong wrong wrong"},
            headers={"X-Forwarded-For": "10.88.0.1"},
        )
    assert _logged_clients(served, r.json()["access_token"], 3) == {"10.77.0.9", "127.0.0.1",
                                                                  "127.0.0.5"}  # fmt: skip
