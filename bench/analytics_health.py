"""The health score's cost on a grown fleet, and how fast the API answers from its results.

    .venv/bin/python bench/analytics_health.py [--devices 1000] [--days 90] [--raw-days 30]
                                                [--repeat 30] [--cores 1]

The issue's goal: "analytics for 1,000 devices × 10 metrics × 90 days recomputed in ≤ 60 s
on one core; the API answers from stored results in < 100 ms".

1. **The fleet**: ``--devices`` devices in 10 sites, each with 10 metrics (cpu, memory, two
   disks, a temperature sensor, traffic in and out, uptime, ICMP median RTT and loss) and
   its status, one sample a minute for ``--days`` days, written straight into the embedded
   store's layout as the default retention leaves it (raw blocks for the last ``--raw-days``
   days, hourly rollups for 90 days, daily ones beyond: through the writer it would take
   hours; ``bench/storage.py`` builds its grown store the same way). Values come from
   pools of one-hour walks per metric (a status hour sometimes holds a few downs). The
   inventory holds the 10 sites and the devices (from a config file, synced at start), 7
   days of job runs — one fleet-wide ICMP job every 5 minutes (bigger than 50 targets: it
   keeps its failures only) and one SNMP job per 10 devices every 15 minutes (every outcome
   kept) — with about 0.5 % failed outcomes, state transitions and error-log entries.
2. **The recompute**: a real ``Service`` on that data directory behind the app; ``POST
   /api/v1/analytics/health/recompute`` scores every device and site, and stores each score
   as ``health_score``. Measured: the recompute's own time (``took_s``), the process's CPU
   time over it (all threads: the store reads run in worker threads), with the process
   pinned to ``--cores`` CPUs (1: "one core").
3. **The API**: ``GET /api/v1/analytics/health`` (the whole list), ``.../health/{target}``
   (one breakdown) and ``.../health/sites/{site}``, each the median and the worst of
   ``--repeat`` requests through the in-process client (an admin API token checked on
   each), answered from the board kept in memory.

The plain alternative a user would pick — a script reading every series' raw minutes for
7 days and averaging them — is measured on a sample of devices (``--plain-devices``), as
the embedded store's raw read of the same series, and extrapolated linearly to the fleet.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* as a script
os.environ.setdefault("NETGAUGE_ARGON2_PROFILE", "insecure-tests-only")  # the first admin

from fastapi.testclient import TestClient  # noqa: E402
from tests.conftest import as_admin  # noqa: E402

from netgauge.api import create_app  # noqa: E402
from netgauge.config.loader import load_config_text  # noqa: E402
from netgauge.config.settings import Settings  # noqa: E402
from netgauge.inventory import make_engine, migrate  # noqa: E402
from netgauge.inventory.tables import (  # noqa: E402
    DeviceStateChange,
    ErrorLog,
    JobRun,
    JobRunTarget,
)
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS  # noqa: E402
from netgauge.series import series_name  # noqa: E402
from netgauge.service import Service  # noqa: E402
from netgauge.storage.embedded import EmbeddedStore  # noqa: E402
from netgauge.storage.embedded.blocks import encode  # noqa: E402
from netgauge.storage.embedded.layout import DAY_LEVEL, HOUR_LEVEL, RAW, table  # noqa: E402
from netgauge.storage.embedded.summary import Summary  # noqa: E402

S = 1_000_000_000
MIN, HOUR, DAY = 60 * S, 3600 * S, 86_400 * S
SITES = 10
POOL = 16
# (measurement, series, low, high, step of the walk)
METRICS: list[tuple[str, str, float, float, float]] = [
    (DEVICE_METRICS, "cpu_percent", 2, 98, 3),
    (DEVICE_METRICS, "memory_percent", 20, 95, 1),
    (DEVICE_METRICS, series_name("disk_percent", {"mount": "/"}), 30, 90, 0.05),
    (DEVICE_METRICS, series_name("disk_percent", {"mount": "/var"}), 10, 97, 0.05),
    (DEVICE_METRICS, series_name("temperature_celsius", {"sensor": "cpu"}), 35, 80, 0.5),
    (DEVICE_METRICS, series_name("net_in_bytes_per_sec", {"interface": "eth0"}), 0, 1e8, 1e6),
    (DEVICE_METRICS, series_name("net_out_bytes_per_sec", {"interface": "eth0"}), 0, 1e8, 1e6),
    (DEVICE_METRICS, "uptime_seconds", 0, 1e9, 60),
    (DEVICE_METRICS, "icmp.rtt_median_ms", 0.2, 80, 0.5),
    (DEVICE_METRICS, "icmp.loss_pct", 0, 100, 0),
]


def pools(rng: random.Random) -> list[list[tuple[list[float], Summary]]]:
    """Per series kind (status first, then METRICS), POOL one-hour walks of 60 minutes."""
    found = []
    status = []
    for k in range(POOL):
        hour = [1.0] * 60
        if k == 0:  # one hour in POOL holds three downs
            hour[10:13] = [0.0, 0.0, 0.0]
        status.append((hour, Summary.of(hour)))
    found.append(status)
    for _, _, low, high, step in METRICS:
        kind = []
        for _ in range(POOL):
            level, walk = rng.uniform(low, high), []
            for _ in range(60):
                level = min(high, max(low, level + rng.uniform(-step, step)))
                walk.append(round(level, 2))
            kind.append((walk, Summary.of(walk)))
        found.append(kind)
    return found


def device_names(devices: int) -> list[str]:
    return [f"dev{d:05d}" for d in range(devices)]


def build_store(path: Path, devices: int, days: int, raw_days: int, end: int) -> int:
    """The grown store (see the module's docstring); the number of samples it holds."""
    store = EmbeddedStore(path)
    maint, conn = store._maint, store._w  # noqa: SLF001 - a bench fills the layout directly
    rng = random.Random(16)
    kinds = pools(rng)
    series = [(DEVICE_STATUS, "status")] + [(m, name) for m, name, *_ in METRICS]
    rows = [
        (sid, measurement, device, name, kind)
        for sid, (device, (kind, (measurement, name))) in enumerate(
            ((d, ks) for d in device_names(devices) for ks in enumerate(series)), start=1
        )
    ]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO series (id, measurement, device_id, metric_name) VALUES (?, ?, ?, ?)",
        [(sid, m, d, n) for sid, m, d, n, _ in rows],
    )
    conn.execute("COMMIT")
    start, raw_from = end - days * DAY, end - raw_days * DAY
    samples = 0
    day_rows: list[tuple[int, Summary]] = []
    for day in range(start, end, DAY):
        conn.execute("BEGIN")
        day_rows = []
        for hour in range(day, day + DAY, HOUR):
            ts = list(range(hour, hour + HOUR, MIN))
            slot = [(sid, kind, (sid * 7 + hour // HOUR) % POOL) for sid, *_, kind in rows]
            picks = [(sid, kinds[kind][k]) for sid, kind, k in slot]
            if hour >= raw_from:  # each pool walk encoded once an hour, not once a series
                blobs = {(kind, k): encode(ts, kinds[kind][k][0]) for _, kind, k in slot}
                maint._ensure(RAW, day)  # noqa: SLF001
                conn.executemany(
                    f"INSERT INTO {table(RAW, day)} (series_id, t0, t1, n, data) "
                    "VALUES (?, ?, ?, 60, ?)",
                    [(sid, hour, ts[-1], blobs[(kind, k)]) for sid, kind, k in slot],
                )
            part = hour - hour % HOUR_LEVEL.partition_ns
            maint._ensure(HOUR_LEVEL, part)  # noqa: SLF001
            conn.executemany(
                f"INSERT INTO {table(HOUR_LEVEL, part)} VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(sid, hour, p.n, p.sum, p.min, p.max, p.p95) for sid, (_, p) in picks],
            )
            day_rows.extend((sid, p) for sid, (_, p) in picks)
            samples += 60 * len(rows)
        totals: dict[int, list[Summary]] = {}
        for sid, p in day_rows:
            totals.setdefault(sid, []).append(p)
        part = day - day % DAY_LEVEL.partition_ns
        maint._ensure(DAY_LEVEL, part)  # noqa: SLF001
        conn.executemany(
            f"INSERT INTO {table(DAY_LEVEL, part)} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    sid,
                    day,
                    sum(p.n for p in ps),
                    sum(p.sum for p in ps),
                    min(p.min for p in ps),
                    max(p.max for p in ps),
                    max(p.p95 for p in ps),
                )
                for sid, ps in totals.items()
            ],
        )
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO latest VALUES (?, ?, ?)",
        [(sid, end - MIN, p.max) for sid, p in day_rows[-len(rows) :]],
    )
    for key, value in (("hour_done", end), ("day_done", end - end % DAY), ("max_ts", end)):
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    store._r.close()  # noqa: SLF001
    return samples


