"""Console page load: a device's detail page over 30 days of one-minute data.

    sudo ./scripts/bench console [--repeat 5]
    .venv/bin/python bench/console.py

One device with 30 days of samples at one a minute for the metrics a poll reports
(cpu_percent, memory_percent, 3 × disk_percent, 2 × temperature_celsius, net in/out of 4
interfaces, and its status): 16 series, 691,200 samples, written straight through the
embedded store. Then a real ``netgauge serve`` on 127.0.0.1, logged in as its admin, and:

* the detail page's HTML for ``range=30d`` (server time, bytes);
* every JSON request the page's script makes for that range (the step the page chose, so
  hourly rollups), one by one (time, bytes each) and all at once as a browser does (6 at a
  time), and the static assets the page loads (cached by browsers after the first view);
* the baseline users would otherwise have: the same raw rows from a plain SQLite table
  (ts, device, metric, value) indexed on (device, metric, ts), and its hourly GROUP BY.

Printed: medians of ``--repeat`` runs, in a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.conftest when run as a script

from bench.api import wait_up  # noqa: E402
from tests.conftest import free_port  # noqa: E402

from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample  # noqa: E402
from netgauge.storage.embedded import EmbeddedStore  # noqa: E402

PASSWORD = "bench-admin-password"
DEVICE = "bench-router"
MIN = 60 * 10**9
DAY = 1440 * MIN
METRICS = [
    "cpu_percent",
    "memory_percent",
    *(f'disk_percent{{mount="{m}"}}' for m in ("/", "/var", "/home")),
    *(f'temperature_celsius{{sensor="{s}"}}' for s in ("cpu", "board")),
    *(
        f'net_{d}_bytes_per_sec{{interface="{i}"}}'
        for i in ("eth0", "eth1", "eth2", "eth3")
        for d in ("in", "out")
    ),
]
CONFIG = f"targets:\n  - {{name: {DEVICE}, address: 127.0.0.1, type: device}}\n"


def value(n: int, minute: int) -> float:
    """A plausible, cheap gauge: a daily wave per series, one decimal."""
    phase = (minute + 97 * n) % 1440
    return round(20 + 15 * abs(720 - phase) / 720 + (minute * 7 + n) % 10, 1)


def minute_rows(end: int, days: int) -> Iterator[tuple[int, str, float]]:
    """(ts, metric, value) of every series, minute by minute, oldest first."""
    start = end - days * DAY
    for minute in range(days * 1440):
        ts = start + minute * MIN
        for n, metric in enumerate(METRICS):
            yield ts, metric, value(n, minute)
        yield ts, "status", 0.0 if minute % 997 == 0 else 1.0


async def build_store(path: Path, end: int, days: int) -> tuple[int, float]:
    """Write the month through the store (batches of 10,000) and roll it up."""
    store = EmbeddedStore(path)
    t0 = time.perf_counter()
    batch: list[Sample] = []
    total = 0
    for ts, metric, v in minute_rows(end, days):
        kind = DEVICE_STATUS if metric == "status" else DEVICE_METRICS
        batch.append(Sample(kind, DEVICE, metric, v, ts))
        if len(batch) == 10_000:
            await store.write(batch)
            total += len(batch)
            batch = []
    if batch:
        await store.write(batch)
        total += len(batch)
    await store.maintain()
    await store.close()
    return total, time.perf_counter() - t0


def sqlite_baseline(path: Path, end: int, days: int) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE samples (ts INTEGER, device TEXT, metric TEXT, value REAL)")
    db.executemany(
        "INSERT INTO samples VALUES (?, ?, ?, ?)",
        ((ts, DEVICE, m, v) for ts, m, v in minute_rows(end, days)),
    )
    db.execute("CREATE INDEX samples_dmt ON samples (device, metric, ts)")
    db.commit()
    return db


# -- the server ---------------------------------------------------------------------------------
@contextmanager
def netgauge_server(data: Path, work: Path) -> Iterator[str]:
    port = free_port()
    config = work / "console.yaml"
    config.write_text(CONFIG)
    env = {**os.environ, "NETGAUGE_ADMIN_PASSWORD": PASSWORD, "NETGAUGE_LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "netgauge", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--data-dir", str(data), "--config", str(config)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(f"{url}/api/v1/health", deadline_s=60.0)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def log_in(url: str) -> str:
    body = json.dumps({"username": "admin", "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{url}/api/v1/auth/login", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as r:
        token: str = json.loads(r.read())["access_token"]
        return token


def fetch(url: str, token: str) -> tuple[float, int, bytes]:
    """(seconds, bytes, body) of one GET."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as r:
        body = r.read()
    return time.perf_counter() - t0, len(body), body


