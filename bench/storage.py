"""netgauge's embedded store next to plain SQLite and VictoriaMetrics, in one run.

    sudo ./scripts/bench storage [--devices 1000] [--metrics 6] [--days 7] [--quick]
    .venv/bin/python bench/storage.py [--ingest-rows 2000000] [--no-vm] [--keep DIR]

Everything runs on this machine; VictoriaMetrics is Debian's ``victoria-metrics`` started on
127.0.0.1 with a temporary data directory (caches on, unlike the tests' deterministic lab
settings), and stopped at the end.

1. **Ingest**: ``--ingest-rows`` samples of ``--devices`` × ``--metrics`` series, one a minute,
   in 5,000-sample batches:

   * plain SQLite, WAL, ``executemany`` of narrow rows (ts, device, metric, value) in
     5,000-row transactions, no index (the baseline), and the same with an index on
     (device, metric, ts) (what "queryable per series" costs done naively);
   * netgauge: ``Sample`` objects through the ``BatchWriter`` into the ``EmbeddedStore``
     (every batch committed before it counts), then the seal and rollups of all of it
     (``maintain``), reported both apart and together (sustained);
   * VictoriaMetrics: the same samples as InfluxDB line protocol over HTTP, through
     netgauge's ``VictoriaMetricsStore`` behind the same writer.

2. **Queries** on a store of ``--devices`` × ``--metrics`` series for ``--days`` days at one
   sample a minute (the first ``--long-devices`` devices for ``--long-days`` days), loaded
   into both netgauge's embedded store and VictoriaMetrics:

   * one device × one metric × 30 days by the hour (~720 points): ``EmbeddedStore.points``
     vs VictoriaMetrics' ``avg_over_time(...[1h])`` query_range;
   * the fleet: every device and metric, hourly average over the last 7 days:
     ``EmbeddedStore.fleet`` vs VictoriaMetrics' ``avg_over_time(device_metrics_value[1h])``;
   * the dashboard: latest value of every series + one device's metrics over 24 h (raw)
     and 30 days (hourly);
   * bytes per sample on disk (the SQLite file and its WAL; VictoriaMetrics' data directory
     after a flush).

   Query times are medians of ``--repeat`` runs, after one warm-up run.

3. **A grown store**: 1,000 devices × 10 metrics × 90 days at one sample a minute, as the
   default retention leaves it (written straight into the store's layout: through the writer
   it would take hours), reopened; then the dashboard: the overview (latest value of every
   series, one metric's 24 h hourly max for every device) and a device page (every metric
   over 24 h raw, 7 and 30 days hourly, 90 days daily), first run and median.

``--quick`` shrinks everything (100 devices, 2 days, 200,000 ingest rows) to check the bench
itself in a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.embedded import EmbeddedStore
from netgauge.storage.embedded.blocks import encode
from netgauge.storage.embedded.layout import DAY_LEVEL, HOUR_LEVEL, RAW, table
from netgauge.storage.embedded.summary import Summary
from netgauge.storage.victoriametrics import VictoriaMetricsStore
from netgauge.storage.writer import BatchWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.lab as a script
from tests.lab.victoriametrics import VictoriaMetrics, missing_victoriametrics  # noqa: E402

S = 1_000_000_000
MIN, HOUR, DAY = 60 * S, 3600 * S, 86_400 * S
BATCH = 5000


class BenchVictoriaMetrics(VictoriaMetrics):
    """The lab server with its caches on: what a user runs, not the tests' strict mode."""

    def command(self) -> list[str]:
        return [a for a in super().command() if a != "-search.disableCache"]


# -- data ------------------------------------------------------------------------------------
def series_names(devices: int, metrics: int) -> list[tuple[str, str]]:
    return [(f"dev{d:05d}", f"metric_{m}") for d in range(devices) for m in range(metrics)]


