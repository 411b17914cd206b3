"""Two ``netgauge serve`` peers on one PostgreSQL inventory and one VictoriaMetrics: one
leads (schedules, folds pushed results, evaluates and notifies), the other stands by and
answers the API. The leader is killed with SIGKILL: the standby leads within two
intervals, no run of any job is made twice across the switch (the runs table, which both
share, is the truth), and a real webhook receiver is told of each alert once, and of its
end once."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import NetgaugeServe, free_port, wait_for
from tests.lab.receivers import WebhookReceiver

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
    text = CONFIG.format(port=listener, interval=INTERVAL_S)
    yield from two_peers(tmp_path, text, empty_postgres, victoriametrics)


def two_peers(
    tmp_path: Path, text: str, database: str, victoriametrics: Any
) -> Generator[tuple[NetgaugeServe, NetgaugeServe]]:
    """Two peers started together on ``database`` (empty); the leader first."""
    config = tmp_path / "central.yaml"
    config.write_text(text)
    env = {
        "NETGAUGE_DATABASE_URL": database,
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


def runs(url: str, job: str = "reach") -> list[datetime]:
    return [r[0] for r in query(url, "SELECT scheduled_at FROM job_runs WHERE job_name = :job"
                                " ORDER BY 1", job=job)]  # fmt: skip


def query(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
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


ALERTS = """
notifiers:
  - {{name: hook, kind: webhook, url: "{url}"}}
alerts:
  - {{name: box-offline, condition: {{state: offline}}, notify: [hook],
     group_wait: 0s, group_interval: 1s}}
  - {{name: knock-failing, condition: {{failures: 2}}, notify: [hook],
     group_wait: 0s, group_interval: 1s}}
targets:
  - {{name: box, address: 127.0.0.1, type: device}}
jobs:
  - {{name: knock, kind: tcp, params: {{port: {port}, timeout: 0.5}}, targets: [box],
     interval: 1s}}
"""


def told(hook: WebhookReceiver) -> list[tuple[str, str]]:
    """(alert, firing|resolved) of every alert in every message the receiver got."""
    return sorted(
        (a["labels"]["alertname"], a["status"]) for p in hook.payloads() for a in p["alerts"]
    )


def test_across_a_switch_of_leaders_each_alert_is_told_once_and_its_end_once(
    tmp_path: Path, empty_postgres: str, victoriametrics: Any
) -> None:
    """The device is offline (3 failures) and the job failing (2 in a row) before the
    switch. The new leader starts with no streak and an undecided device; before the
    fix it ended both alerts at its first result and told them again two and three
    results later."""
    hook = WebhookReceiver().start()
    knocked = free_port()  # nothing listens on it until the device "comes back"
    text = ALERTS.format(url=hook.url, port=knocked)
    nodes = two_peers(tmp_path, text, empty_postgres, victoriametrics)
    a, b = next(nodes)
    try:
        fired = [("box-offline", "firing"), ("knock-failing", "firing")]
        wait_for(lambda: told(hook) == fired, timeout=30, what=f"{fired} told")
        wait_for(  # sent and recorded so: one in flight at the kill is told again, by design
            lambda: query(empty_postgres, "SELECT state FROM notifications") == [("sent",)] * 2,
            timeout=10,
            what="both notifications recorded as sent",
        )
        history = a.http.get("/api/v1/devices/box/history").json()
        assert [(h["previous_state"], h["new_state"]) for h in history] == [(None, "offline")]
        a.kill()
        wait_for(lambda: role(b) == "leader", timeout=10, what="b to lead")
        after = len(runs(empty_postgres, "knock"))
        # six more failures: past both rules' streaks (2) and the device's (3), with time
        # for a new message to reach the outbox, were one decided
        wait_for(lambda: len(runs(empty_postgres, "knock")) >= after + 6, timeout=30,
                 what="six runs by the new leader")  # fmt: skip
        states = b.http.get("/api/v1/devices/states").json()
        assert states == [{"device": "box", "state": "offline"}]  # resumed, not undecided
        assert b.http.get("/api/v1/devices/box/history").json() == history  # no new change
        assert told(hook) == fired, "the new leader told again or ended an ongoing alert"
        assert len(query(empty_postgres, "SELECT id FROM notifications")) == 2
        with socket.socket() as back:  # the device answers again
            back.bind(("127.0.0.1", knocked))
            back.listen(64)
            ended = sorted([*fired, ("box-offline", "resolved"), ("knock-failing", "resolved")])
            wait_for(lambda: told(hook) == ended, timeout=30, what=f"{ended} told")
    finally:
        nodes.close()
        hook.stop()
