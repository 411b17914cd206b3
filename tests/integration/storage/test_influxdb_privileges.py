"""InfluxDB 1.6 with authentication on, as a careful administrator runs it: netgauge's user
holds WRITE (and READ) on one existing database and nothing more. Writes must land without
``CREATE DATABASE`` (which such a user may not run), and every permission problem must be
reported as one, naming the user and the database, never as a bare outage."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from netgauge.errors import RetryableStorageError, StoragePermissionError
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.influxdb import InfluxV1Store
from tests.integration.storage.conftest import Login, SecuredInflux

pytestmark = pytest.mark.network

T0 = 1_700_000_000_000_000_000


def _store(lab: SecuredInflux, user: Login, db: str | None = None, **kw: Any) -> InfluxV1Store:
    return InfluxV1Store(lab.url, db or lab.database, username=user[0], password=user[1], **kw)


def _sample(value: float, device: str = "core-1") -> Sample:
    return Sample(DEVICE_METRICS, device, "cpu_percent", value, T0 + int(value))


async def _denied(store: InfluxV1Store, value: float) -> str:
    """The message of the StoragePermissionError a write gets (the store closed after)."""
    try:
        with pytest.raises(StoragePermissionError) as caught:
            await store.write([_sample(value)])
    finally:
        await store.close()
    return str(caught.value)


async def test_a_user_with_write_on_an_existing_database_writes(
    secured_influxdb: SecuredInflux,
) -> None:
    lab = secured_influxdb
    store = _store(lab, lab.writer)
    try:
        assert await store.write([_sample(12.5), _sample(13.0)]) == []
        got = await store.points("core-1", "cpu_percent", T0, T0 + 100)
    finally:
        await store.close()
    # what the admin reads back, by its own query, is what was written
    assert sorted(lab.values(lab.database, "core-1")) == [12.5, 13.0]
    assert [p.value for p in got] == [12.5, 13.0]


async def test_a_missing_database_the_user_may_not_create_is_a_permission_error(
    secured_influxdb: SecuredInflux,
) -> None:
    lab = secured_influxdb
    message = await _denied(_store(lab, lab.writer, db="not_made_yet"), 1.0)
    assert "'not_made_yet' does not exist" in message and "'netgauge' may not create" in message
    assert "create_database: false" in message
    assert lab.writer[1] not in message


async def test_create_database_false_never_creates_and_says_so(
    secured_influxdb: SecuredInflux,
) -> None:
    lab = secured_influxdb
    store = _store(lab, lab.admin, db="left_to_the_admin", create_database=False)
    try:
        with pytest.raises(RetryableStorageError, match="create_database is false"):
            await store.write([_sample(1.0)])
    finally:
        await store.close()
    names = lab.query("SHOW DATABASES")["results"][0]["series"][0]["values"]
    assert ["left_to_the_admin"] not in names


async def test_an_admin_user_creates_the_missing_database_on_first_write(
    secured_influxdb: SecuredInflux,
) -> None:
    lab = secured_influxdb
    db = f"fresh_{secrets.token_hex(3)}"
    store = _store(lab, lab.admin, db=db)
    try:
        assert await store.write([_sample(7.0)]) == []
    finally:
        await store.close()
    assert lab.values(db, "core-1") == [7.0]


async def test_read_only_user_gets_a_permission_error_naming_user_and_database(
    secured_influxdb: SecuredInflux,
) -> None:
    lab = secured_influxdb
    message = await _denied(_store(lab, lab.reader), 2.0)
    assert "permission denied" in message and "'dashboards'" in message
    assert f"'{lab.database}'" in message


async def test_a_wrong_password_is_an_authentication_error(
    secured_influxdb: SecuredInflux,
) -> None:
    lab = secured_influxdb
    wrong = (lab.writer[0], "not-" + lab.writer[1])
    message = await _denied(_store(lab, wrong), 3.0)
    assert "authentication failed" in message and wrong[1] not in message
