"""The data lake export next to the plain ways of getting the same rows into Parquet.

    .venv/bin/python bench/analytics_lake.py [--series 1000] [--samples 1000] [--quick]

A store of ``--series`` series (100 devices × 10 metrics) with ``--samples`` samples each,
one every 2 minutes (about 33 hours: two UTC days), values with two decimals on a random
walk (what devices report), written into an ``EmbeddedStore`` and sealed and rolled up
(``maintain``), beside an empty migrated inventory. Then, each timed once on a warm cache:

* **netgauge, metrics_raw**: ``export`` of the raw table alone (read-only snapshot, block
  decoding, sort by series and time, zstd Parquet, temp file + fsync + rename): rows/s;
* **netgauge, every table**: ``run_export`` (raw, minute/hour/day rollups, the inventory);
* **again, unchanged**: the same run once more (fingerprints only: nothing read, written);
* **incremental**: one new sample per series, then a run (one day's file rewritten);
* **plain pyarrow**: the same rows already in memory as Python lists → ``pa.table`` →
  ``pq.write_table`` (zstd): the writing alone, the floor of any exporter;
* **DuckDB COPY**: the same in-memory Arrow table written by DuckDB's Parquet writer;
* **via the query API**: what a script over netgauge's public reads would do: ``points()``
  per series, then one pyarrow table and file.

Sizes: the SQLite file (after a checkpoint) and the lake's metrics_raw files, in bytes per
sample. Read-back: ``count(*)`` and ``avg(value)`` over the lake by DuckDB and Polars.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - loaded once per process (0.4 s), not inside a timing
import pyarrow.parquet as pq

from netgauge.analytics.lake import WRITE_OPTIONS, export
from netgauge.analytics.lake_service import RawSource, run_export
from netgauge.config.settings import Settings
from netgauge.inventory import make_engine, migrate
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage import EmbeddedStore
from netgauge.storage.embedded.dump import snapshot
from netgauge.storage.embedded.layout import Retention

S = 1_000_000_000
STEP = 120 * S
KEEP = Retention(raw_days=36500, minute_days=36500, hour_days=36500, day_days=36500)


def series_names(count: int) -> list[tuple[str, str]]:
    metrics = [f"metric_{m}" for m in range(10)]
    return [(f"dev-{d:04d}", metrics[i % 10]) for d in range(count // 10) for i in range(10)]


async def build(path: Path, names: list[tuple[str, str]], samples: int, t0: int) -> list[Sample]:
    """The store, written in 50,000-sample batches, sealed and rolled up; the samples."""
    rng = random.Random(16)
    written: list[Sample] = []
    store = EmbeddedStore(path, retention=KEEP)
    for k in range(samples):
        ts = t0 + k * STEP
        for device, metric in names:
            value = round(50 + 40 * rng.random() - 20 * (k % 7 == 0), 2)
            written.append(Sample(DEVICE_METRICS, device, metric, value, ts))
    for i in range(0, len(written), 50_000):
        await store.write(written[i : i + 50_000])
    await store.maintain()
    await store.close()
    return written


def file_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def lake_bytes(out: Path, table: str) -> int:
    return sum(p.stat().st_size for p in (out / table).rglob("*.parquet"))


def timed(label: str, rows: int | None, fn: object) -> float:
    """Run ``fn`` once; print its time and, for a full export, rows per second."""
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    took = time.perf_counter() - start
    rate = f"{rows / took:>12,.0f} rows/s" if rows else ""
    print(f"  {label:<44} {took:8.2f} s  {rate}")  # noqa: T201
    return took


async def via_api(path: Path, names: list[tuple[str, str]], out: Path) -> None:
    store = EmbeddedStore(path, retention=KEEP)
    columns: dict[str, list[object]] = {"device": [], "metric": [], "ts_ns": [], "value": []}
    for device, metric in names:
        for p in await store.points(device, metric, 0, 2**62):
            columns["device"].append(device)
            columns["metric"].append(metric)
            columns["ts_ns"].append(p.ts_ns)
            columns["value"].append(p.value)
    await store.close()
    pq.write_table(pa.table(columns), out, compression="zstd")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 series × 1000 samples")
    args = parser.parse_args()
    series = 100 if args.quick else args.series
    names = series_names(series)
    t0 = (int(time.time()) // 86400 - 10) * 86400 * S + 8 * 3600 * S  # 08:00, 10 days ago
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        engine = make_engine(f"sqlite:///{data / 'inventory.db'}")
        migrate(engine)
        engine.dispose()
        began = time.perf_counter()
        written = asyncio.run(build(data / "metrics.db", names, args.samples, t0))
        rows = len(written)
        print(f"store: {len(names)} series × {args.samples} samples = {rows:,} samples, ")  # noqa: T201
        print(f"  written, sealed and rolled up in {time.perf_counter() - began:.1f} s")  # noqa: T201
        sqlite_size = file_bytes(data / "metrics.db")
        settings = Settings(data_dir=data)
        print("export of the raw samples (rows/s of samples):")  # noqa: T201

        def raw_only() -> None:
            with snapshot(data / "metrics.db") as snap:
                report = export(root / "raw-lake", [RawSource(snap)])
                assert report.error is None

        timed("netgauge export, metrics_raw", rows, raw_only)
        timed("netgauge run_export, every table", rows, lambda: run_export(settings, root / "lake"))
        timed("again, nothing changed", None, lambda: run_export(settings, root / "lake"))

        async def one_more() -> None:
            store = EmbeddedStore(data / "metrics.db", retention=KEEP)
            ts = t0 + args.samples * STEP
            await store.write([Sample(DEVICE_METRICS, d, m, 1.0, ts) for d, m in names])
            await store.close()

        asyncio.run(one_more())
        timed(
            "incremental: 1 new sample per series",
            None,
            lambda: run_export(settings, root / "lake"),
        )

        def plain() -> pa.Table:
            return pa.table(
                {
                    "device": [s.device_id for s in written],
                    "metric": [s.metric_name for s in written],
                    "ts_ns": [s.ts_ns for s in written],
                    "value": [s.value for s in written],
                }
            )

        table = plain()
        timed(
            "plain pyarrow: lists → table → zstd file",
            rows,
            lambda: pq.write_table(plain(), root / "plain.parquet", **WRITE_OPTIONS),
        )
        timed(
            "plain pyarrow: the table → zstd file",
            rows,
            lambda: pq.write_table(table, root / "plain2.parquet", **WRITE_OPTIONS),
        )
        copy = f"COPY arrow_rows TO '{root / 'duck.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
        con = duckdb.connect()
        con.register("arrow_rows", table)
        timed("DuckDB COPY of the Arrow table", rows, lambda: con.execute(copy))
        timed(
            "via the query API: points() per series",
            rows,
            lambda: asyncio.run(via_api(data / "metrics.db", names, root / "api.parquet")),
        )

        raw = lake_bytes(root / "raw-lake", "metrics_raw")
        sizes = [
            ("embedded SQLite file (all levels)", sqlite_size),
            ("lake metrics_raw (zstd Parquet)", raw),
            ("plain pyarrow zstd (no ts column)", (root / "plain2.parquet").stat().st_size),
            ("DuckDB COPY zstd", (root / "duck.parquet").stat().st_size),
        ]
        print("sizes (bytes per sample):")  # noqa: T201
        for label, size in sizes:
            print(f"  {label:<36} {size / rows:6.2f}  ({size:,} B)")  # noqa: T201
        glob = (root / "lake" / "metrics_raw" / "*" / "*.parquet").as_posix()
        start = time.perf_counter()
        n, avg = duckdb.sql(
            f"SELECT count(*), avg(value) FROM read_parquet('{glob}', hive_partitioning = true)"
        ).fetchone()  # type: ignore[misc]
        duck_s = time.perf_counter() - start
        start = time.perf_counter()
        frame = (
            pl.scan_parquet(
                root / "lake" / "metrics_raw" / "**" / "*.parquet", hive_partitioning=True
            )
            .select(pl.len(), pl.col("value").mean())
            .collect()
        )
        polars_s = time.perf_counter() - start
        expected = rows + len(names)
        assert n == expected and frame.item(0, 0) == expected, (n, frame)
        took = f"DuckDB {duck_s * 1000:.0f} ms, Polars {polars_s * 1000:.0f} ms"
        print(f"read back, count and avg: {took} ({n:,} rows, avg {avg:.4f})")  # noqa: T201


if __name__ == "__main__":
    main()
