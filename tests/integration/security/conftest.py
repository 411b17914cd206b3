"""Attacks on a running service, one file per hole: each test plays an outsider, a viewer,
an operator or an agent, and checks what the server did (or, mostly, did not do)."""

from __future__ import annotations

import os
import subprocess
import sys
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
from tests.conftest import free_port, wait_for
from tests.integration.conftest import StartApp

PASSWORD = "correct horse battery staple"
Headers = dict[str, str]


def bearer(client: TestClient, role: Role) -> Headers:
    """Headers with a fresh API token of ``role`` (made straight in the accounts)."""
    accounts = client.app.state.service.accounts  # type: ignore[attr-defined]
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


class Served:
    """A `netgauge serve` subprocess on loopback, as a user runs it."""

    def __init__(self, proc: subprocess.Popen[str], port: int, data: Path) -> None:
        self.proc, self.port, self.data = proc, port, data
        self.url = f"http://127.0.0.1:{port}"

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

    def up(self) -> bool:
        try:
            with self.client() as http:
                return http.get("/api/v1/health").status_code == 200
        except httpx.TransportError:
            if self.proc.poll() is not None:
                raise AssertionError(self.proc.stderr.read() if self.proc.stderr else "") from None
            return False


@pytest.fixture
def netgauge_serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `netgauge serve` with a YAML config (text) and extra environment."""
    started: list[Served] = []

    def start(config: str = "", env: dict[str, str] | None = None) -> Served:
        port, data = free_port(), tmp_path / "data"
        config_file = tmp_path / "netgauge.yaml"
        config_file.write_text(config or "targets: []\n")
        cmd = [sys.executable, "-m", "netgauge", "serve", "--port", str(port),
               "--data-dir", str(data), "--config", str(config_file)]  # fmt: skip
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NETGAUGE_ADMIN_PASSWORD": PASSWORD, **(env or {})},
            cwd=tmp_path,
        )
        served = Served(proc, port, data)
        started.append(served)
        wait_for(served.up, timeout=60, what="netgauge serve to answer")
        return served

    yield start
    for served in started:
        if served.proc.poll() is None:
            served.proc.terminate()
            try:
                served.proc.wait(20)
            except subprocess.TimeoutExpired:
                served.proc.kill()
                served.proc.wait(10)


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
