"""Shared integration fixtures: a real service started from a YAML config text behind a
Starlette TestClient (the modules' ``client`` fixtures are one call to :func:`start_app`)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, Literal, Protocol

import pytest
from anyio.from_thread import BlockingPortal
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.config.loader import load_config_text
from netgauge.config.model import ConfigFile
from netgauge.config.settings import Settings
from netgauge.service import Service
from tests.conftest import as_admin, log_in

Login = Literal["token", "password", None]


class StartApp(Protocol):
    """The :func:`start_app` fixture's starter."""

    def __call__(
        self,
        config: str | ConfigFile = "",
        *,
        name: str = "test.yaml",
        source: str | None = None,
        settings: Settings | None = None,
        raise_server_exceptions: bool = True,
        login: Login = "token",
        **settings_update: Any,
    ) -> TestClient: ...


@pytest.fixture
def start_app(settings: Settings) -> Iterator[StartApp]:
    """Start a service and its app behind a TestClient; every one stopped after the test.

    ``config``: YAML text (loaded under ``name``) or a loaded :class:`ConfigFile`; ``source``:
    the name the service records as the config's source (``name`` by default); ``settings``:
    instead of the test's ``settings`` fixture, and ``settings_update`` applied to them.
    ``login``: ``"token"`` sends an admin API token made in the service's accounts with every
    request, ``"password"`` logs the first admin in over the API (its password must be in the
    settings: ``admin_password=TEST_ADMIN_PASSWORD``), ``None`` sends no credentials.
    """
    base = settings
    with ExitStack() as stack:

        def start(
            config: str | ConfigFile = "",
            *,
            name: str = "test.yaml",
            source: str | None = None,
            settings: Settings | None = None,
            raise_server_exceptions: bool = True,
            login: Login = "token",
            **settings_update: Any,
        ) -> TestClient:
            chosen = settings or base
            if settings_update:
                chosen = chosen.model_copy(update=settings_update)
            loaded = load_config_text(config, name).config if isinstance(config, str) else config
            service = Service(chosen, loaded, source or name)
            app = create_app(service)
            client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
            stack.enter_context(client)
            if login == "token":
                as_admin(client)
            elif login == "password":
                log_in(client)
            return client

        yield start


def portal(client: TestClient) -> BlockingPortal:
    """A started TestClient's portal: what it calls runs on the app's event loop."""
    assert client.portal is not None, "the TestClient is not started"
    return client.portal


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections (a tcp check of it succeeds; the
    kernel completes the handshakes in the backlog, nobody reads)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])
