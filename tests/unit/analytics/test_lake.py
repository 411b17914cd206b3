"""The data lake export over a real embedded store and inventory: what DuckDB and Polars read
back is what was written (the generator's own record is the truth), runs are idempotent
and incremental, and a full disk leaves nothing half-written."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session

from netgauge.analytics.lake import MANIFEST, export
from netgauge.analytics.lake_service import LakeRunner, open_sources, run_export
from netgauge.config.settings import Settings
from netgauge.inventory import make_engine, migrate
from netgauge.inventory.tables import ErrorLog, IncidentRow, JobRun
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage import EmbeddedStore
from netgauge.storage.embedded.layout import Retention

S = 1_000_000_000
DAY0 = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) * S
Truth = dict[tuple[str, str, int], float]
KEEP = Retention(raw_days=3650, minute_days=3650, hour_days=3650, day_days=3650)


def open_store(path: Path, seal_rows: int = 1_000_000) -> EmbeddedStore:
    """The store with retention long enough for 2026-03 data (the clock is the real one)."""
    return EmbeddedStore(path, retention=KEEP, seal_rows=seal_rows)


def hashes(out: Path) -> dict[str, str]:
    """sha256 of every Parquet file under ``out`` (the independent check of sameness)."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*.parquet"))
    }


async def write_samples(
    store: EmbeddedStore, truth: Truth, start: int, hours: int, seed: int
) -> None:
    """Samples of three devices every 30 s, some written twice (the later value counts),
    in batches out of time order; ``truth`` records what a reader must see."""
    rng = random.Random(seed)
    samples = []
    for device in ("gw", "core-1", "edge"):
        for metric in ("cpu_percent", "icmp.rtt_avg_ms"):
            for k in range(hours * 120):
                ts = start + k * 30 * S + rng.randrange(0, 1000)
                value = round(rng.uniform(0, 100), 3)
                samples.append(Sample(DEVICE_METRICS, device, metric, value, ts))
                truth[(device, metric, ts)] = value
    rng.shuffle(samples)
    for i in range(0, len(samples), 997):
        await store.write(samples[i : i + 997])
    again = rng.sample(samples, 50)  # overwritten later with new values
    rewrites = []
    for s in again:
        value = round(rng.uniform(200, 300), 3)
        rewrites.append(Sample(s.measurement, s.device_id, s.metric_name, value, s.ts_ns))
        truth[(s.device_id, s.metric_name, s.ts_ns)] = value
    await store.write(rewrites)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    path.mkdir()
    engine = make_engine(f"sqlite:///{path / 'inventory.db'}")
    migrate(engine)
    engine.dispose()
    (path / "metrics.db").touch()  # an empty store file: what serve's first start makes
    yield path


def read_duckdb(out: Path, table: str) -> list[tuple[object, ...]]:
    glob = (out / table / "*" / "*.parquet").as_posix()
    return duckdb.sql(
        f"SELECT device, metric, ts_ns, value, date FROM read_parquet('{glob}', "
        "hive_partitioning = true) ORDER BY device, metric, ts_ns"
    ).fetchall()