def config_text(devices: int) -> str:
    sites = "\n".join(f"  - {{name: site{s}}}" for s in range(SITES))
    targets = "\n".join(
        f"  - {{name: {name}, address: 10.{i // 65536}.{i // 256 % 256}.{i % 256}, "
        f"type: device, site: site{i % SITES}}}"
        for i, name in enumerate(device_names(devices))
    )
    return f"sites:\n{sites}\ntargets:\n{targets}\n"


def fill_history(service: Service, devices: int, end: datetime) -> dict[str, int]:
    """7 days of job runs, transitions and error-log entries (see the module's docstring)."""
    rng = random.Random(7)
    names = device_names(devices)
    counts = {"runs": 0, "outcomes": 0, "transitions": 0, "errors": 0}
    with service.inventory.session() as s:
        runs: list[JobRun] = []
        outcomes: list[tuple[int, str, str]] = []  # (run index, target, status)
        for minute in range(0, 7 * 24 * 60, 5):  # the fleet-wide ICMP job: failures only
            at = end - timedelta(minutes=minute)
            failed = [n for n in names if rng.random() < 0.005]
            runs.append(
                JobRun(
                    job_name="icmp-all",
                    trigger="schedule",
                    scheduled_at=at,
                    started_at=at,
                    finished_at=at,
                    status="partial",
                    targets_ok=devices - len(failed),
                    targets_failed=len(failed),
                )
            )
            outcomes += [(len(runs) - 1, n, "failed") for n in failed]
        for group in range(0, devices, 10):  # one SNMP job per 10 devices: every outcome
            for minute in range(0, 7 * 24 * 60, 15):
                at = end - timedelta(minutes=minute)
                members = names[group : group + 10]
                status = ["ok" if rng.random() >= 0.005 else "failed" for _ in members]
                runs.append(
                    JobRun(
                        job_name=f"snmp-{group}",
                        trigger="schedule",
                        scheduled_at=at,
                        started_at=at,
                        finished_at=at,
                        status="ok",
                        targets_ok=status.count("ok"),
                        targets_failed=status.count("failed"),
                    )
                )
                outcomes += [(len(runs) - 1, n, st) for n, st in zip(members, status, strict=True)]
        s.add_all(runs)
        s.flush()
        s.bulk_insert_mappings(
            JobRunTarget,
            [{"run_id": runs[i].id, "target": n, "status": st} for i, n, st in outcomes],
        )
        counts["runs"], counts["outcomes"] = len(runs), len(outcomes)
        changes = []
        for n in names:
            for _ in range(rng.choice((0, 0, 0, 1, 2, 4))):
                at = end - timedelta(hours=rng.uniform(0, 48))
                changes.append(
                    {
                        "device": n,
                        "previous_state": "online",
                        "new_state": "offline",
                        "reason": "bench",
                        "at": at,
                    }
                )
        s.bulk_insert_mappings(DeviceStateChange, changes)
        errors = [
            {
                "at": end - timedelta(hours=rng.uniform(0, 48)),
                "category": "collector",
                "severity": "error",
                "message": "timeout",
                "device": rng.choice(names),
            }
            for _ in range(devices * 2)
        ]
        s.bulk_insert_mappings(ErrorLog, errors)
        counts["transitions"], counts["errors"] = len(changes), len(errors)
    return counts


