"""A real ``netgauge agent`` process pushing to a real ``netgauge serve``: the server stops
for a while and comes back; every batch the agent made arrives, in order, none twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NetgaugeServe, wait_for

CONFIG = "targets:\n  - {name: host1, address: 127.0.0.1, type: device}\n"


class Server(NetgaugeServe):
    """``netgauge serve`` on a fixed port and data directory, which can be restarted."""

    def __init__(self, tmp: Path) -> None:
        config = tmp / "netgauge.yaml"
        config.write_text(CONFIG)
        super().__init__(tmp / "data", config, http_timeout=5)

    def cursor(self) -> int:
        """The last batch stored for host1 (read from the inventory database)."""
        with sqlite3.connect(self.data / "inventory.db") as db:
            row = db.execute("SELECT last_seq FROM agent_cursors WHERE device = 'host1'")
            found = row.fetchone()
        return int(found[0]) if found else 0

    def uptime_points(self) -> list[dict[str, Any]]:
        params = {"target": "host1", "metric": "uptime_seconds", "from": "2000-01-01T00:00:00"}
        return list(self.http.get("/api/v1/metrics", params=params).json()["points"])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    served = Server(tmp_path)
    served.start()
    yield served
    served.stop()


def spooled_seqs(spool: Path) -> list[int]:
    """Sequence numbers of the batches in the agent's spool (a torn last line is skipped)."""
    seqs = []
    for segment in sorted(spool.glob("*.seg")):
        for line in segment.read_text().splitlines():
            try:
                seqs.append(int(json.loads(line)["seq"]))
            except (ValueError, KeyError):
                continue
    return seqs


def test_an_outage_loses_no_batch_and_stores_none_twice(server: Server, tmp_path: Path) -> None:
    token = server.http.post("/api/v1/devices/host1/agent-token").json()["token"]
    token_file = tmp_path / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    spool = tmp_path / "spool"
    agent = subprocess.Popen(
        [sys.executable, "-m", "netgauge", "agent", "--server", f"http://127.0.0.1:{server.port}"]
        + ["--token-file", str(token_file), "--interval", "1", "--rate-interval", "0.5"]
        + ["--spool-dir", str(spool)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "NETGAUGE_AGENT_TOKEN"},
    )
    try:
        wait_for(lambda: server.cursor() >= 2, timeout=30, what="two batches stored")
        server.stop()
        before_outage = server.cursor()
        # the agent keeps collecting while the server is away: batches pile up in its spool
        wait_for(
            lambda: len([s for s in spooled_seqs(spool) if s > before_outage]) >= 3,
            timeout=30,
            what="three batches spooled during the outage",
        )
        made = max(spooled_seqs(spool))
        server.start()
        wait_for(lambda: server.cursor() >= made, timeout=60, what="the spool to drain")
    finally:
        agent.send_signal(signal.SIGTERM)
        stderr = agent.communicate(timeout=30)[1]
    assert agent.returncode == 0, stderr
    last = server.cursor()

    def every_batch() -> list[dict[str, Any]] | None:
        found = server.uptime_points()
        return found if found and len(found) >= last else None

    points = wait_for(every_batch, what="every batch's samples to be queryable")
    # one uptime sample per batch: batches 1..last each stored exactly once, in time order
    assert len(points) == last and len({p["ts"] for p in points}) == last
    assert [p["ts"] for p in points] == sorted(p["ts"] for p in points)
