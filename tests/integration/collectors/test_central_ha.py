"""Two ``netgauge serve`` peers on one PostgreSQL inventory and one VictoriaMetrics: one
leads (schedules, folds pushed results), the other stands by and answers the API. The
leader is killed with SIGKILL: the standby leads within two intervals, and no run of any
job is made twice across the switch (the runs table, which both share, is the truth)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import NetgaugeServe, wait_for

INTERVAL_S = 2.0
CONFIG = """
targets:
  - {{name: here, address: 127.0.0.1}}
  - {{name: box, address: 127.0.0.2, type: device}}
jobs:
  - {{name: reach, kind: tcp, params: {{port: {port}}}, targets: [here], interval: {interval}}}
"""


@pytest.fixture
def empty_postgres(postgres_url: str) -> Iterator[str]:
    """A database of this test's own with no schema at all (a first start)."""
    name = f"netgauge_ha_{os.getpid()}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def peers(
    tmp_path: Path, empty_postgres: str, victoriametrics: Any, listener: int
) -> Iterator[tuple[NetgaugeServe, NetgaugeServe]]:
    config = tmp_path / "central.yaml"
    config.write_text(CONFIG.format(port=listener, interval=INTERVAL_S))
    env = {
        "NETGAUGE_DATABASE_URL": empty_postgres,
        "NETGAUGE_STORES": f'[{{"kind": "victoriametrics", "url": "{victoriametrics.url}"}}]',
        "NETGAUGE_QUERY_STORE": "victoriametrics",
        "NETGAUGE_LEADER_RETRY_S": "0.5",
        "NETGAUGE_SECRET_KEY": "ha-test-secret-key-of-enough-length-0123456789",
    }
    a = NetgaugeServe(tmp_path / "a", config, env=env, log=tmp_path / "a.log")
    b = NetgaugeServe(tmp_path / "b", config, env=env, log=tmp_path / "b.log")
    try:
        # started together on an empty database: they take turns to migrate and sync
        with ThreadPoolExecutor(2) as pool:
            for started in [pool.submit(node.start) for node in (a, b)]:
                started.result()
        yield (a, b) if role(a) == "leader" else (b, a)
    finally:
        for node in (a, b):
            node.stop()


def role(node: NetgaugeServe) -> str | None:
    try:
        return str(node.http.get("/api/v1/health/details").json().get("role"))
    except (httpx.TransportError, ValueError):
        return None


def runs(url: str) -> list[datetime]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT scheduled_at FROM job_runs WHERE job_name = 'reach' ORDER BY 1")
            )
            return [r[0] for r in rows]
    finally:
        engine.dispose()


def test_the_standby_leads_within_two_intervals_and_no_run_is_made_twice(
    peers: tuple[NetgaugeServe, NetgaugeServe], empty_postgres: str
) -> None:
    a, b = peers  # the leader first
    assert role(a) == "leader" and role(b) == "standby"
    wait_for(lambda: len(runs(empty_postgres)) >= 3, timeout=30, what="3 runs by the leader")
    # the standby forwards to the leader: the same live states, the same answers, and a
    # push made through it is stored by the leader (its own health it answers itself)
    assert [t["name"] for t in b.http.get("/api/v1/targets").json()["items"]] == ["box", "here"]
    wait_for(lambda: a.http.get("/api/v1/status").json(), timeout=10, what="a live state")

    def states(node: NetgaugeServe) -> set[tuple[str, str]]:
        return {(t["target"], t["state"]) for t in node.http.get("/api/v1/status").json()}

    assert states(b) == states(a) == {("here", "up")}  # a standby's own memory has none
    assert b.http.get("/api/v1/health").json()["role"] == "standby"
    pushed = b.http.post("/api/v1/ingest", json={"batches": []},
                         headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert pushed.status_code == 401  # checked by the leader, as if sent there
    token = b.http.post("/api/v1/devices/box/agent-token").json()["token"]
    batch = {"seq": 1, "ts_ns": time.time_ns(), "metrics": [{"name": "cpu_percent", "value": 7}]}
    pushed = b.http.post("/api/v1/ingest", json={"batches": [batch]},
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert pushed.status_code == 200 and pushed.json()["stored"] == 1, pushed.text
    a.kill()  # SIGKILL: no shutdown of its own
    killed = time.monotonic()
    wait_for(lambda: role(b) == "leader", timeout=10, what="b to lead")
    failover_s = time.monotonic() - killed
    before = len(runs(empty_postgres))
    wait_for(lambda: len(runs(empty_postgres)) >= before + 3, timeout=30,
             what="3 runs by the new leader")  # fmt: skip
    slots = runs(empty_postgres)
    print(f"failover {failover_s:.2f} s; {len(slots)} runs")
    assert failover_s <= 2 * INTERVAL_S
    assert len(slots) == len(set(slots)), "a scheduled slot was run twice"
    gaps = [(y - x).total_seconds() for x, y in zip(slots, slots[1:], strict=False)]
    assert max(gaps) <= 2 * INTERVAL_S + 1e-6, gaps
