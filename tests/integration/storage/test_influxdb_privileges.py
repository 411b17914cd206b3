"""InfluxDB 1.6 with authentication on, as a careful administrator runs it: netgauge's user
holds WRITE (and READ) on one existing database and nothing more. Writes must land without
``CREATE DATABASE`` (which such a user may not run), and every permission problem must be
reported as one, naming the user and the database, never as a bare outage."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from netgauge.errors import RetryableStorageError, StoragePermissionError
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.influxdb import InfluxV1Store
from tests.lab.influxdb import InfluxDB, missing_influxdb

pytestmark = pytest.mark.network

ADMIN = ("admin", secrets.token_urlsafe(12))
WRITER = ("netgauge", secrets.token_urlsafe(12))
READER = ("dashboards", secrets.token_urlsafe(12))
DB = "metrics_prod"
T0 = 1_700_000_000_000_000_000


def _query(server: InfluxDB, q: str, auth: tuple[str, str] | None = ADMIN) -> dict[str, Any]:
    resp = httpx.post(f"{server.url}/query", params={"q": q, "epoch": "ns"}, auth=auth)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert all("error" not in r for r in body["results"]), body
    return body


@pytest.fixture(scope="module")
def server() -> Iterator[InfluxDB]:
    reason = missing_influxdb()
    if reason:
        pytest.skip(reason)
    with InfluxDB(auth=True) as influx:
        # the first user may be created without credentials, and must be an admin
        first = f"CREATE USER {ADMIN[0]} WITH PASSWORD '{ADMIN[1]}' WITH ALL PRIVILEGES"
        _query(influx, first, None)
        _query(influx, f'CREATE DATABASE "{DB}"')
        _query(influx, f"CREATE USER {WRITER[0]} WITH PASSWORD '{WRITER[1]}'")
        # ALL on one database is READ and WRITE on it (a second GRANT would replace the first)
        _query(influx, f'GRANT ALL ON "{DB}" TO {WRITER[0]}')
        _query(influx, f"CREATE USER {READER[0]} WITH PASSWORD '{READER[1]}'")
        _query(influx, f'GRANT READ ON "{DB}" TO {READER[0]}')
        yield influx


def _store(server: InfluxDB, user: tuple[str, str], db: str = DB, **kw: Any) -> InfluxV1Store:
    return InfluxV1Store(server.url, db, username=user[0], password=user[1], **kw)


def _sample(value: float, device: str = "core-1") -> Sample:
    return Sample(DEVICE_METRICS, device, "cpu_percent", value, T0 + int(value))


async def test_a_user_with_write_on_an_existing_database_writes(server: InfluxDB) -> None:
    store = _store(server, WRITER)
    try:
        assert await store.write([_sample(12.5), _sample(13.0)]) == []
        got = await store.points("core-1", "cpu_percent", T0, T0 + 100)
    finally:
        await store.close()
    # what the admin reads back, by its own query, is what was written
    rows = _query(server, f'SELECT "value" FROM "{DB}".."device_metrics"')["results"][0]
    assert sorted(v for _, v in rows["series"][0]["values"]) == [12.5, 13.0]
    assert [p.value for p in got] == [12.5, 13.0]


async def test_a_missing_database_the_user_may_not_create_is_a_permission_error(
    server: InfluxDB,
) -> None:
    store = _store(server, WRITER, db="not_made_yet")
    try:
        with pytest.raises(StoragePermissionError) as caught:
            await store.write([_sample(1.0)])
    finally:
        await store.close()
    message = str(caught.value)
    assert "'not_made_yet' does not exist" in message and "'netgauge' may not create" in message
    assert "create_database: false" in message
    assert WRITER[1] not in message


async def test_create_database_false_never_creates_and_says_so(server: InfluxDB) -> None:
    store = _store(server, ADMIN, db="left_to_the_admin", create_database=False)
    try:
        with pytest.raises(RetryableStorageError, match="create_database is false"):
            await store.write([_sample(1.0)])
    finally:
        await store.close()
    names = _query(server, "SHOW DATABASES")["results"][0]["series"][0]["values"]
    assert ["left_to_the_admin"] not in names


async def test_an_admin_user_creates_the_missing_database_on_first_write(server: InfluxDB) -> None:
    db = f"fresh_{secrets.token_hex(3)}"
    store = _store(server, ADMIN, db=db)
    try:
        assert await store.write([_sample(7.0)]) == []
    finally:
        await store.close()
    rows = _query(server, f'SELECT "value" FROM "{db}".."device_metrics"')["results"][0]
    assert [v for _, v in rows["series"][0]["values"]] == [7.0]


async def test_read_only_user_gets_a_permission_error_naming_user_and_database(
    server: InfluxDB,
) -> None:
    store = _store(server, READER)
    try:
        with pytest.raises(StoragePermissionError) as caught:
            await store.write([_sample(2.0)])
    finally:
        await store.close()
    message = str(caught.value)
    assert "permission denied" in message and "'dashboards'" in message and f"'{DB}'" in message


async def test_a_wrong_password_is_an_authentication_error(server: InfluxDB) -> None:
    wrong = (WRITER[0], "not-" + WRITER[1])
    store = _store(server, wrong)
    try:
        with pytest.raises(StoragePermissionError, match="authentication failed") as caught:
            await store.write([_sample(3.0)])
    finally:
        await store.close()
    assert wrong[1] not in str(caught.value)
