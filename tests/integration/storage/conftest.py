"""Fixtures of the storage integration tests: the real InfluxDB 1.x server is the session's
(``tests/conftest.py``: ``influxdb``, shared with the attack tests); ``secured_influxdb`` is
another with authentication on."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.lab.influxdb import InfluxDB, missing_influxdb

Login = tuple[str, str]


@dataclass
class SecuredInflux:
    """influxd with authentication on, as a careful administrator runs it: an admin, one
    database, a user with READ and WRITE on it only, and a user with READ only."""

    server: InfluxDB
    database: str
    admin: Login
    writer: Login
    reader: Login

    @property
    def url(self) -> str:
        return self.server.url

    def query(self, q: str, auth: Login | None = None) -> dict[str, Any]:
        """One InfluxQL statement as the admin (``auth``: another login); asserts success."""
        resp = httpx.post(
            f"{self.url}/query", params={"q": q, "epoch": "ns"}, auth=auth or self.admin
        )
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        assert all("error" not in r for r in body["results"]), body
        return body

    def values(self, database: str, device: str) -> list[Any]:
        """Every ``value`` of ``device`` in ``database``'s device_metrics, read by the admin."""
        q = f'SELECT "value" FROM "{database}".."device_metrics" WHERE device_id = \'{device}\''
        got = self.query(q)["results"][0]
        return [v for s in got.get("series", []) for _, v in s["values"]]


@pytest.fixture(scope="session")
def secured_influxdb() -> Iterator[SecuredInflux]:
    reason = missing_influxdb()
    if reason:
        pytest.skip(reason)
    with InfluxDB(auth=True) as server:
        lab = SecuredInflux(
            server,
            "metrics_prod",
            ("admin", secrets.token_urlsafe(12)),
            ("netgauge", secrets.token_urlsafe(12)),
            ("dashboards", secrets.token_urlsafe(12)),
        )
        # the first user may be created without credentials, and must be an admin
        first = f"CREATE USER {lab.admin[0]} WITH PASSWORD '{lab.admin[1]}' WITH ALL PRIVILEGES"
        httpx.post(f"{server.url}/query", params={"q": first}).raise_for_status()
        lab.query(f'CREATE DATABASE "{lab.database}"')
        for user, password in (lab.writer, lab.reader):
            lab.query(f"CREATE USER {user} WITH PASSWORD '{password}'")
        # ALL on one database is READ and WRITE on it (a second GRANT would replace the first)
        lab.query(f'GRANT ALL ON "{lab.database}" TO {lab.writer[0]}')
        lab.query(f'GRANT READ ON "{lab.database}" TO {lab.reader[0]}')
        yield lab
