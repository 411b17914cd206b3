"""Fixtures of the storage integration tests: a real InfluxDB 1.x server on 127.0.0.1.

Traffic goes only to the server this fixture starts on 127.0.0.1 (see ``tests.lab.influxdb``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.influxdb import InfluxDB, missing_influxdb


@pytest.fixture(scope="session")
def influxdb() -> Iterator[InfluxDB]:
    """One influxd for the whole session (stopped after it); tests use databases of their own.

    Skips, naming the Debian package, when influxd is missing.
    """
    reason = missing_influxdb()
    if reason:
        pytest.skip(reason)
    with InfluxDB() as server:
        yield server
