"""`netgauge serve` as a user runs it: a subprocess, the default config, a clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from netgauge.storage.embedded import EmbeddedStore
from tests.conftest import NetgaugeServe, wait_for

DEFAULT_INTERVAL_S = 30.0  # the default config's job interval (netgauge.config.defaults)


def netgauge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the netgauge CLI once, as a user would, and capture what it says."""
    cmd = [sys.executable, "-m", "netgauge", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd)


class Served(NetgaugeServe):
    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(path, params=params).json()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `netgauge serve` (arguments, extra environment) on ``tmp_path / "data"``, run
    from ``tmp_path``; whatever still runs is killed after the test."""
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Served:
        served = Served(tmp_path / "data", args=args, env=env, cwd=tmp_path, http_timeout=5)
        started.append(served)
        served.start()
        return served

    yield start
    for served in started:
        if served.proc is not None and served.proc.poll() is None:
            served.kill()


@pytest.mark.network
def test_default_config_shows_live_data_within_one_interval(serve: Callable[..., Served]) -> None:
    s = serve()
    up_ns = time.time_ns()  # the API answers: the scheduler is running
    assert s.get("/api/v1/health/details")["scheduler"]["jobs"] == 2
    jobs = {j["name"]: j for j in s.get("/api/v1/jobs")}
    assert set(jobs) == {"ping-localhost", "netgauge-api-tcp"}
    assert jobs["netgauge-api-tcp"]["params"]["port"] == s.port  # it checks itself

    def points(metric: str) -> Any:
        return s.get("/api/v1/metrics", target="localhost", metric=metric)["points"] or None

    rtt = wait_for(
        lambda: points("icmp.rtt_avg_ms"),
        timeout=DEFAULT_INTERVAL_S + 10,
        what="the first ICMP sample",
    )
    connect = wait_for(
        lambda: points("tcp.connect_ms"),
        timeout=DEFAULT_INTERVAL_S + 10,
        what="the first TCP sample",
    )
    assert 0 < rtt[0]["value"] < 1000 and 0 < connect[0]["value"] < 1000
    # the first samples were taken within one interval of the server answering
    for first in (rtt[0], connect[0]):
        assert first["ts"] - up_ns <= DEFAULT_INTERVAL_S * 1e9
    state = s.get("/api/v1/status/localhost")
    # localhost is a device: its live state is the decided one (online), never "up"
    assert state["state"] == "online" and {c["kind"] for c in state["checks"]} == {"icmp", "tcp"}


@pytest.mark.network
def test_sigterm_flushes_every_accepted_sample(serve: Any, tmp_path: Path) -> None:
    # a flush interval far beyond the test: samples stay pending until the shutdown flush
    s = serve(env={"NETGAUGE_WRITE_FLUSH_INTERVAL_S": "300", "NETGAUGE_LOG_FORMAT": "json"})
    assert s.http.post("/api/v1/jobs/netgauge-api-tcp/run").status_code == 202
    wait_for(lambda: s.get("/api/v1/health")["stores"][0]["pending"] > 0, what="pending samples")
    status = s.stop(grace=60)
    err = s.output(last=10**8)
    # uvicorn re-raises the signal after its graceful shutdown: 0 or -SIGTERM both mean clean
    assert status in (0, -signal.SIGTERM), err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    stopped = [e for e in events if e.get("event") == "service.stopped"]
    assert stopped, err
    accepted = stopped[0]["samples_accepted"]
    assert accepted > 0 and _stored(s.data / "metrics.db") == accepted


def _stored(path: Path) -> int:
    """Distinct samples in an embedded store file, read as netgauge reads it."""

    async def count() -> int:
        store = EmbeddedStore(path)
        try:
            return await store.count()
        finally:
            await store.close()

    return asyncio.run(count())


def test_bad_config_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  - name: a\n    address: 127.0.0.1\n    colour: red\n")
    r = netgauge("serve", "--config", str(bad), cwd=tmp_path)
    assert r.returncode == 2
    assert f"{bad}:4: targets[0].colour: unknown key: remove it, or check its spelling" in r.stderr
    assert not (tmp_path / "netgauge-data").exists()  # nothing created on a refused start


def test_help_lists_the_commands() -> None:
    r = netgauge("--help")
    assert r.returncode == 0
    for command in ("serve", "check-config", "probe"):
        assert command in r.stdout
    for sub in (["serve"], ["check-config"], ["probe", "icmp"]):
        h = netgauge(*sub, "--help")
        assert h.returncode == 0 and "usage" in h.stdout.lower()


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = netgauge("serve", "--port", str(port), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"netgauge: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(choose another with --port/--host or NETGAUGE_PORT/NETGAUGE_HOST)"
    ]
    assert not (tmp_path / "netgauge-data").exists()


def test_a_start_failure_is_one_clear_line(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file where the data directory should be")
    r = netgauge("serve", "--port", "0", "--data-dir", str(not_a_dir / "sub"), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"netgauge: cannot use data directory {not_a_dir / 'sub'}: Not a directory "
        "(choose one with --data-dir)"
    ]
    assert "serving on" not in r.stdout  # announced only once the service is up
    r = netgauge("serve", "--port", "0", "--data-dir", str(not_a_dir), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"netgauge: data directory {not_a_dir} is not a directory (choose one with --data-dir)"
    ]


def test_a_weak_first_admin_password_names_its_variable_and_makes_nothing(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "NETGAUGE_ADMIN_PASSWORD": "short"}
    command = [sys.executable, "-m", "netgauge", "serve", "--port", "0", "--data-dir", "d"]
    r = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "netgauge: NETGAUGE_ADMIN_PASSWORD: password: at least 12 characters"
    ]
    assert not (tmp_path / "d").exists()


def test_a_failure_inside_the_start_has_no_traceback_and_leaves_no_data_dir(
    tmp_path: Path,
) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on: the database is down
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = {**os.environ, "NETGAUGE_DATABASE_URL": f"postgresql+psycopg://u@127.0.0.1:{port}/x"}
    command = [sys.executable, "-m", "netgauge", "serve", "--port", "0", "--data-dir", "d"]
    r = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr + r.stdout
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("netgauge: cannot start: InventoryError: cannot migrate"), last
    assert "Connection refused" in last
    assert not (tmp_path / "d").exists()  # this run made it; nothing in it is worth keeping


def test_serve_help_shows_its_defaults() -> None:
    h = netgauge("serve", "--help")
    text = " ".join(h.stdout.replace("│", " ").split())  # rich draws a box around the options
    for default in ("[default: ./netgauge-data]", "[default: 127.0.0.1]", "[default: 8470"):
        assert default in text, h.stdout


SYNC_FILE = """
targets:
  - {name: sw1, address: 127.0.0.2, type: device}