def script_requests(html: str) -> list[tuple[str, str]]:
    """(label, path) of each JSON request detail.js makes for this page, as it builds them."""
    charts = re.search(r'<section id="charts"[^>]*>', html, re.S)
    assert charts, "no #charts on the page"
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', charts.group(0)))
    base = {"target": attrs["target"], "from": attrs["from"], "to": attrs["to"]}
    base["format"] = "columns"  # as detail.js asks: parallel arrays
    if attrs["step"]:
        base["step"] = attrs["step"]
    wanted: list[tuple[str, str]] = []
    for kind, series in re.findall(r'data-kind="([a-z]+)"[^>]*?data-series="([^"]*)"', html):
        for s in json.loads(unescape(series)):
            params = {**base, "metric": s["metric"]}
            if kind == "status" and attrs["step"]:
                params["agg"] = "availability"
            wanted.append((s["metric"], "/api/v1/metrics?" + urllib.parse.urlencode(params)))
    return wanted


def assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def median(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def measure(url: str, token: str, repeat: int) -> list[tuple[str, float, int, str]]:
    page = f"{url}/devices/{DEVICE}?range=30d"
    fetch(page, token)  # warm: the first query opens the store's files
    t_page, (_, page_bytes, body) = median(repeat, lambda: fetch(page, token))
    html = body.decode()
    rows = [("detail page HTML (range=30d)", t_page, page_bytes, "")]
    requests = script_requests(html)
    points = 0
    t_sum, json_bytes = 0.0, 0
    for label, path in requests:
        dt, (_, n, data) = median(repeat, lambda p=path: fetch(url + p, token))  # type: ignore[misc]
        count = len(json.loads(data)["ts"])
        points += count
        t_sum += dt
        json_bytes += n
        rows.append((f"  GET /api/v1/metrics {label}", dt, n, f"{count} points"))

    def all_at_once() -> None:
        with ThreadPoolExecutor(6) as pool:  # a browser's connections per host
            list(pool.map(lambda r: fetch(url + r[1], token), requests))

    t_parallel, _ = median(repeat, all_at_once)
    rows.append((f"JSON: {len(requests)} requests, one after another", t_sum, json_bytes, ""))
    rows.append((f"JSON: {len(requests)} requests, 6 at a time", t_parallel, json_bytes, ""))
    rows.append(("  points drawn", 0.0, 0, f"{points:,} points"))
    static = sum(fetch(url + a, token)[1] for a in assets(html))
    rows.append(("static assets (first view only; cached)", 0.0, static, ""))
    total = t_page + t_parallel
    rows.append(("page total (HTML + JSON)", total, page_bytes + json_bytes, ""))
    return rows


def baseline(db: sqlite3.Connection, end: int, days: int, repeat: int) -> list[Any]:
    start = end - days * DAY
    names = [*METRICS, "status"]

    def raw() -> tuple[int, int]:
        rows = [
            db.execute(
                "SELECT ts, value FROM samples WHERE device=? AND metric=? AND ts>=? AND ts<?",
                (DEVICE, m, start, end),
            ).fetchall()
            for m in names
        ]
        return sum(len(r) for r in rows), len(json.dumps(rows))

    def hourly() -> int:
        q = (
            "SELECT ts / 3600000000000, avg(value), min(value), max(value), count(*) FROM samples "
            "WHERE device=? AND metric=? AND ts>=? AND ts<? GROUP BY 1"
        )
        return sum(len(db.execute(q, (DEVICE, m, start, end)).fetchall()) for m in names)

    t_raw, (n_raw, raw_json) = median(repeat, raw)
    t_hour, n_hour = median(repeat, hourly)
    return [
        ("plain SQLite: the raw rows, 16 series", t_raw, raw_json, f"{n_raw:,} rows"),
        ("plain SQLite: hourly GROUP BY, 16 series", t_hour, 0, f"{n_hour:,} rows"),
    ]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="netgauge-bench-console-"))
    try:
        end = time.time_ns() // MIN * MIN
        data = work / "data"
        data.mkdir()
        total, dt = asyncio.run(build_store(data / "metrics.db", end, args.days))
        print(f"wrote {total:,} samples ({len(METRICS) + 1} series) in {dt:.1f} s, rollups incl.")
        rows: list[tuple[str, float, int, str]] = []
        with netgauge_server(data, work) as url:
            rows += measure(url, log_in(url), args.repeat)
        db = sqlite_baseline(work / "baseline.db", end, args.days)
        rows += baseline(db, end, args.days, args.repeat)
        db.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'device detail, 30 days at 1 min':60} {'ms':>9} {'bytes':>11}  note")
    for label, seconds, size, note in rows:
        ms = f"{seconds * 1000:9.1f}" if seconds else f"{'':9}"
        size_text = f"{size:,}" if size else ""
        print(f"{label:60} {ms} {size_text:>11}  {note}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
