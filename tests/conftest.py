"""Shared fixtures: temporary settings, a real PostgreSQL server, inventory engines."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netgauge.config.settings import Settings
from netgauge.inventory import Inventory, make_engine, migrate

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh data directory."""
    return Settings(data_dir=tmp_path / "data", port=0)


def _pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return (
        str(Path(found[-1]).parent)
        if found
        else shutil.which("initdb") and str(Path(shutil.which("initdb") or "").parent)
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 (Debian package postgresql), stopped after."""
    if os.environ.get("NETGAUGE_TEST_PG_URL"):
        yield os.environ["NETGAUGE_TEST_PG_URL"]
        return
    pg_bin = _pg_bin()
    if not pg_bin:
        pytest.skip("needs a PostgreSQL server: Debian package postgresql")
    base = Path(tempfile.mkdtemp(prefix="netgauge-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: use the postgres system user
        if shutil.which("runuser") is None:
            pytest.skip("needs runuser (Debian package util-linux) to run PostgreSQL as root")
        shutil.chown(base, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", free_port()
    subprocess.run(
        [
            *run_as,
            f"{pg_bin}/initdb",
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "netgauge",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} "
        "-c fsync=off"
    )
    subprocess.run(
        [
            *run_as,
            f"{pg_bin}/pg_ctl",
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                f"{pg_bin}/createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "netgauge",
                "netgauge_test",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://netgauge@127.0.0.1:{port}/netgauge_test"
    finally:
        subprocess.run(
            [*run_as, f"{pg_bin}/pg_ctl", "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def inventory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Inventory]:
    """A migrated, empty inventory on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'inventory.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    if request.param == "postgresql":
        from sqlalchemy import text

        with engine.begin() as conn:  # each test starts from an empty schema
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate(engine)
    yield Inventory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def influxdb() -> Iterator[Any]:
    """One influxd on 127.0.0.1 for the whole session (stopped after it); tests use
    databases of their own. Skips, naming the Debian package, when influxd is missing."""
    from tests.lab.influxdb import InfluxDB, missing_influxdb

    reason = missing_influxdb()
    if reason:
        pytest.skip(reason)
    with InfluxDB() as server:
        yield server


@pytest.fixture
def victoriametrics() -> Iterator[Any]:
    """A victoria-metrics server of the test's own on 127.0.0.1 (it may stop and start it),
    removed after it. Skips, naming the Debian package, when it is missing."""
    from tests.lab.victoriametrics import VictoriaMetrics, missing_victoriametrics

    reason = missing_victoriametrics()
    if reason:
        pytest.skip(reason)
    with VictoriaMetrics() as server:
        yield server


# -- logging in ---------------------------------------------------------------------------------
# The API needs credentials on every route but health and login. Tests over a TestClient use an
# admin API token made straight in the service's accounts; tests of a `netgauge serve`
# subprocess give it the first admin's password and log in over HTTP.
TEST_ADMIN_PASSWORD = "netgauge-tests-admin-password"


def as_admin(client: Any) -> Any:
    """``client`` (a started TestClient) sending an admin API token with every request."""
    from netgauge.auth.accounts import FIRST_ADMIN
    from netgauge.auth.roles import Role

    service = client.app.state.service
    token, _ = service.accounts.create_api_token("tests", Role.ADMIN, FIRST_ADMIN, "tests")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def admin_env() -> dict[str, str]:
    """Environment giving a `netgauge serve` its first admin's password."""
    return {"NETGAUGE_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD}


def log_in(http: Any, username: str = "admin", password: str = TEST_ADMIN_PASSWORD) -> None:
    """Log an httpx client in; its later requests carry the access token."""
    r = http.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