def minute_rows(
    names: list[tuple[str, str]], start: int, minutes: int, seed: int = 1
) -> Iterator[tuple[int, str, str, float]]:
    """(ts, device, metric, value) in time order: every series once a minute, a random walk
    with one decimal, as a gauge from a device would be."""
    rng = random.Random(seed)
    level = [rng.uniform(5, 95) for _ in names]
    for m in range(minutes):
        ts = start + m * MIN
        for i, (device, metric) in enumerate(names):
            level[i] = min(100.0, max(0.0, level[i] + rng.uniform(-2, 2)))
            yield ts, device, metric, round(level[i], 1)


def sample_batches(rows: Iterator[tuple[int, str, str, float]]) -> Iterator[list[Sample]]:
    batch: list[Sample] = []
    for ts, device, metric, value in rows:
        batch.append(Sample(DEVICE_METRICS, device, metric, value, ts))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _row(s: Sample) -> tuple[int, str, str, float]:
    return s.ts_ns, s.device_id, s.metric_name, s.value


def line_protocol(rows: list[tuple[int, str, str, float]]) -> bytes:
    return "".join(
        f"device_metrics,device_id={d},metric_name={m} value={v} {ts}\n" for ts, d, m, v in rows
    ).encode()


# -- measuring -------------------------------------------------------------------------------
def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t = time.perf_counter()
    result = work()
    return time.perf_counter() - t, result


async def atimed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    gc.collect()
    t = time.perf_counter()
    result = await work()
    return time.perf_counter() - t, result