async def test_raw_samples_read_back_by_duckdb_and_polars_as_written(
    data_dir: Path, tmp_path: Path
) -> None:
    store = open_store(data_dir / "metrics.db", seal_rows=2000)  # most in blocks
    truth: Truth = {}
    await write_samples(store, truth, DAY0 + 22 * 3600 * S, hours=4, seed=1)  # two days
    out = tmp_path / "lake"
    report = run_export(Settings(data_dir=data_dir), out)  # the store still open: its head too
    assert report.error is None
    rows = read_duckdb(out, "metrics_raw")
    assert [(d, m, ts, v) for d, m, ts, v, _ in rows] == sorted(
        (d, m, ts, v) for (d, m, ts), v in truth.items()
    )
    # the partition is the UTC day of each sample, as DuckDB decodes the directory name
    assert all(
        day == datetime.fromtimestamp(int(str(ts)) // S, UTC).date() for _, _, ts, _, day in rows
    )
    frame = (
        pl.scan_parquet(out / "metrics_raw" / "**" / "*.parquet", hive_partitioning=True)
        .select("device", "metric", "ts", "ts_ns", "value", "date")
        .collect()
    )
    assert frame.schema["date"] == pl.Date and frame.schema["ts"] == pl.Datetime("us", "UTC")
    assert frame.height == len(truth)
    assert (frame["ts"].dt.epoch("us") == frame["ts_ns"] // 1000).all()
    keys = zip(frame["device"], frame["metric"], frame["ts_ns"], strict=True)
    assert dict(zip(keys, frame["value"], strict=True)) == truth
    await store.close()


async def test_a_second_run_writes_nothing_and_a_fresh_export_is_byte_identical(
    data_dir: Path, tmp_path: Path
) -> None:
    store = open_store(data_dir / "metrics.db", seal_rows=3000)
    truth: Truth = {}
    await write_samples(store, truth, DAY0 + 22 * 3600 * S, hours=3, seed=2)
    await store.maintain()  # rollups too (the first day's daily one: its day has closed)
    out = tmp_path / "lake"
    first = run_export(Settings(data_dir=data_dir), out).as_json()
    before = hashes(out)
    again = run_export(Settings(data_dir=data_dir), out).as_json()
    assert first["files_written"] == len(before) and again["files_written"] == 0
    assert hashes(out) == before
    fresh = tmp_path / "fresh"
    run_export(Settings(data_dir=data_dir), fresh)
    assert hashes(fresh) == before
    assert {"metrics_raw", "metrics_hourly", "metrics_daily"} <= {p.split("/")[0] for p in before}
    made = [p for p in out.rglob("*") if not p.name.startswith(".")]
    assert {oct(p.stat().st_mode & 0o777) for p in made if p.is_file()} == {"0o600"}
    assert {oct(p.stat().st_mode & 0o777) for p in made if p.is_dir()} == {"0o700"}
    await store.close()


async def test_new_data_rewrites_only_the_days_it_falls_in(data_dir: Path, tmp_path: Path) -> None:
    store = open_store(data_dir / "metrics.db", seal_rows=3000)
    truth: Truth = {}
    await write_samples(store, truth, DAY0, hours=2, seed=3)
    engine = make_engine(f"sqlite:///{data_dir / 'inventory.db'}")
    at = datetime(2026, 3, 1, 5, tzinfo=UTC)
    with Session(engine) as s:
        s.add(ErrorLog(at=at, category="poll", severity="error", message="timeout on gw"))
        s.add(JobRun(job_name="ping", scheduled_at=at, started_at=at, status="running"))
        s.add(
            IncidentRow(fingerprint="f1", rule="down", labels={"z": "1", "a": "é"}, started_at=at)
        )
        s.commit()
    out = tmp_path / "lake"
    run_export(Settings(data_dir=data_dir), out)
    before = hashes(out)
    mtimes = {p: (out / p).stat().st_mtime_ns for p in before}
    await write_samples(store, truth, DAY0 + 2 * 86400 * S, hours=1, seed=4)  # a new day
    with Session(engine) as s:
        s.add(ErrorLog(at=at + timedelta(days=2), category="poll", severity="error", message="x"))
        run = s.get(JobRun, 1)
        assert run is not None
        run.status, run.finished_at = "ok", at + timedelta(seconds=3)  # the open run ends
        incident = s.get(IncidentRow, 1)
        assert incident is not None
        incident.state, incident.resolved_at = "resolved", at + timedelta(hours=1)
        s.commit()
    engine.dispose()
    report = run_export(Settings(data_dir=data_dir), out).as_json()
    after = hashes(out)
    changed = {p for p in after if before.get(p) != after[p]}
    # the store rolled up the hours the new samples closed: those rollup days change too
    rolled = ("metrics_minute/", "metrics_hourly/", "metrics_daily/")
    assert {p for p in changed if not p.startswith(rolled)} == {
        "metrics_raw/date=2026-03-03/part-0.parquet",
        "error_logs/date=2026-03-03/part-0.parquet",
        "job_runs/date=2026-03-01/part-0.parquet",  # its run finished since
        "incidents/date=2026-03-01/part-0.parquet",  # resolved since
    }
    for p in before.keys() - changed:
        assert (out / p).stat().st_mtime_ns == mtimes[p]  # not even rewritten
    runs = duckdb.sql(
        f"SELECT status, epoch_us(finished_at) FROM '{out}/job_runs/*/*.parquet'"
    ).fetchall()
    assert runs == [("ok", int((at + timedelta(seconds=3)).timestamp() * 1e6))]
    incidents = duckdb.sql(f"SELECT state, labels FROM '{out}/incidents/*/*.parquet'").fetchall()
    assert incidents == [("resolved", '{"a":"é","z":"1"}')]  # canonical JSON text
    assert report["rows_written"] == sum(pl.read_parquet(out / p).height for p in changed)
    await store.close()


async def test_since_is_the_lakes_first_day_and_kept(data_dir: Path, tmp_path: Path) -> None:
    store = open_store(data_dir / "metrics.db")
    await write_samples(store, {}, DAY0, hours=1, seed=5)
    await write_samples(store, {}, DAY0 + 86400 * S, hours=1, seed=6)
    await store.close()
    out = tmp_path / "lake"
    run_export(Settings(data_dir=data_dir), out, since="2026-03-02")
    assert [p.name for p in (out / "metrics_raw").iterdir()] == ["date=2026-03-02"]
    with pytest.raises(Exception, match="starts at 2026-03-02"):
        run_export(Settings(data_dir=data_dir), out, since="2026-03-01")


@pytest.mark.privileged
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
async def test_a_full_disk_leaves_the_old_files_and_an_error(
    data_dir: Path, tmp_path: Path
) -> None:
    """A tmpfs too small for the second day's file: its export fails with ENOSPC, the first
    day's file and the manifest stay whole, no temporary file is left, and once there is
    room the next run completes (same bytes as a fresh export)."""
    store = open_store(data_dir / "metrics.db")
    truth: Truth = {}
    await write_samples(store, truth, DAY0, hours=1, seed=7)
    await store.close()
    # outside pytest's shared temporary tree, which other pytest runs of this user clean up
    # (a directory they walk is busy for umount)
    out = Path(tempfile.mkdtemp(prefix="netgauge-lake-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(out)], check=True)
    try:
        run_export(Settings(data_dir=data_dir), out)
        good = hashes(out)
        manifest = (out / MANIFEST).read_bytes()
        store = open_store(data_dir / "metrics.db")
        rng = random.Random(8)  # incompressible values: a file bigger than what is left
        await store.write(
            [
                Sample(
                    DEVICE_METRICS, f"d{k % 50}", "noise", rng.random(), DAY0 + 86400 * S + k * S
                )
                for k in range(60_000)
            ]
        )
        await store.close()
        report = run_export(Settings(data_dir=data_dir), out)
        assert report.error is not None and "No space left on device" in report.error
        assert report.tables[0].name == "metrics_raw" and report.tables[0].error
        now = hashes(out)
        assert {p: now[p] for p in good} == good  # what was there is untouched
        assert "metrics_raw/date=2026-03-02/part-0.parquet" not in now  # not half of it
        assert not [p for p in out.rglob(".*") if p.name.endswith(".tmp")]
        listed = json.loads((out / MANIFEST).read_text())["tables"]
        for name, entry in listed.items():  # every file the manifest lists is whole
            for day in entry["days"].values():
                assert now[day["file"]] == day["sha256"], name
                assert pq.read_table(out / day["file"]).num_rows == day["rows"]
        assert listed["metrics_raw"] == json.loads(manifest)["tables"]["metrics_raw"]
    finally:
        done = subprocess.run(["umount", str(out)], capture_output=True, text=True)
        if done.returncode:  # never leave it mounted; still fail and say why
            subprocess.run(["umount", "-l", str(out)], check=True)
            raise AssertionError(f"umount: {done.stderr}")
    try:
        report = run_export(Settings(data_dir=data_dir), out)  # now on the roomy disk below
        assert report.error is None
        fresh = tmp_path / "fresh"
        run_export(Settings(data_dir=data_dir), fresh)
        assert hashes(out) == hashes(fresh)
    finally:
        shutil.rmtree(out)


def test_every_table_has_an_explicit_schema_and_utc_times(data_dir: Path) -> None:
    with open_sources(Settings(data_dir=data_dir)) as sources:
        names = [s.name for s in sources]
        for source in sources:
            for f in source.schema:
                if str(f.type).startswith("timestamp"):
                    assert str(f.type) == "timestamp[us, tz=UTC]", (source.name, f.name)
    assert names == [
        "metrics_raw", "metrics_minute", "metrics_hourly", "metrics_daily", "job_runs",
        "job_run_targets", "device_states", "events", "error_logs", "config_changes",
        "request_logs", "user_activity", "incidents", "incident_events",
    ]  # fmt: skip


def test_no_store_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no netgauge data"):
        export(tmp_path / "o", [])  # nothing to export is fine
        run_export(Settings(data_dir=tmp_path / "nothing"), tmp_path / "out")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``netgauge analytics export-lake ...`` in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "netgauge", "analytics", "export-lake", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_command_prints_its_summary_and_refuses_bad_input_in_one_line(
    data_dir: Path, tmp_path: Path
) -> None:
    store = open_store(data_dir / "metrics.db")
    truth: Truth = {}
    await write_samples(store, truth, DAY0, hours=1, seed=9)
    await store.close()
    out = tmp_path / "lake"
    done = cli("--out", str(out), "--data-dir", str(data_dir), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    raw = next(t for t in summary["tables"] if t["table"] == "metrics_raw")
    assert raw["rows_written"] == raw["rows_total"] == len(truth) and summary["error"] is None
    again = cli("--out", str(out), "--data-dir", str(data_dir))
    assert again.returncode == 0 and "0 files written" in again.stdout.splitlines()[-1]
    for args, words in (
        (["--since", "2026-02-30"], "since: '2026-02-30' is not a date (YYYY-MM-DD)"),
        (["--since", "2026-01-01"], "since: the lake in"),
    ):
        bad = cli("--out", str(out), "--data-dir", str(data_dir), *args)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
        assert bad.stderr.startswith("netgauge analytics export-lake: error: " + words)
    empty = cli("--out", str(tmp_path / "x"), "--data-dir", str(tmp_path / "none"))
    assert empty.returncode == 2 and "no netgauge data in" in empty.stderr
    (tmp_path / "file").write_text("")
    not_dir = cli("--out", str(tmp_path / "file"), "--data-dir", str(data_dir))
    assert not_dir.returncode == 2 and "is not a directory" in not_dir.stderr


SPARK_READ = """
import json, sys
from pyspark.sql import SparkSession, functions as F
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
         .getOrCreate())
found = {}
for table in sys.argv[2:]:
    df = spark.read.parquet(sys.argv[1] + "/" + table)
    found[table] = [df.count(), df.select("date").distinct().count(), dict(df.dtypes)["date"]]
raw = spark.read.parquet(sys.argv[1] + "/metrics_raw")
row = raw.select(F.round(F.sum("value"), 4), F.min(F.unix_micros("ts")), F.max("ts_ns")).first()
found["raw"] = list(row)
print(json.dumps(found))
"""


@pytest.mark.skipif(
    not os.environ.get("NETGAUGE_PYSPARK_PYTHON"),
    reason="Spark: set NETGAUGE_PYSPARK_PYTHON to a Python with pyspark (and Java) to run",
)
async def test_spark_reads_the_lake_as_it_is(data_dir: Path, tmp_path: Path) -> None:
    """Spark's own partition discovery (``spark.read.parquet(DIR/table)``) against DuckDB's
    reading of the same files: rows, days (as Spark ``date``), sums and time ends."""
    store = open_store(data_dir / "metrics.db")
    await write_samples(store, {}, DAY0 + 22 * 3600 * S, hours=3, seed=10)
    await store.maintain()
    await store.close()
    out = tmp_path / "lake"
    assert run_export(Settings(data_dir=data_dir), out).error is None
    tables = sorted(p.name for p in out.iterdir() if p.is_dir())
    expected: dict[str, list[object]] = {}
    for table in tables:
        glob = (out / table / "*" / "*.parquet").as_posix()
        n, days = duckdb.sql(
            f"SELECT count(*), count(DISTINCT date) FROM read_parquet('{glob}', "
            "hive_partitioning = true)"
        ).fetchone() or (0, 0)
        expected[table] = [n, days, "date"]
    glob = (out / "metrics_raw" / "*" / "*.parquet").as_posix()
    row = duckdb.sql(
        f"SELECT round(sum(value), 4), min(epoch_us(ts)), max(ts_ns) FROM '{glob}'"
    ).fetchone()
    expected["raw"] = list(row or ())
    script = tmp_path / "spark_read.py"
    script.write_text(SPARK_READ)
    done = subprocess.run(
        [os.environ["NETGAUGE_PYSPARK_PYTHON"], str(script), str(out), *tables],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected


async def test_the_schedule_runs_every_interval_and_keeps_going_after_a_failure(
    data_dir: Path, tmp_path: Path
) -> None:
    """The loop's sleep is injected: two rounds, the first failing (no store file yet), the
    second exporting; the status says each."""
    (data_dir / "metrics.db").unlink()
    out = tmp_path / "lake"
    slept: list[float] = []
    states: list[str] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        states.append(runner.health()["state"])
        if len(slept) == 1:
            store = open_store(data_dir / "metrics.db")
            await write_samples(store, {}, DAY0, hours=1, seed=11)
            await store.close()
        else:
            raise asyncio.CancelledError

    settings = Settings(data_dir=data_dir, lake_dir=out, lake_interval_s=900)
    runner = LakeRunner(settings, sleep)
    assert runner.health()["state"] == "never"
    with pytest.raises(asyncio.CancelledError):
        await runner.loop()
    assert slept == [900, 900] and states == ["failing", "ok"]
    assert "metrics_raw" in {t["table"] for t in runner.status().tables}
    assert runner.health()["rows_written"] == sum(t["rows"] for t in runner.status().tables)
