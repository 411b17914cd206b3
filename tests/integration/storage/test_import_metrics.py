"""`netgauge import metrics`: history from CSV, Parquet and line protocol lands in the
embedded store as written, and every line that cannot is counted with its reason."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.embedded import EmbeddedStore
from netgauge.storage.line_protocol import encode, escape_tag_v2

HOUR_NS = 3600 * 10**9
T0 = (time.time_ns() // HOUR_NS - 48) * HOUR_NS  # two days ago, on the hour


def netgauge(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "netgauge", "import", "metrics", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def stored(data: Path, target: str, metric: str) -> list[tuple[int, float]]:
    async def read() -> list[tuple[int, float]]:
        store = EmbeddedStore(data / "metrics.db")
        try:
            points = await store.points(target, metric, 0, time.time_ns())
            return [(p.ts_ns, p.value) for p in points]
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_csv_of_another_tool_is_imported_and_its_bad_lines_counted(tmp_path: Path) -> None:
    rows = ["time,target,metric,value"]
    for i in range(10):
        when = datetime.fromtimestamp((T0 + i * 60 * 10**9) / 1e9, UTC)
        rows.append(f"{when:%Y-%m-%dT%H:%M:%SZ},old-router,cpu_percent,{10 + i}")
    rows.append(f"{(T0 + 600 * 10**9) / 1e9},old-router,status,1")  # epoch seconds
    rows.append("yesterday,old-router,cpu_percent,5")  # line 13
    rows.append(f"{T0 / 1e9},old router,cpu_percent,5")  # line 14: not a name
    rows.append(f"{T0 / 1e9},old-router,cpu_percent,lots")  # line 15
    rows.append(f"{T0 / 1e9},old-router,status,0.5")  # line 16
    file = tmp_path / "history.csv"
    file.write_text("\n".join(rows) + "\n")
    data = tmp_path / "data"
    done = netgauge(str(file), "--data-dir", str(data), "--json")
    assert done.returncode == 1, done.stderr  # some lines were refused: said, not dropped
    summary = json.loads(done.stdout)
    assert (summary["read"], summary["written"], summary["refused"]) == (15, 11, 4)
    assert [r["line"] for r in summary["first_refusals"]] == [13, 14, 15, 16]
    assert summary["targets"] == ["old-router"]
    cpu = stored(data, "old-router", "cpu_percent")
    assert cpu == [(T0 + i * 60 * 10**9, 10.0 + i) for i in range(10)]
    assert stored(data, "old-router", "status") == [(T0 + 600 * 10**9, 1.0)]


def test_line_protocol_of_telegraf_and_of_netgauge_itself(tmp_path: Path) -> None:
    volume = 'disk_percent{mount="C:\\\\ Label:  Serial Number 1a2b"}'  # as Windows names it
    own = [
        Sample(DEVICE_METRICS, "winbox", volume, 71.5, T0),
        Sample(DEVICE_STATUS, "winbox", "status", 0.0, T0 + 10**9),
    ]
    lines = encode(own, escape_tag_v2).lines  # what netgauge writes to InfluxDB 2 / VM
    lines += [
        f"cpu,host=web1,cpu=cpu-total usage_idle=93.5,usage_user=2i {T0 // 10**9}",
        f'syslog,host=web1 message="disk full" {T0 // 10**9}',  # a string: not a sample
        "not line protocol at all",
    ]
    file = tmp_path / "dump.lp"
    file.write_text("\n".join(lines) + "\n")
    data = tmp_path / "data"
    done = netgauge(str(file), "--data-dir", str(data), "--precision", "ns", "--json")
    # the two telegraf lines are seconds, not ns: this run reads them as ns (far past) —
    # what --precision is for; a second run below reads them right
    summary = json.loads(done.stdout)
    assert stored(data, "winbox", volume) == [(T0, 71.5)]
    assert stored(data, "winbox", "status") == [(T0 + 10**9, 0.0)]
    assert summary["refused"] == 2 and done.returncode == 1
    seconds = tmp_path / "telegraf.lp"
    seconds.write_text(lines[2] + "\n")
    done = netgauge(str(seconds), "--data-dir", str(data), "--precision", "s", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert stored(data, "web1", 'cpu.usage_idle{cpu="cpu-total"}') == [(T0, 93.5)]
    assert stored(data, "web1", 'cpu.usage_user{cpu="cpu-total"}') == [(T0, 2.0)]


def test_parquet_with_a_timestamp_column(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow", reason="pyarrow (pip): ./scripts/test installs it")
    import pyarrow.parquet as pq

    times = [datetime.fromtimestamp((T0 + i * 10**9) / 1e9, UTC) for i in range(5)]
    table = pa.table(
        {
            "time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "target": ["pq-host"] * 5,
            "metric": ["memory_percent"] * 5,
            "value": [50.0 + i for i in range(5)],
        }
    )
    file = tmp_path / "history.parquet"
    pq.write_table(table, file)
    data = tmp_path / "data"
    done = netgauge(str(file), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "wrote 5 for 1 target(s)" in done.stdout
    assert stored(data, "pq-host", "memory_percent") == [
        (T0 + i * 10**9, 50.0 + i) for i in range(5)
    ]


def test_bad_usage_is_said_in_one_line(tmp_path: Path) -> None:
    file = tmp_path / "x.json"
    file.write_text("{}")
    done = netgauge(str(file), "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and "--format" in done.stderr
    csv_file = tmp_path / "x.csv"
    csv_file.write_text("when,what\n1,2\n")
    done = netgauge(str(csv_file), "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and "the header needs metric, value and time" in done.stderr