async def median_ms(work: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    result = await work()  # warm-up
    times = []
    for _ in range(repeat):
        dt, result = await atimed(work)
        times.append(dt * 1000)
    return statistics.median(times), result


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sqlite_bytes(path: Path) -> int:
    return sum(
        Path(f"{path}{suffix}").stat().st_size
        for suffix in ("", "-wal")
        if Path(f"{path}{suffix}").exists()
    )


# -- 1. ingest -------------------------------------------------------------------------------
def sqlite_baseline(path: Path, rows: list[tuple[int, str, str, float]], index: bool) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE s (ts INTEGER, device TEXT, metric TEXT, value REAL)")
    if index:
        conn.execute("CREATE INDEX s_series ON s (device, metric, ts)")

    def load() -> None:
        for i in range(0, len(rows), BATCH):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO s VALUES (?, ?, ?, ?)", rows[i : i + BATCH])
            conn.execute("COMMIT")

    dt, _ = timed(load)
    conn.close()
    return len(rows) / dt


async def through_writer(sink: Any, batches: list[list[Sample]]) -> float:
    writer = BatchWriter([sink], batch_size=BATCH, flush_interval_s=3600)

    async def load() -> None:
        for batch in batches:
            writer.submit(batch)
            await writer.flush()
        await writer.close(timeout_s=600)
        if writer.pending().get(sink.name) or writer.dropped().get(sink.name):
            raise RuntimeError(f"{sink.name}: samples left behind")

    dt, _ = await atimed(load)
    return dt


async def bench_ingest(args: argparse.Namespace, work: Path, vm: VictoriaMetrics | None) -> None:
    names = series_names(args.devices, args.metrics)
    minutes = -(-args.ingest_rows // len(names))
    start = (time.time_ns() // HOUR - 24) * HOUR - minutes * MIN
    rows = list(minute_rows(names, start, minutes))[: args.ingest_rows]
    n = len(rows)
    print(f"\n== ingest: {n:,} samples, {len(names):,} series, batches of {BATCH:,}")
    noindex = sqlite_baseline(work / "plain.db", rows, index=False)
    indexed = sqlite_baseline(work / "indexed.db", rows, index=True)
    batches = list(sample_batches(iter(rows)))
    del rows
    store = EmbeddedStore(work / "ingest.db")
    write_s = await through_writer(store, batches)
    maintain_s, _ = await atimed(store.maintain)
    await store.close()
    table = [
        ("plain SQLite executemany, no index (baseline)", noindex, 1.0),
        ("plain SQLite, index (device, metric, ts)", indexed, indexed / noindex),
        ("netgauge embedded: writer → committed", n / write_s, n / write_s / noindex),
        (
            "netgauge embedded: + seal and rollups (sustained)",
            n / (write_s + maintain_s),
            n / (write_s + maintain_s) / noindex,
        ),
    ]
    if vm is not None:
        vm_store = VictoriaMetricsStore(vm.url)
        vm_s = await through_writer(vm_store, batches)
        await vm_store.close()
        table.append(("VictoriaMetrics via netgauge's writer", n / vm_s, n / vm_s / noindex))
        bodies = [line_protocol([_row(s) for s in batch]) for batch in batches]

        def post_all() -> None:
            for body in bodies:
                vm_post(vm, body)

        raw_s, _ = timed(post_all)
        table.append(
            ("VictoriaMetrics /write, line protocol prepared", n / raw_s, n / raw_s / noindex)
        )
    print(f"{'':52} {'samples/s':>12} {'× baseline':>11}")
    for label, rate, ratio in table:
        print(f"{label:52} {rate:12,.0f} {ratio:10.2f}×")
    print(f"(seal + rollups of the {n:,} samples: {maintain_s:.2f} s)")


# -- 2. queries ------------------------------------------------------------------------------
def vm_post(vm: VictoriaMetrics, body: bytes) -> None:
    request = urllib.request.Request(f"{vm.url}/write", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        if response.status != 204:
            raise RuntimeError(f"VictoriaMetrics /write answered {response.status}")


def vm_query_range(vm: VictoriaMetrics, query: str, start: int, end: int, step: str) -> Any:
    params = urllib.parse.urlencode(
        {"query": query, "start": start / S, "end": end / S, "step": step}
    )
    with urllib.request.urlopen(f"{vm.url}/api/v1/query_range?{params}", timeout=300) as r:
        data = json.loads(r.read())
    if data.get("status") != "success":
        raise RuntimeError(f"VictoriaMetrics: {data}")
    return data["data"]["result"]


async def load_query_store(
    args: argparse.Namespace, store: EmbeddedStore, vm: VictoriaMetrics | None, end: int
) -> int:
    """The query data set, into both stores; the number of samples."""
    long_names = series_names(args.long_devices, args.metrics)
    all_names = series_names(args.devices, args.metrics)
    total, t_ng, t_vm = 0, 0.0, 0.0
    start, short_start = end - args.long_days * DAY, end - args.days * DAY
    chunk: list[tuple[int, str, str, float]] = []
    # in time order, every series together, as a fleet reports: the first devices alone
    # before the others start
    parts = [
        (long_names, start, (short_start - start) // MIN),
        (all_names, short_start, args.days * 1440),
    ]
    for names, first, minutes in parts:
        for row in minute_rows(names, first, minutes, seed=len(names)):
            chunk.append(row)
            if len(chunk) == 100 * BATCH:
                t_ng, t_vm = await _load_chunk(store, vm, chunk, t_ng, t_vm)
                total += len(chunk)
                chunk = []
    if chunk:
        t_ng, t_vm = await _load_chunk(store, vm, chunk, t_ng, t_vm)
        total += len(chunk)
    # one sample past the end closes the last hour for the rollups
    await store.write([Sample(DEVICE_METRICS, "tick", "x", 0.0, end + 5 * MIN)])
    dt, _ = await atimed(store.maintain)
    t_ng += dt
    if vm is not None:
        dt, _ = timed(vm.flush)
        t_vm += dt
    vm_note = f", VictoriaMetrics {t_vm:.1f} s" if vm is not None else ""
    print(f"loaded {total:,} samples: netgauge {t_ng:.1f} s (incl. rollups){vm_note}")
    return total


async def _load_chunk(
    store: EmbeddedStore,
    vm: VictoriaMetrics | None,
    chunk: list[tuple[int, str, str, float]],
    t_ng: float,
    t_vm: float,
) -> tuple[float, float]:
    batches = list(sample_batches(iter(chunk)))

    async def ng() -> None:
        for batch in batches:
            await store.write(batch)

    dt, _ = await atimed(ng)
    t_ng += dt
    if vm is not None:
        body = line_protocol(chunk)
        dt, _ = timed(lambda: vm_post(vm, body))
        t_vm += dt
    return t_ng, t_vm


async def bench_queries(args: argparse.Namespace, work: Path, vm: VictoriaMetrics | None) -> None:
    end = time.time_ns() // HOUR * HOUR
    n_series = args.devices * args.metrics
    print(
        f"\n== queries: {args.devices:,} devices × {args.metrics} metrics × {args.days} days "
        f"at 1 min ({args.long_devices} devices for {args.long_days} days)"
    )
    path = work / "query.db"
    store = EmbeddedStore(path)
    total = await load_query_store(args, store, vm, end)
    store._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # noqa: SLF001 - sizing the file
    rows: list[tuple[str, float, float | None]] = []

    month = end - 30 * DAY
    one_ms, one = await median_ms(
        lambda: store.points("dev00000", "metric_0", month, end, 3600, "avg"), args.repeat
    )
    vm_one = None
    if vm is not None:
        query = (
            'avg_over_time(device_metrics_value{device_id="dev00000",metric_name="metric_0"}[1h])'
        )
        vm_one, found = await median_ms(
            lambda: asyncio.to_thread(vm_query_range, vm, query, month + HOUR, end, "1h"),
            args.repeat,
        )
        vm_points = len(found[0]["values"]) if found else 0
        print(f"one series, 30 days by the hour: netgauge {len(one)} points, VM {vm_points}")
    rows.append(("one series × 30 days, hourly (~720 points)", one_ms, vm_one))

    week = end - 7 * DAY
    fleet_ms, fleet = await median_ms(lambda: store.fleet(week, end, 3600, "avg"), args.repeat)
    fleet_series = [v for k, v in fleet.items() if k[0] != "tick"]
    fleet_points = sum(map(len, fleet_series))
    vm_fleet = None
    if vm is not None:
        vm_fleet, found = await median_ms(
            lambda: asyncio.to_thread(
                vm_query_range,
                vm,
                "avg_over_time(device_metrics_value[1h])",
                week + HOUR,
                end,
                "1h",
            ),
            args.repeat,
        )
        print(
            f"fleet: netgauge {len(fleet_series):,} series / {fleet_points:,} points, "
            f"VM {len(found):,} series / {sum(len(r['values']) for r in found):,} points"
        )
    rows.append((f"fleet: {n_series:,} series × 7 days, hourly avg", fleet_ms, vm_fleet))

    async def dashboard() -> None:
        await store.latest(DEVICE_METRICS)
        for m in range(args.metrics):
            await store.points("dev00001", f"metric_{m}", end - DAY, end)
            await store.points("dev00001", f"metric_{m}", month, end, 3600, "avg")

    dash_ms, _ = await median_ms(dashboard, args.repeat)
    rows.append(
        (
            f"dashboard: latest of all + 1 device's {args.metrics} charts 24 h raw/30 d",
            dash_ms,
            None,
        )
    )
    print(f"\n{'':52} {'netgauge ms':>12} {'VM ms':>9} {'ratio':>7}")
    for label, ng_ms, vm_ms in rows:
        vm_text = f"{vm_ms:9.1f}" if vm_ms is not None else f"{'-':>9}"
        ratio = f"{ng_ms / vm_ms:6.2f}×" if vm_ms else f"{'-':>7}"
        print(f"{label:52} {ng_ms:12.1f} {vm_text} {ratio}")
    pages, free, page_size = (
        store._w.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: SLF001
        for name in ("page_count", "freelist_count", "page_size")
    )
    await store.close()
    ng_bytes, used = sqlite_bytes(path), (pages - free) * page_size
    line = (
        f"\nbytes per sample on disk: netgauge {ng_bytes / total:.2f} ({ng_bytes / 2**20:,.0f} "
        f"MiB file; {used / total:.2f} in use, the rest free pages the head left for reuse)"
    )
    if vm is not None:
        vm.halt()  # a clean stop writes its in-memory parts out: what it keeps on disk
        vm_bytes = dir_bytes(vm.directory / "data")
        line += f", VictoriaMetrics {vm_bytes / total:.2f} ({vm_bytes / 2**20:,.0f} MiB)"
    print(line)


# -- 3. a grown store ------------------------------------------------------------------------
def build_grown_store(
    path: Path, devices: int, metrics: int, days: int, end: int
) -> tuple[int, EmbeddedStore]:
    """A store as netgauge leaves it after ``days`` of one sample a minute per series, written
    straight into its layout (raw blocks for the raw retention, hourly and daily rollups for
    the rest): building it through the writer would take hours here. Values repeat from a
    pool of 64 one-hour random walks, so each block and rollup has a realistic size."""
    store = EmbeddedStore(path)
    maint, conn = store._maint, store._w  # noqa: SLF001 - a bench fills the layout directly
    names = series_names(devices, metrics)
    rng = random.Random(9)
    pool = []
    for _ in range(64):
        level, walk = rng.uniform(5, 95), []
        for _ in range(60):
            level = min(100.0, max(0.0, level + rng.uniform(-2, 2)))
            walk.append(round(level, 1))
        pool.append((walk, Summary.of(walk)))
    start = end - days * DAY
    raw_from = end - 30 * DAY
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO series (id, measurement, device_id, metric_name) VALUES (?, ?, ?, ?)",
        [(i + 1, DEVICE_METRICS, d, m) for i, (d, m) in enumerate(names)],
    )
    conn.execute("COMMIT")
    samples = 0
    for day in range(start, end, DAY):
        conn.execute("BEGIN")
        day_rows = []
        for hour in range(day, day + DAY, HOUR):
            ts = list(range(hour, hour + HOUR, MIN))
            picks = [(sid, (sid * 7 + hour // HOUR) % 64) for sid in range(1, len(names) + 1)]
            if hour >= raw_from:
                blobs = {k: encode(ts, pool[k][0]) for k in range(64)}
                maint._ensure(RAW, day)  # noqa: SLF001
                conn.executemany(
                    f"INSERT INTO {table(RAW, day)} (series_id, t0, t1, n, data) "
                    "VALUES (?, ?, ?, 60, ?)",
                    [(sid, hour, ts[-1], blobs[k]) for sid, k in picks],
                )
            part = hour - hour % HOUR_LEVEL.partition_ns
            maint._ensure(HOUR_LEVEL, part)  # noqa: SLF001
            conn.executemany(
                f"INSERT INTO {table(HOUR_LEVEL, part)} VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (sid, hour, p.n, p.sum, p.min, p.max, p.p95)
                    for sid, k in picks
                    for p in (pool[k][1],)
                ],
            )
            day_rows.extend(picks)
            samples += 60 * len(names)
        totals: dict[int, list[Summary]] = {}
        for sid, k in day_rows:
            totals.setdefault(sid, []).append(pool[k][1])
        part = day - day % DAY_LEVEL.partition_ns
        maint._ensure(DAY_LEVEL, part)  # noqa: SLF001
        conn.executemany(
            f"INSERT INTO {table(DAY_LEVEL, part)} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    sid,
                    day,
                    sum(p.n for p in parts),
                    sum(p.sum for p in parts),
                    min(p.min for p in parts),
                    max(p.max for p in parts),
                    max(p.p95 for p in parts),
                )
                for sid, parts in totals.items()
            ],
        )
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    last = [(sid, end - MIN, pool[k][0][-1]) for sid, k in day_rows[-len(names) :]]
    conn.executemany("INSERT INTO latest VALUES (?, ?, ?)", last)
    for key, value in (("hour_done", end), ("day_done", end - end % DAY), ("max_ts", end)):
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return samples, store


async def bench_grown(args: argparse.Namespace, work: Path) -> None:
    devices, metrics, days = args.grown_devices, 10, 90
    end = time.time_ns() // DAY * DAY
    print(
        f"\n== a grown store: {devices:,} devices × {metrics} metrics × {days} days at 1 min "
        "(raw 30 days, hourly 90, daily 2 years: the default retention)"
    )
    path = work / "grown.db"
    build_s, (samples, built) = timed(lambda: build_grown_store(path, devices, metrics, days, end))
    await built.close()
    size = sqlite_bytes(path)
    print(f"built in {build_s:.0f} s: {samples:,} samples, {size / 2**30:.2f} GiB")
    open_s, store = timed(lambda: EmbeddedStore(path))
    month, week, quarter = end - 30 * DAY, end - 7 * DAY, end - 90 * DAY
    device = f"dev{devices // 2:05d}"

    async def overview() -> None:
        await store.latest(DEVICE_METRICS)
        await store.fleet(end - DAY, end, 3600, "max", metric_name="metric_0")

    async def device_page() -> None:
        for m in range(metrics):
            await store.points(device, f"metric_{m}", end - DAY, end)
            await store.points(device, f"metric_{m}", week, end, 3600, "avg")
            await store.points(device, f"metric_{m}", month, end, 3600, "avg")
            await store.points(device, f"metric_{m}", quarter, end, 86400, "avg")

    first_s, _ = await atimed(overview)
    first_page, _ = await atimed(device_page)
    over_ms, _ = await median_ms(overview, args.repeat)
    page_ms, _ = await median_ms(device_page, args.repeat)
    await store.close()
    print(f"open: {open_s * 1000:.0f} ms (series and latest values into memory)")
    print(
        f"overview (latest of {devices * metrics:,} series + the 24 h hourly max of one metric "
        f"for every device): first {first_s * 1000:.0f} ms, then {over_ms:.0f} ms"
    )
    print(
        f"device page ({metrics} metrics × 24 h raw, 7 d and 30 d hourly, 90 d daily): "
        f"first {first_page * 1000:.0f} ms, then {page_ms:.0f} ms"
    )


# -- main ------------------------------------------------------------------------------------
def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--metrics", type=int, default=6)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--long-devices", type=int, default=10)
    p.add_argument("--long-days", type=int, default=30)
    p.add_argument("--ingest-rows", type=int, default=2_000_000)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--no-vm", action="store_true", help="netgauge and SQLite only")
    p.add_argument("--grown-devices", type=int, default=1000, help="of the grown store (×10)")
    p.add_argument("--no-grown", action="store_true", help="skip the grown-store section")
    p.add_argument("--quick", action="store_true", help="small sizes: check the bench itself")
    p.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = p.parse_args(argv)
    if args.quick:
        args.devices, args.days, args.ingest_rows, args.repeat = 100, 2, 200_000, 3
        args.long_devices, args.long_days, args.grown_devices = 2, 30, 20
    for name in ("devices", "metrics", "days", "long_devices", "long_days", "ingest_rows"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.long_devices > args.devices:
        p.error("--long-devices cannot exceed --devices")
    return args


async def run(args: argparse.Namespace, work: Path) -> None:
    missing = None if args.no_vm else missing_victoriametrics()
    if missing:
        print(f"VictoriaMetrics column skipped: {missing}")
    print(
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
    )
    for section in (bench_ingest, bench_queries):
        if args.no_vm or missing:
            await section(args, work, None)
            continue
        with BenchVictoriaMetrics() as vm:
            await section(args, work, vm)
    if not args.no_grown:
        await bench_grown(args, work)


def main(argv: list[str]) -> int:
    args = parse(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="netgauge-bench-storage-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(run(args, work))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
