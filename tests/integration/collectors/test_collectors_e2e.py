"""Real ``netgauge collector`` processes against a real ``netgauge serve`` (on loopback).

A site with two collectors: its targets are spread over both and checked by them only, each
sample labelled with the collector that measured it; a site without collectors is checked
by the central. One collector is killed (SIGKILL): the other takes its targets over, and
no series has a gap longer than two intervals. A revoked collector is refused and stops.
What a collector token cannot do is asserted too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from netgauge.collectors.sealing import CollectorKey
from netgauge.credentials.vault import VaultError
from tests.conftest import NetgaugeServe, wait_for

INTERVAL_S = 6.0
POLL_S, DEAD_AFTER_S = 0.5, 2.0
EAST = [f"e{i}" for i in range(1, 7)]
CONFIG = """
sites:
  - {{name: east}}
  - {{name: hq}}
targets:
{east}
  - {{name: h1, address: 127.0.0.1, site: hq}}
jobs:
  - {{name: reach, kind: tcp, params: {{port: {port}}}, targets: [{names}], interval: {interval}}}
"""


@pytest.fixture
def accepting() -> Iterator[int]:
    """A TCP port on 127.0.0.1 whose connections are accepted and closed."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    done.set()
    thread.join(5)
    server.close()


class Collectors:
    """Collector processes of one test, each with its token file and data directory."""

    def __init__(self, central: NetgaugeServe, tmp: Path) -> None:
        self.central, self.tmp = central, tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def register(self, name: str, site: str) -> str:
        r = self.central.http.post("/api/v1/collectors", json={"name": name, "site": site})
        assert r.status_code == 201, r.text
        body = r.json()
        assert set(body) == {"name", "site", "token"} and body["name"] == name
        return str(body["token"])

    def start(self, name: str, token: str) -> subprocess.Popen[bytes]:
        token_file = self.tmp / f"{name}.token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 (the process keeps it)
        proc = subprocess.Popen(
            [sys.executable, "-m", "netgauge", "collector", "--server", self.central.url,
             "--token-file", str(token_file), "--data-dir", str(self.tmp / name)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "NETGAUGE_COLLECTOR_TOKEN"},
        )  # fmt: skip
        log.close()
        self.procs[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def central(tmp_path: Path, accepting: int) -> Iterator[NetgaugeServe]:
    east = "\n".join(f"  - {{name: {n}, address: 127.0.0.1, site: east}}" for n in EAST)
    config = tmp_path / "central.yaml"
    names = ", ".join([*EAST, "h1"])
    config.write_text(CONFIG.format(east=east, port=accepting, names=names, interval=INTERVAL_S))
    served = NetgaugeServe(
        tmp_path / "data",
        config,
        env={"NETGAUGE_COLLECTOR_POLL_S": str(POLL_S),
             "NETGAUGE_COLLECTOR_DEAD_AFTER_S": str(DEAD_AFTER_S)},
    )  # fmt: skip
    served.start()
    yield served
    served.stop()


@pytest.fixture
def collectors(central: NetgaugeServe, tmp_path: Path) -> Iterator[Collectors]:
    made = Collectors(central, tmp_path)
    yield made
    made.stop_all()


def listing(central: NetgaugeServe) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in central.http.get("/api/v1/collectors").json()}


def series_of(central: NetgaugeServe, target: str) -> set[str]:
    rows = central.http.get("/api/v1/metrics/series", params={"target": target}).json()
    return {r["metric"] for r in rows}


def stamps(central: NetgaugeServe, target: str, metric: str) -> list[int]:
    params = {"target": target, "metric": metric, "from": "2000-01-01T00:00:00Z"}
    return [p["ts"] for p in central.http.get("/api/v1/metrics", params=params).json()["points"]]


def owner_of(central: NetgaugeServe, target: str, since_ns: int = 0) -> set[str]:
    """The collectors that stored connect times of ``target`` after ``since_ns`` (from the
    series' labels and their points)."""
    prefix = 'tcp.connect_ms{vantage="'
    return {
        m[len(prefix) : -2]
        for m in series_of(central, target)
        if m.startswith(prefix) and any(ts > since_ns for ts in stamps(central, target, m))
    }


