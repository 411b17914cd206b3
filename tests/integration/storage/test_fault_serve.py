"""A real ``netgauge serve`` writing to a real VictoriaMetrics, killed with SIGKILL while
VictoriaMetrics is down: nothing it acknowledged is lost, nothing is stored twice.

A push agent's load goes through the HTTP API the whole time (``POST /api/v1/ingest``, one
batch of ``PER_BATCH`` metrics every ``TICK_S``, increasing sequence numbers, one request at
a time); every batch answered 200 with ``accepted_through >= seq`` is *acknowledged*.
VictoriaMetrics is stopped; the load goes on (into the spool); netgauge gets ``kill -9``
(wherever it is: a request may be cut) and is started again on the same data directory;
the load goes on; VictoriaMetrics is started again; the load goes on until the spool is
replayed. Then, per series, in VictoriaMetrics (``/api/v1/export``, which lists duplicates)
and in the embedded store (``/api/v1/metrics``):

* every acknowledged batch is there, exactly once;
* nothing else is, except possibly the one batch whose request the kill cut (sent, never
  answered: netgauge may have stored it or not, and promised nothing);

so the count in each store equals the count acknowledged (plus that batch, when stored).
``/api/v1/health`` is checked along the way: VictoriaMetrics unreachable with spool bytes and
pending samples while down, both back to 0 once replayed, nothing dropped.

The agent here does not send the cut batch again. A real one would, and that resend is
stored once in the embedded store and InfluxDB (both overwrite a series' sample at the same
timestamp) but can be stored twice in VictoriaMetrics (it keeps both unless run with
``-dedup.minScrapeInterval=1ms``) when the kill fell after the batch was spooled and before
the agent's cursor was saved: the cursor is in the inventory database, so the two commits
cannot be one.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import NetgaugeServe, wait_for
from tests.lab.victoriametrics import VictoriaMetrics, missing_victoriametrics

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        missing_victoriametrics() is not None, reason=str(missing_victoriametrics())
    ),
]

MS = 1_000_000
DEVICE = "agent1"
PER_BATCH = 10
INTERFACES = [f"if{j}" for j in range(PER_BATCH)]  # one series each
SERIES = [f'net_in_bytes_per_sec{{interface="{name}"}}' for name in INTERFACES]
TICK_S = 0.05
MAX_BATCHES = 3000  # the load's bound (150 s at one batch per tick), whatever happens
REQUEST_TIMEOUT_S = 30.0
STORE = "victoriametrics"


class Netgauge(NetgaugeServe):
    """``netgauge serve`` on a fixed port and data directory: started, killed, restarted. Its
    environment has none of this process's NETGAUGE_* variables (nor the tests' argon2
    profile): only what the config file says."""

    def __init__(self, tmp: Path, vm_url: str) -> None:
        config = tmp / "netgauge.yaml"
        settings = {
            "stores": [{"kind": "victoriametrics", "url": vm_url}],
            "write_flush_interval_s": 0.5,
            "log_level": "warning",
        }
        config.write_text(
            f"settings: {json.dumps(settings)}\n"
            f"targets:\n  - {{name: {DEVICE}, address: 127.0.0.1, type: device}}\n"
        )
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NETGAUGE_")}
        super().__init__(tmp / "data", config, base_env=clean, log=tmp / "netgauge.log")

    def store_health(self) -> dict[str, Any]:
        stores = self.http.get("/api/v1/health/details").json()["stores"]
        found: dict[str, Any] = next(s for s in stores if s["name"] == STORE)
        return found

    def embedded_timestamps(self) -> dict[str, list[int]]:
        found = {}
        for name in SERIES:
            params = {"target": DEVICE, "metric": name, "from": "2000-01-01T00:00:00"}
            response = self.http.get("/api/v1/metrics", params=params)
            response.raise_for_status()
            found[name] = sorted(int(p["ts"]) for p in response.json()["points"])
        return found


class Agent:
    """A push agent's load in a thread: one batch per tick, one request at a time.

    A request that could not connect (netgauge is down) is sent again with the same
    sequence number at the next tick: it never reached netgauge. A request cut after it
    was sent (the kill) is recorded in ``cut`` and not sent again.
    """

    def __init__(self, url: str, token: str, base_ns: int) -> None:
        self.url, self.token, self.base_ns = url, token, base_ns
        self.acked: list[int] = []
        self.cut: list[int] = []
        self.cut_by: list[str] = []  # how each cut request failed (for a failure's message)
        self.errors: list[str] = []
        self._seq = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agent-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(REQUEST_TIMEOUT_S + 5)
        assert not self._thread.is_alive()

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Connection": "close"}
        try:
            with httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT_S, headers=headers) as c:
                start = time.monotonic()
                for tick in range(MAX_BATCHES):
                    self._post(c)
                    if self._stop.wait(max(0.0, start + (tick + 1) * TICK_S - time.monotonic())):
                        return
        except Exception as exc:  # reported by the test, not lost in the thread
            self.errors.append(repr(exc))

    def _post(self, client: httpx.Client) -> None:
        seq = self._seq
        ts = self.base_ns + seq * MS
        body = {
            "batches": [
                {
                    "seq": seq,
                    "ts_ns": ts,
                    "metrics": [
                        {"name": "net_in_bytes_per_sec", "value": seq, "labels": {"interface": i}}
                        for i in INTERFACES
                    ],
                }
            ]
        }
        try:
            response = client.post("/api/v1/ingest", json=body)
        except httpx.ConnectError:
            return  # never reached netgauge: the same batch at the next tick
        except httpx.TransportError as exc:
            self.cut.append(seq)  # sent, not answered: stored or not, never acknowledged
            self.cut_by.append(f"{seq}: {exc!r} at {time.monotonic():.3f}")
            self._seq += 1
            return
        self._seq += 1
        answer = response.json() if response.status_code == 200 else {}
        if answer.get("accepted_through", 0) >= seq and not answer["refused"]:
            self.acked.append(seq)
        else:
            self.errors.append(f"batch {seq}: {response.status_code} {response.text[:300]}")

    def wait_acked(self, more: int, what: str) -> None:
        """Until ``more`` further batches are acknowledged (30 s at most)."""
        target = len(self.acked) + more
        wait_for(lambda: len(self.acked) >= target or self.errors, timeout=30, what=what)
        assert not self.errors, self.errors


def vm_timestamps(vm: VictoriaMetrics) -> dict[str, list[int]]:
    """Every raw sample of the agent's series in VictoriaMetrics (duplicates kept)."""
    vm.flush()
    selector = f'{{__name__="device_metrics_value",device_id="{DEVICE}"}}'
    response = httpx.get(f"{vm.url}/api/v1/export", params={"match[]": selector}, timeout=30)
    response.raise_for_status()
    found: dict[str, list[int]] = {}
    for line in response.text.splitlines():
        if line.strip():
            row = json.loads(line)
            stamps = found.setdefault(row["metric"]["metric_name"], [])
            stamps.extend(int(ms) * MS for ms in row["timestamps"])
    return {name: sorted(stamps) for name, stamps in found.items() if name in SERIES}


