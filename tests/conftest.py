"""Shared fixtures: temporary settings, a real PostgreSQL server, inventory engines."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
from sqlalchemy import make_url, text

from netgauge.config.settings import Settings
from netgauge.datadir import private_dir
from netgauge.inventory import Inventory, make_engine, migrate

if TYPE_CHECKING:  # bench/ imports this module's helpers: no web stack at import
    from fastapi.testclient import TestClient

    from netgauge.service import Service

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    """Every service a test starts hashes its first admin's password: at argon2's minimum
    cost in the tests (in the environment, so that the `netgauge serve` subprocesses inherit
    it too), the recommended cost everywhere else (netgauge.auth.passwords; tests/unit/auth/
    test_passwords.py checks both and that nothing else selects the cheap one). Set here, not
    at import: bench/ imports helpers from this module and measures the real cost."""
    os.environ.setdefault("NETGAUGE_ARGON2_PROFILE", "insecure-tests-only")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns a truthy value (returned); fail after ``timeout``
    seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# -- inventories: migrated once per run ---------------------------------------------------------
# Running the Alembic migrations costs a service start most of its time (~0.2 s, more under
# load), and every test starts at least one. Once per session a template is migrated (a SQLite
# file; a PostgreSQL database) and each test gets a copy of it (a file copy; CREATE DATABASE
# ... TEMPLATE): the service's own `migrate` still runs at its start, and finds the schema at
# its head.
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite inventory file migrated to the newest revision, to copy (never to open)."""
    path = tmp_path_factory.mktemp("inventory-template") / "inventory.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection closed: the WAL is folded into the file, removed
    assert not path.with_name("inventory.db-wal").exists()
    return path


def copy_inventory(template: Path, path: Path) -> Path:
    """``path`` a copy of the migrated ``template``, made as netgauge makes its own data
    directory (0700) and inventory file (0600)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, template.open("rb") as src:
        shutil.copyfileobj(src, out)
    return path


@pytest.fixture
def migrated_sqlite(sqlite_template: Path, tmp_path: Path) -> str:
    """The URL of a migrated, empty SQLite inventory of this test's own."""
    return f"sqlite:///{copy_inventory(sqlite_template, tmp_path / 'inventory.db')}"


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings pointing at a data directory of the test's own, holding a migrated empty
    inventory (as a service's first start leaves it); none at all, for a test marked
    ``fresh_data_dir`` (one about what that first start creates)."""
    data = tmp_path / "data"
    if request.node.get_closest_marker("fresh_data_dir") is None:
        copy_inventory(request.getfixturevalue("sqlite_template"), data / "inventory.db")
    return Settings(data_dir=data, port=0)


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


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> Iterator[str]:
    """The name of a PostgreSQL database migrated to the newest revision, to copy (CREATE
    DATABASE ... TEMPLATE: nobody may be connected to it then, so nothing stays connected);
    dropped after the session. The server's role needs CREATEDB (the fixture's own has)."""
    name = f"netgauge_template_{os.getpid()}"
    admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    template = make_engine(_database_url(postgres_url, name))
    migrate(template)
    template.dispose()
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _database_url(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture
def migrated_postgres(postgres_url: str, postgres_template: str) -> Iterator[str]:
    """The URL of a migrated, empty PostgreSQL database of this test's own (a copy of the
    template), dropped after the test."""
    name = f"netgauge_t_{os.getpid()}_{next(_DATABASES)}"
    admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    try:
        yield _database_url(postgres_url, name)
    finally:
        with admin.connect() as conn:  # WITH (FORCE): a connection the test leaked ends too
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_DATABASES = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def inventory(request: pytest.FixtureRequest) -> Iterator[Inventory]:
    """A migrated, empty inventory on SQLite and on PostgreSQL."""
    fixture = "migrated_sqlite" if request.param == "sqlite" else "migrated_postgres"
    engine = make_engine(request.getfixturevalue(fixture))
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


def service_of(client: TestClient) -> Service:
    """The service behind a TestClient of netgauge's app (kept in the app's state)."""
    from fastapi import FastAPI

    app = client.app
    assert isinstance(app, FastAPI), app
    service: Service = app.state.service
    return service


def as_admin(client: TestClient) -> TestClient:
    """``client`` (a started TestClient) sending an admin API token with every request."""
    from netgauge.auth.accounts import FIRST_ADMIN
    from netgauge.auth.roles import Role

    accounts = service_of(client).accounts
    token, _ = accounts.create_api_token("tests", Role.ADMIN, FIRST_ADMIN, "tests")
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


# -- `netgauge serve` as a subprocess -----------------------------------------------------------
class NetgaugeServe:
    """`netgauge serve` as a user runs it: a subprocess on 127.0.0.1 with its data directory and
    (optionally) a config file, its output appended to a log file. Started (and waited for
    until /api/v1/health answers, then logged in as the first admin), stopped (SIGTERM, SIGKILL
    when that does not end it), killed, started again on the same port and data directory.

    ``env``: added to ``base_env`` (this process's environment by default, which carries the
    tests' argon2 profile) and the first admin's password.
    """

    def __init__(
        self,
        data: Path,
        config: Path | None = None,
        *,
        port: int | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        base_env: Mapping[str, str] | None = None,
        log: Path | None = None,
        cwd: Path | None = None,
        http_timeout: float = 10.0,
    ) -> None:
        self.data, self.config, self.port = data, config, port or free_port()
        self.args, self.cwd = list(args), cwd
        self.env = {**(os.environ if base_env is None else base_env), **admin_env(), **(env or {})}
        self.log = log or data.parent / "serve.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.url, timeout=http_timeout)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The running process's id."""
        assert self.proc is not None, "not started"
        return self.proc.pid

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "netgauge", "serve", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data)]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        return cmd + self.args

    def start(self, timeout: float = 30.0, login: bool = True) -> None:
        """Start it and wait until it answers; log the admin in unless ``login=False``."""
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
            )
        wait_for(self.healthy, timeout=timeout, what="netgauge serve to answer /api/v1/health")
        self.http.headers.pop("Authorization", None)
        if login:
            log_in(self.http)

    def healthy(self) -> bool:
        """It answers /api/v1/health (an AssertionError with its output when it has exited)."""
        assert self.proc is not None and self.proc.poll() is None, self.output()
        try:
            return bool(self.http.get("/api/v1/health").status_code == 200)
        except httpx.TransportError:
            return False

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM (a clean stop), SIGKILL after ``grace`` seconds; its exit status."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL: no shutdown of its own at all."""
        proc, self.proc = self.proc, None
        assert proc is not None and proc.poll() is None
        proc.kill()
        proc.wait(10)

    def output(self, last: int = 4000) -> str:
        """The end of what it wrote (stdout and stderr)."""
        return self.log.read_text(errors="replace")[-last:] if self.log.exists() else ""