def test_a_sites_targets_are_run_by_its_collectors_and_taken_over_when_one_dies(
    central: NetgaugeServe, collectors: Collectors
) -> None:
    tokens = {name: collectors.register(name, "east") for name in ("c1", "c2")}
    registered_at = time.time_ns()
    for name, token in tokens.items():
        collectors.start(name, token)
    wait_for(
        lambda: all(c["state"] == "online" for c in listing(central).values())
        and sum(c["targets"] for c in listing(central).values()) == len(EAST),
        timeout=30, what="both collectors online with the 6 east targets between them",
    )  # fmt: skip
    # both online: once both have synced since (and the central's 1 s view of the fleet has
    # moved on), each target has one owner; a target may have moved when the second came
    settled = time.time_ns() + int((2 * POLL_S + 1.5) * 1e9)
    wait_for(lambda: all(owner_of(central, t, settled) for t in EAST), timeout=30,
             what="every east target measured by a collector")  # fmt: skip
    owners = {t: owner_of(central, t, settled) for t in EAST}
    assert all(len(o) == 1 for o in owners.values()), owners
    assert {next(iter(o)) for o in owners.values()} == {"c1", "c2"}  # spread over both
    for target in EAST:  # checked by the collectors only, once they exist (the central's
        # view of the fleet is at most 1 s old; its first run came before any collector)
        late = [ts for ts in stamps(central, target, "tcp.connect_ms") if ts > registered_at]
        assert all(ts < registered_at + 1.5e9 for ts in late), (target, late)
    wait_for(lambda: "tcp.connect_ms" in series_of(central, "h1"), timeout=30,
             what="the central checks h1 (site hq has no collector)")  # fmt: skip
    assert not any("vantage" in m for m in series_of(central, "h1"))
    row = listing(central)["c1"]
    assert row["version"] and row["clock_offset_ms"] is not None
    assert abs(row["clock_offset_ms"]) < 1000  # one machine, one clock

    # a config change reaches the collectors at their next sync: the job now checks a port
    # nobody listens on, and the collectors' next results say refused
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]  # bound, never listening: connections refused
        port = central.http.get("/api/v1/jobs/reach").json()["params"]["port"]
        changed_at = time.time_ns()
        r = central.http.patch("/api/v1/jobs/reach", json={"params": {"port": dead_port}})
        assert r.status_code == 200, r.text

        def refused_since(target: str) -> bool:
            metric = f'tcp.refused{{vantage="{next(iter(owners[target]))}"}}'
            params = {"target": target, "metric": metric, "from": "2000-01-01T00:00:00Z"}
            points = central.http.get("/api/v1/metrics", params=params).json()["points"]
            return any(p["ts"] > changed_at and p["value"] == 1 for p in points)

        wait_for(lambda: all(refused_since(t) for t in EAST), timeout=POLL_S + 2 * INTERVAL_S + 10,
                 what="the collectors to check the new port")  # fmt: skip
        took = (time.time_ns() - changed_at) / 1e9
        print(f"config change applied by every collector within {took:.1f} s")
        r = central.http.patch("/api/v1/jobs/reach", json={"params": {"port": port}})
        assert r.status_code == 200, r.text

    # kill -9 one collector: the other takes its targets over
    c1_targets = [t for t, o in owners.items() if o == {"c1"}]
    killed_at = time.time_ns()
    collectors.procs["c1"].send_signal(signal.SIGKILL)
    collectors.procs["c1"].wait(10)
    wait_for(
        lambda: listing(central)["c1"]["state"] == "offline"
        and listing(central)["c2"]["targets"] == len(EAST),
        timeout=30, what="c1 offline and c2 running all 6 targets",
    )  # fmt: skip

    def taken_over() -> bool:
        return all(
            any(ts > killed_at for ts in stamps(central, t, 'tcp.refused{vantage="c2"}'))
            for t in c1_targets
        )

    wait_for(taken_over, timeout=30, what="c2 to check c1's targets")
    first = min(
        min(ts for ts in stamps(central, t, 'tcp.refused{vantage="c2"}') if ts > killed_at)
        for t in c1_targets
    )
    takeover_s = (first - killed_at) / 1e9
    worst = 0.0  # tcp.refused: every check has it (a refused one has no connect time)
    for target in c1_targets:
        merged = sorted(
            stamps(central, target, 'tcp.refused{vantage="c1"}')
            + stamps(central, target, 'tcp.refused{vantage="c2"}')
        )
        worst = max(worst, max((b - a) / 1e9 for a, b in zip(merged, merged[1:], strict=False)))
    print(f"takeover {takeover_s:.1f} s, longest gap {worst:.1f} s (interval {INTERVAL_S:g} s)")
    assert worst <= 2 * INTERVAL_S

    # revoked: the collector is refused at its next sync and stops with status 1
    r = central.http.delete("/api/v1/collectors/c2")
    assert r.status_code == 204
    assert collectors.procs["c2"].wait(30) == 1
    assert "c2" not in listing(central)