def timed_get(client: TestClient, url: str, repeat: int) -> tuple[float, float]:
    """(median, worst) milliseconds of ``repeat`` GETs (after one warm-up)."""
    assert client.get(url).status_code == 200
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(times), max(times)


def plain_read(path: Path, devices: int, end: int) -> float:
    """Seconds to read 7 days of raw minutes of every series of ``devices`` devices and
    average them by hour (what a script without rollups does); raw is kept 30 days."""
    import asyncio

    async def run() -> float:
        store = EmbeddedStore(path)
        started = time.process_time()
        for name in device_names(devices):
            for _, series, *_ in [(None, "status"), *[(m, n) for m, n, *_ in METRICS]]:
                raw = await store.points(name, series, end - 7 * DAY, end)
                hours: dict[int, list[float]] = {}
                for p in raw:
                    hours.setdefault(p.ts_ns // HOUR, []).append(p.value)
                _ = {h: statistics.fmean(v) for h, v in hours.items()}
        took = time.process_time() - started
        await store.close()
        return took

    return asyncio.run(run())


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--raw-days", type=int, default=30)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--cores", type=int, default=1, help="CPUs the process may use")
    p.add_argument("--plain-devices", type=int, default=20)
    p.add_argument("--keep", type=Path, help="build in this directory and keep it")
    args = p.parse_args(argv)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    work = args.keep or Path(tempfile.mkdtemp(prefix="ng-health-bench-"))
    try:
        run(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def run(args: argparse.Namespace, work: Path) -> None:
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    end_dt = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end = int(end_dt.timestamp()) * S
    cpus = len(os.sched_getaffinity(0))
    print(
        f"== health score bench: {args.devices:,} devices × {len(METRICS)} metrics + status"
        f" × {args.days} days at 1 min, on {cpus} CPU(s)"
    )
    started = time.perf_counter()
    samples = build_store(data / "metrics.db", args.devices, args.days, args.raw_days, end)
    size = sum(f.stat().st_size for f in data.glob("metrics.db*"))
    print(
        f"store built in {time.perf_counter() - started:.0f} s: {samples:,} samples, "
        f"{size / 2**30:.2f} GiB (raw {args.raw_days} d, hourly 90 d, daily beyond)"
    )
    engine = make_engine(f"sqlite:///{data / 'inventory.db'}")
    migrate(engine)
    engine.dispose()
    settings = Settings(data_dir=data, port=0)
    loaded = load_config_text(config_text(args.devices), "bench.yaml").config
    service = Service(settings, loaded, "bench.yaml")
    with TestClient(create_app(service)) as client:
        as_admin(client)
        counts = fill_history(service, args.devices, end_dt)
        print(
            f"inventory: {args.devices:,} devices in {SITES} sites; 7 days of history: "
            f"{counts['runs']:,} job runs, {counts['outcomes']:,} per-target outcomes kept, "
            f"{counts['transitions']:,} transitions, {counts['errors']:,} error-log entries"
        )
        recompute(client, args)
        api(client, args)
    plain_s = plain_read(data / "metrics.db", args.plain_devices, end)
    per_device = plain_s / args.plain_devices
    print(
        f"plain alternative (7 d of raw minutes of all 11 series, averaged by hour in "
        f"Python): {plain_s:.2f} s CPU for {args.plain_devices} devices = "
        f"{per_device * 1000:.0f} ms/device → {per_device * args.devices:.0f} s for "
        f"{args.devices:,} (extrapolated linearly)"
    )


def recompute(client: TestClient, args: argparse.Namespace) -> None:
    times: list[tuple[float, float, float]] = []
    body: dict[str, Any] = {}
    for _ in range(2):
        cpu, wall = time.process_time(), time.perf_counter()
        response = client.post("/api/v1/analytics/health/recompute")
        assert response.status_code == 200, response.text
        body = response.json()
        times.append((body["took_s"], time.process_time() - cpu, time.perf_counter() - wall))
    scores = [t["score"] for t in body["targets"] if t["score"] is not None]
    for n, (took, cpu, wall) in enumerate(times, start=1):
        print(
            f"recompute {n}: {took:.2f} s (the service's own timing), {cpu:.2f} s CPU, "
            f"{wall:.2f} s with the HTTP round trip; goal ≤ 60 s"
        )
    print(
        f"scored {len(scores):,} of {len(body['targets']):,} devices, {len(body['sites'])} "
        f"sites; scores min {min(scores):.1f}, median {statistics.median(scores):.1f}, "
        f"max {max(scores):.1f}"
    )


def api(client: TestClient, args: argparse.Namespace) -> None:
    base = "/api/v1/analytics/health"
    for label, url in (
        ("list (every device and site)", base),
        ("one device's breakdown", f"{base}/dev00042"),
        ("one site", f"{base}/sites/site3"),
    ):
        median, worst = timed_get(client, url, args.repeat)
        print(
            f"GET {label}: median {median:.1f} ms, worst {worst:.1f} ms of {args.repeat}; "
            "goal < 100 ms"
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
