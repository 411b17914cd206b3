"""An HTTP check logs in with its target's credentials (stored through the API): Basic
or a bearer token, to a real server on loopback; never outside the credentials' scope,
and never to another host a redirect leads to."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import wait_for
from tests.integration.conftest import StartApp

USER, PASSWORD, TOKEN = "monitor", "s3cret-pass", "tok-123"


class Site:
    """A server on ``address`` that wants Basic or Bearer (``/private``), or redirects
    (``/away`` → ``to``); it keeps every Authorization header it was sent."""

    def __init__(self, address: str, to: str = "") -> None:
        seen: list[str | None] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                got = self.headers.get("Authorization")
                seen.append(got)
                if self.path == "/away":
                    self.send_response(302)
                    self.send_header("Location", to)
                    self.end_headers()
                    return
                basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                ok = self.path == "/open" or got in (basic, f"Bearer {TOKEN}")
                self.send_response(200 if ok else 401)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self.seen = seen
        self.httpd = http.server.ThreadingHTTPServer((address, 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site("127.0.0.1")
    yield s
    s.close()


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    return start_app("", name="h.yaml", raise_server_exceptions=False)


def check(client: TestClient, params: dict[str, Any], credentials: dict[str, Any]) -> Any:
    """A target with these credentials and an HTTP job over it, run once: its run."""
    assert client.put("/api/v1/credentials/web", json=credentials).status_code in (200, 201)
    target = {"name": "web", "address": "127.0.0.1", "credentials": "web"}
    assert client.put("/api/v1/targets/web", json=target).status_code in (200, 201)
    job = {"name": "web-http", "kind": "http", "params": params, "targets": ["web"],
           "interval": 3600, "enabled": False}  # fmt: skip
    assert client.put("/api/v1/jobs/web-http", json=job).status_code in (200, 201)
    before = len(client.get("/api/v1/jobs/web-http/runs").json()["items"])
    assert client.post("/api/v1/jobs/web-http/run").status_code == 202

    def done() -> Any:
        runs = client.get("/api/v1/jobs/web-http/runs").json()["items"]
        return runs[0] if len(runs) > before and runs[0]["status"] != "running" else None

    return wait_for(done, timeout=20, what="the HTTP check")


def test_basic_and_bearer_from_stored_credentials(client: TestClient, site: Site) -> None:
    params = {"port": site.port, "path": "/private"}
    basic = {"kind": "http", "username": USER, "secrets": {"password": PASSWORD}}
    assert check(client, params, basic)["status"] == "ok"
    wrong = {"kind": "http", "username": USER, "secrets": {"password": "nope"}}
    assert check(client, params, wrong)["status"] == "failed"  # the server said 401
    bearer = {"kind": "http", "secrets": {"token": TOKEN}}
    assert check(client, params, bearer)["status"] == "ok"
    assert f"Bearer {TOKEN}" in site.seen


def test_nothing_is_sent_outside_the_scope(client: TestClient, site: Site) -> None:
    elsewhere = {
        "kind": "http",
        "username": USER,
        "secrets": {"password": PASSWORD},
        "scope": {"addresses": ["127.0.0.1/32"]},
    }
    # the target is inside the scope, but the job's whole URL names another host
    other = Site("127.0.0.2")
    try:
        run = check(client, {"url": f"http://127.0.0.2:{other.port}/private"}, elsewhere)
        assert run["status"] == "failed" and "not allowed for 127.0.0.2" in run["error"]
        assert other.seen == []  # not even asked
    finally:
        other.close()
    inside = check(client, {"port": site.port, "path": "/private"}, elsewhere)
    assert inside["status"] == "ok"


def test_a_redirect_to_another_host_does_not_carry_the_password(
    client: TestClient, site: Site
) -> None:
    other = Site("127.0.0.2")
    first = Site("127.0.0.1", to=f"http://127.0.0.2:{other.port}/open")
    try:
        params = {"port": first.port, "path": "/away", "follow_other_hosts": True}
        creds = {"kind": "http", "username": USER, "secrets": {"password": PASSWORD}}
        assert check(client, params, creds)["status"] == "ok"
        assert first.seen[0] is not None  # the target itself got the login
        assert other.seen == [None]  # the host it was sent on to did not
    finally:
        first.close()
        other.close()