def test_what_a_collector_token_cannot_do(
    central: NetgaugeServe, collectors: Collectors, tmp_path: Path
) -> None:
    token = collectors.register("c9", "east")
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=central.url, timeout=10) as anon:
        # not an API token: the inventory, the collectors' list and admin routes say 401
        for path in ("/api/v1/targets", "/api/v1/collectors", "/api/v1/users"):
            assert anon.get(path, headers=bearer).status_code == 401
        assert anon.post("/api/v1/collectors", json={"name": "x", "site": "east"},
                         headers=bearer).status_code == 401  # fmt: skip
        # no token, a wrong one, an agent's: the collector routes say 401 before any body
        for headers in ({}, {"Authorization": "Bearer ngc_nope"}):
            assert anon.post("/api/v1/collector/sync", json={}, headers=headers).status_code == 401
        # a secret typed into the console reaches it sealed for its own key only
        password = "s3cret-for-e1-only"
        r = central.http.put("/api/v1/credentials/web", json={
            "kind": "http", "username": "ops", "secrets": {"password": password}})  # fmt: skip
        assert r.status_code == 201, r.text
        r = central.http.patch("/api/v1/targets/e1", json={"credentials": "web"})
        assert r.status_code == 200, r.text
        for site, schedule in (("east", "east-hours"), ("hq", "hq-hours")):  # calendars
            hours = [{"days": "weekdays", "start": "08:00", "end": "18:00"}]
            r = central.http.put(f"/api/v1/schedules/{schedule}",
                                 json={"name": schedule, "open": hours})  # fmt: skip
            assert r.status_code in (200, 201), r.text
            r = central.http.put(f"/api/v1/sites/{site}", json={"name": site, "schedule": schedule})
            assert r.status_code == 200, r.text
        (tmp_path / "other").mkdir()
        mine = CollectorKey.load_or_make(tmp_path)
        other = CollectorKey.load_or_make(tmp_path / "other")
        mine.collector = other.collector = "c9"
        sync = {"version": "t", "public_key": mine.public}
        r = anon.post("/api/v1/collector/sync", json=sync, headers=bearer)
        assert r.status_code == 200 and password not in r.text
        answer = r.json()
        # its sync gives its own site's targets only (never hq's h1)
        assigned = {t["name"]: t for job in answer["jobs"] for t in job["targets"]}
        assert set(assigned) == set(EAST)
        # ... and its own site's calendar only (never hq's)
        assert [(c["site"], c["schedule"]["name"]) for c in answer["calendars"]] == [
            ("east", "east-hours")]  # fmt: skip
        blob = assigned["e1"]["credentials"]["sealed"]["password"]
        assert mine.open("web", "password", blob) == password
        with pytest.raises(VaultError):
            other.open("web", "password", blob)
        revision = answer["revision"]  # new blobs at each sync, the same assignment
        assert anon.post("/api/v1/collector/sync", json=sync, headers=bearer).json()[
            "revision"] == revision  # fmt: skip
        # results for a target of another site, or of no job, are refused and not stored
        now = time.time_ns()

        def result(seq: int, target: str, job: str = "reach") -> dict[str, Any]:
            header = {"job": job, "target": target, "kind": "tcp", "status": "ok"}
            return {"seq": seq, "ts_ns": now, "metrics": [
                {"name": "__result__", "value": 1, "labels": header},
                {"name": "connect_ms", "value": 0.5, "labels": {}}]}  # fmt: skip

        batches = [result(1, "h1"), result(2, "e1", job="nope"), result(3, "e1")]
        r = anon.post("/api/v1/collector/results", json={"batches": batches}, headers=bearer)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["accepted_through"] == 3 and body["stored"] == 1 and len(body["refused"]) == 2
        assert not any("vantage" in m for m in series_of(central, "h1"))
        assert 'tcp.connect_ms{vantage="c9"}' in series_of(central, "e1")
        # sent again: acknowledged, not stored twice
        again = anon.post("/api/v1/collector/results", json={"batches": batches}, headers=bearer)
        assert again.json()["stored"] == 0 and again.json()["accepted_through"] == 3
        assert stamps(central, "e1", 'tcp.connect_ms{vantage="c9"}') == [now]


