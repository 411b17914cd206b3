"""Attacks on a running service, one file per hole: each test plays an outsider, a viewer,
an operator or an agent, and checks what the server did (or, mostly, did not do)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from tests.conftest import NetgaugeServe, service_of
from tests.integration.conftest import StartApp

PASSWORD = "correct horse battery staple"
Headers = dict[str, str]


def bearer(client: TestClient, role: Role) -> Headers:
    """Headers with a fresh API token of ``role`` (made straight in the accounts)."""
    accounts = service_of(client).accounts
    token, _ = accounts.create_api_token(f"attack-{role}", role, FIRST_ADMIN, "tests")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def serve(start_app: StartApp) -> Callable[..., TestClient]:
    """Start a service on ``config`` (YAML text) with extra settings, no credentials sent;
    stopped after."""

    def start(config: str = "", **settings_update: Any) -> TestClient:
        update: dict[str, Any] = {"admin_password": PASSWORD, **settings_update}
        return start_app(
            config,
            name="attack.yaml",
            source="attack",
            raise_server_exceptions=False,
            login=None,
            **update,
        )

    return start


class Served(NetgaugeServe):
    """A `netgauge serve` subprocess on loopback, as a user runs it."""

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def async_client(self, source: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        """An async client; ``source``: the loopback address its connections come from."""
        transport = httpx.AsyncHTTPTransport(local_address=source) if source else None
        return httpx.AsyncClient(base_url=self.url, timeout=60, transport=transport, **kwargs)

    def admin_token(self) -> str:
        with self.client() as http:
            r = http.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
            assert r.status_code == 200, r.text
            return str(r.json()["access_token"])


@pytest.fixture
def netgauge_serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `netgauge serve` with a YAML config (text) and extra environment (its first
    admin's password: PASSWORD; nobody logged in)."""
    started: list[Served] = []

    def start(config: str = "", env: dict[str, str] | None = None) -> Served:
        config_file = tmp_path / "netgauge.yaml"
        config_file.write_text(config or "targets: []\n")
        served = Served(
            tmp_path / "data",
            config_file,
            env={"NETGAUGE_ADMIN_PASSWORD": PASSWORD, **(env or {})},
            cwd=tmp_path,
        )
        started.append(served)
        served.start(timeout=60, login=False)
        return served

    yield start
    for served in started:
        served.stop(grace=20)


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.hits.append(self.path)
        status, headers, body = self.routes.get(self.path, (404, {}, b"no such page"))
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[Callable[..., tuple[str, int]]]:
    """A plain HTTP server on a loopback address: ``web_server(routes, host, hits)`` gives
    (host, port); routes map a path to (status, headers, body); ``hits`` (a list) gets the
    path of every request."""
    servers: list[ThreadingHTTPServer] = []

    def start(
        routes: dict[str, tuple[int, dict[str, str], bytes]],
        host: str = "127.0.0.1",
        hits: list[str] | None = None,
    ) -> tuple[str, int]:
        handler = type(
            "Pages", (_Handler,), {"routes": routes, "hits": [] if hits is None else hits}
        )
        server = ThreadingHTTPServer((host, 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return host, int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