def check_store(what: str, stored: dict[str, list[int]], agent: Agent) -> int:
    """Each series holds each acknowledged batch once, and no other batch but a cut one;
    the number of samples stored."""
    acked, cut = set(agent.acked), set(agent.cut)
    assert sorted(stored) == sorted(SERIES), f"{what}: series {sorted(stored)}"
    total = 0
    for name, stamps in stored.items():
        seqs = [(ts - agent.base_ns) // MS for ts in stamps]
        duplicates = len(seqs) - len(set(seqs))
        assert duplicates == 0, f"{what} {name}: {duplicates} samples stored twice"
        lost = acked - set(seqs)
        assert not lost, f"{what} {name}: {len(lost)} acknowledged batches lost: {sorted(lost)}"
        unexpected = set(seqs) - acked - cut
        assert not unexpected, f"{what} {name}: batches never sent: {sorted(unexpected)}"
        extra = set(seqs) - acked
        assert len(seqs) == len(acked) + len(extra)
        total += len(seqs)
    return total


@pytest.fixture
def vm() -> Iterator[VictoriaMetrics]:
    with VictoriaMetrics() as server:
        yield server


@pytest.fixture
def netgauge(tmp_path: Path, vm: VictoriaMetrics) -> Iterator[Netgauge]:
    served = Netgauge(tmp_path, vm.url)
    try:
        served.start()
        yield served
    finally:
        served.stop()
        served.http.close()


def test_kill_9_while_victoriametrics_is_down_loses_nothing_acknowledged(
    netgauge: Netgauge, vm: VictoriaMetrics
) -> None:
    token = netgauge.http.post(f"/api/v1/devices/{DEVICE}/agent-token").json()["token"]
    agent = Agent(netgauge.url, token, (time.time_ns() // MS) * MS - 300 * 10**9)
    agent.start()
    try:
        agent.wait_acked(20, "batches acknowledged with the backend up")
        up = netgauge.store_health()
        assert up["reachable"] and up["spool"]["bytes"] == 0 and up["dropped"] == 0

        vm.halt()
        down = wait_for(
            lambda: (h := netgauge.store_health())["spool"]["bytes"] > 0 and h,
            timeout=30,
            what="/health to show spooled bytes",
        )
        assert not down["reachable"] and down["pending"] > 0 and down["error"]
        assert netgauge.http.get("/api/v1/health").json()["status"] == "degraded"
        agent.wait_acked(40, "batches acknowledged with the backend down")
        spooled_before_kill = netgauge.store_health()["spool"]["samples"]

        netgauge.kill()
        acked_at_kill = len(agent.acked)
        netgauge.start()  # same data directory; the backend is still down
        restarted = netgauge.store_health()
        assert restarted["spool"]["samples"] >= spooled_before_kill  # the spool survived
        assert not restarted["reachable"] and restarted["pending"] >= spooled_before_kill
        agent.wait_acked(40, "batches acknowledged after the restart, backend down")

        vm.restart()
        agent.wait_acked(40, "batches acknowledged with the backend back")
    finally:
        agent.stop()
    assert not agent.errors, agent.errors
    assert len(agent.cut) <= 1, agent.cut_by  # only the request the kill cut
    assert acked_at_kill < len(agent.acked)

    replayed = wait_for(
        lambda: (h := netgauge.store_health())["spool"]["bytes"] == 0 and h["pending"] == 0 and h,
        timeout=60,
        what="the spool to be replayed",
    )
    assert replayed["reachable"] and replayed["dropped"] == 0 and replayed["error"] is None
    assert netgauge.http.get("/api/v1/health").json()["status"] == "ok"
    assert replayed["spool"]["samples"] == 0 and replayed["spool"]["dropped_samples"] == 0
    assert replayed["last_write_ns"] >= agent.base_ns + max(agent.acked) * MS

    in_vm = check_store("victoriametrics", vm_timestamps(vm), agent)
    in_embedded = check_store("embedded", netgauge.embedded_timestamps(), agent)
    # the count in each store is the count acknowledged, plus the cut batch if it got stored
    acknowledged = len(agent.acked) * PER_BATCH
    assert in_vm - acknowledged in {0, PER_BATCH * len(agent.cut)}
    assert in_embedded - acknowledged in {0, PER_BATCH * len(agent.cut)}
    print(  # for the record (-s): what the run went through
        f"acknowledged {acknowledged} samples ({len(agent.acked)} batches, {acked_at_kill} "
        f"before the kill), cut by the kill {agent.cut}, in VictoriaMetrics {in_vm}, "
        f"embedded {in_embedded}"
    )