def test_a_collector_pauses_a_job_by_its_sites_calendar_and_resumes_on_a_change(
    central: NetgaugeServe, collectors: Collectors, tmp_path: Path
) -> None:
    """The central's rule, run where the checks run: a maintenance window of site east
    pauses the job (``maintenance: pause``) on the collector too, and the central's run
    record says why; ending the pause reaches the collector at its next sync."""
    collectors.start("c1", collectors.register("c1", "east"))
    wait_for(lambda: listing(central)["c1"]["targets"] == len(EAST), timeout=30,
             what="c1 running the 6 east targets")  # fmt: skip
    start = (datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None, microsecond=0)
    window = {"name": "patch", "rrule": "FREQ=DAILY", "start": start.isoformat(), "duration": "1h"}
    r = central.http.put("/api/v1/schedules/office",
                         json={"name": "office", "maintenance": [window]})  # fmt: skip
    assert r.status_code == 200, r.text
    r = central.http.put("/api/v1/sites/east", json={"name": "east", "schedule": "office"})
    assert r.status_code == 200, r.text
    r = central.http.patch("/api/v1/jobs/reach", json={"maintenance": "pause"})
    assert r.status_code == 200, r.text
    log = tmp_path / "c1.log"
    wait_for(lambda: "job reach paused on 6 targets" in log.read_text(), timeout=30,
             what="the collector to pause the job by east's calendar")  # fmt: skip
    paused_at = time.time_ns()
    # two of the central's own runs later (h1: site hq, no calendar), nothing new from c1
    wait_for(lambda: len([t for t in stamps(central, "h1", "tcp.connect_ms") if t > paused_at])
             >= 2, timeout=4 * INTERVAL_S, what="two runs of the job since")  # fmt: skip
    for target in EAST:
        measured = stamps(central, target, 'tcp.connect_ms{vantage="c1"}')
        assert not [ts for ts in measured if ts > paused_at], target
    [run] = central.http.get("/api/v1/jobs/reach/runs", params={"limit": 1}).json()["items"]
    outcomes = {
        o["target"]: o for o in central.http.get(f"/api/v1/runs/{run['id']}/targets").json()
    }
    assert outcomes["h1"]["status"] == "ok"
    assert outcomes["e1"]["status"] == "skipped"
    assert "in maintenance 'patch' until" in outcomes["e1"]["error"]

    resumed_at = time.time_ns()
    r = central.http.patch("/api/v1/jobs/reach", json={"maintenance": "mute"})
    assert r.status_code == 200, r.text
    wait_for(
        lambda: all(
            any(ts > resumed_at for ts in stamps(central, t, 'tcp.connect_ms{vantage="c1"}'))
            for t in EAST
        ),
        timeout=POLL_S + 2 * INTERVAL_S + 10, what="c1 checking the east targets again",
    )  # fmt: skip