jobs:
  - {name: ping-sw1, kind: icmp, targets: [sw1], interval: 1m}
"""


def test_a_file_keeps_what_it_does_not_declare_and_the_diff_says_so_first(
    serve: Any, tmp_path: Path
) -> None:
    """The first start without a file watches this host; restarting with a file that does
    not mention it used to delete it ("deleted": 3). Now the diff says what a start would
    do, the start does just that, and `owns: all` is the one way to drop the rest."""
    first = serve()
    assert {t["name"] for t in first.get("/api/v1/targets")["items"]} == {"localhost"}
    assert first.stop(grace=20) != -signal.SIGKILL  # SIGTERM stopped it
    config = tmp_path / "netgauge.yaml"
    config.write_text(SYNC_FILE)
    data = str(tmp_path / "data")
    told = netgauge("check-config", str(config), "--diff", "--json", "--data-dir", data)
    assert told.returncode == 0, told.stderr
    plan = json.loads(told.stdout)
    assert [(c["kind"], c["name"]) for c in plan["create"]] == [
        ("target", "sw1"),
        ("job", "ping-sw1"),
    ]
    assert plan["update"] == [] and plan["delete"] == []
    kept = {(k["kind"], k["name"], k["source"]) for k in plan["keep"]}
    assert kept == {
        ("target", "localhost", "builtin"),
        ("job", "ping-localhost", "builtin"),
        ("job", "netgauge-api-tcp", "builtin"),
    }
    text = netgauge("check-config", str(config), "--diff", "--data-dir", data)
    assert "+ create target sw1" in text.stdout and "= keep target localhost" in text.stdout
    assert "2 to create, 0 to update, 0 to delete, 3 kept" in text.stdout

    second = serve("--config", str(config))
    targets = {t["name"] for t in second.get("/api/v1/targets")["items"]}
    assert targets == {"localhost", "sw1"}  # what the diff said: created one, kept the other
    assert {j["name"] for j in second.get("/api/v1/jobs")} == {
        "ping-sw1", "ping-localhost", "netgauge-api-tcp"
    }  # fmt: skip
    assert second.stop(grace=20) != -signal.SIGKILL

    config.write_text("owns: all\n" + SYNC_FILE)
    plan = json.loads(
        netgauge("check-config", str(config), "--diff", "--json", "--data-dir", data).stdout
    )
    assert {(c["kind"], c["name"]) for c in plan["delete"]} == {
        ("target", "localhost"), ("job", "ping-localhost"), ("job", "netgauge-api-tcp")
    }  # fmt: skip
    third = serve("--config", str(config))
    assert {t["name"] for t in third.get("/api/v1/targets")["items"]} == {"sw1"}


def test_the_diff_refuses_a_database_that_is_not_an_inventory(tmp_path: Path) -> None:
    config = tmp_path / "netgauge.yaml"
    config.write_text(SYNC_FILE)
    data = tmp_path / "data"
    data.mkdir()
    sqlite3.connect(data / "inventory.db").execute("create table other (x)").connection.commit()
    told = netgauge("check-config", str(config), "--diff", "--data-dir", str(data))
    assert told.returncode == 2
    assert "holds no netgauge inventory" in told.stderr
