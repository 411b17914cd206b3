"""The data lake's service side: the sources of every table, one export run, the schedule.

Both ``netgauge analytics export-lake`` and ``netgauge serve`` (every ``lake_interval_s``,
or when an admin asks through the API) call :func:`run_export`, which opens the stores of
the settings the way a second process can: the embedded store file read-only, in one
snapshot, and the inventory through its own engine. The output directory always comes
from the settings or the command line, never from a request.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import structlog

from netgauge.analytics.lake import (
    UTC_US,
    LakeReport,
    Plan,
    Source,
    day_of,
    export,
    read_manifest,
)
from netgauge.config.settings import Settings
from netgauge.errors import AnalyticsInputError
from netgauge.inventory.db import make_engine
from netgauge.inventory.lake import inventory_sources
from netgauge.storage.embedded.dump import RawDay, RollupDay, StoreSnapshot, snapshot
from netgauge.storage.embedded.layout import ROLLUPS, Level

log = structlog.get_logger(__name__)
STATUS = "_netgauge_lake_status.json"
_KEY = [("measurement", pa.string()), ("device", pa.string()), ("metric", pa.string())]
# ts: microseconds (what Spark reads); ts_ns: the stored nanoseconds, exact
RAW_SCHEMA = pa.schema([*_KEY, ("ts", UTC_US), ("ts_ns", pa.int64()), ("value", pa.float64())])
ROLLUP_SCHEMA = pa.schema(
    [
        *_KEY,
        ("ts", UTC_US),  # the bucket's start
        ("count", pa.int64()),
        ("sum", pa.float64()),
        ("min", pa.float64()),
        ("max", pa.float64()),
        ("p95", pa.float64()),  # nearest rank, as the store keeps it
    ]
)
ROLLUP_TABLES = {"minute": "metrics_minute", "hour": "metrics_hourly", "day": "metrics_daily"}


def _fingerprint_plan(current: dict[int, str], state: dict[str, Any]) -> Plan:
    """Days whose fingerprint differs from the one at the last export."""
    now = {day_of(start): mark for start, mark in current.items()}
    known = state.get("days", {})
    return Plan(sorted(d for d, mark in now.items() if known.get(d) != mark), {"days": now})


def _keys(day: RawDay | RollupDay) -> list[pa.Array]:
    """The series key columns, dictionary-free, one value per row."""
    return [
        pa.array([k[i] for k in day.keys], pa.string()).take(pa.array(day.series)) for i in range(3)
    ]


class RawSource:
    """Raw samples of the embedded store, per UTC day."""

    name, schema = "metrics_raw", RAW_SCHEMA

    def __init__(self, snap: StoreSnapshot) -> None:
        self._snap = snap

    def plan(self, state: dict[str, Any]) -> Plan:
        """Days whose blocks or head samples changed."""
        return _fingerprint_plan(self._snap.raw_fingerprints(), state)

    def rows(self, day: str) -> pa.Table:
        """The day's samples sorted by series key and time."""
        found = self._snap.raw_day(_start_ns(day))
        micros = pa.array(found.ts // 1000, pa.int64()).cast(UTC_US)
        arrays = [*_keys(found), micros, pa.array(found.ts), pa.array(found.values)]
        return pa.Table.from_arrays(arrays, schema=self.schema)


class RollupSource:
    """One rollup level of the embedded store, per UTC day of the bucket start."""

    schema = ROLLUP_SCHEMA

    def __init__(self, snap: StoreSnapshot, level: Level) -> None:
        self._snap, self._level = snap, level
        self.name = ROLLUP_TABLES[level.name]

    def plan(self, state: dict[str, Any]) -> Plan:
        """Days whose rollup rows changed."""
        return _fingerprint_plan(self._snap.rollup_fingerprints(self._level), state)

    def rows(self, day: str) -> pa.Table:
        """The day's rollup rows sorted by series key and bucket."""
        found = self._snap.rollup_day(self._level, _start_ns(day))
        micros = pa.array(found.ts // 1000, pa.int64()).cast(UTC_US)
        floats = [pa.array(a) for a in (found.sums, found.mins, found.maxs, found.p95s)]
        arrays = [*_keys(found), micros, pa.array(found.count), *floats]
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _start_ns(day: str) -> int:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return int(start.timestamp()) * 1_000_000_000


@contextmanager
def open_sources(settings: Settings) -> Iterator[list[Source]]:
    """Every lake table of the stores of ``settings``: metrics raw and rolled up from the
    embedded file (read-only), then the inventory's history tables."""
    missing = [
        path
        for path in (settings.data_dir / "inventory.db", settings.metrics_path())
        if not path.is_file() and (path == settings.metrics_path() or not settings.database_url)
    ]
    if missing:
        raise AnalyticsInputError(
            f"data dir: no netgauge data in {settings.data_dir} ({missing[0].name})"
        )
    engine = make_engine(settings.inventory_url())
    try:
        with snapshot(settings.metrics_path()) as snap:
            metrics: list[Source] = [RawSource(snap)]
            metrics += [RollupSource(snap, level) for level in ROLLUPS]
            yield [*metrics, *inventory_sources(engine)]
    finally:
        engine.dispose()


def run_export(settings: Settings, out: Path, since: str | None = None) -> LakeReport:
    """One export of every table into ``out`` (blocking), its status saved beside it."""
    began = time.time()
    with open_sources(settings) as sources:
        report = export(out, sources, since)
    _save_status(out, report, began)
    return report


def _save_status(out: Path, report: LakeReport, began: float) -> None:
    """The last run's summary, for /health and the console (not part of the lake: it says
    when, which the data files never do)."""
    summary = report.as_json()
    status = {
        "started_at": datetime.fromtimestamp(began, UTC).isoformat(),
        "seconds": round(time.time() - began, 3),
        "files_written": summary["files_written"],
        "files_unchanged": summary["files_unchanged"],
        "rows_written": summary["rows_written"],
        "error": summary["error"],
    }
    try:
        temp = out / f".{STATUS}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(status, sort_keys=True) + "\n")
        os.replace(temp, out / STATUS)
    except OSError as exc:  # a full disk: the report still says what happened
        log.warning("lake.status_not_saved", error=str(exc))


@dataclass
class LakeStatus:
    """What the schedule and the API show: where, how often, the last run."""

    out: str | None
    interval_s: float | None
    running: bool
    last_run: dict[str, Any] | None
    tables: list[dict[str, Any]]


class LakeRunner:
    """Runs exports in a thread, one at a time, on a schedule and on request."""

    def __init__(
        self,
        settings: Settings,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.out = settings.lake_dir
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.last_error: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether an output directory is configured."""
        return self.out is not None

    async def run(self) -> LakeReport:
        """One export now (waits for a running one to end first)."""
        if self.out is None:
            raise AnalyticsInputError("lake_dir: not set, so there is nowhere to export to")
        out = self.out
        async with self._lock:
            try:
                report = await asyncio.to_thread(run_export, self.settings, out)
            except Exception as exc:
                self.last_error = str(exc)
                log.error("lake.export_failed", error=str(exc))
                raise
            self.last_error = report.error
            if report.error:
                log.error("lake.export_incomplete", error=report.error)
            else:
                summary = report.as_json()
                log.info(
                    "lake.exported",
                    files_written=summary["files_written"],
                    rows_written=summary["rows_written"],
                )
            return report

    async def loop(self) -> None:
        """Export every ``lake_interval_s`` while the service runs (errors are status)."""
        interval = self.settings.lake_interval_s
        while True:
            try:
                await self.run()
            except Exception:  # recorded in the status; the schedule goes on
                pass
            await self._sleep(interval)

    def health(self) -> dict[str, Any]:
        """The export's state for /health: off (no lake_dir), never (not run yet), ok or
        failing, with the last run's figures (details only: they name the directory)."""
        last = self._last_run() or {}
        if self.out is None:
            state = "off"
        elif last.get("error"):
            state = "failing"
        else:
            state = "ok" if last else "never"
        return {
            "state": state,
            "out": None if self.out is None else str(self.out),
            "running": self._lock.locked(),
            "last_run_at": last.get("started_at"),
            "seconds": last.get("seconds"),
            "files_written": last.get("files_written"),
            "files_unchanged": last.get("files_unchanged"),
            "rows_written": last.get("rows_written"),
            "error": last.get("error"),
        }

    def status(self) -> LakeStatus:
        """The configured place, the last run (from its status file) and the tables."""
        if self.out is None:
            return LakeStatus(None, None, False, None, [])
        last = self._last_run()
        manifest = read_manifest_quietly(self.out)
        tables = [
            {
                "table": name,
                "files": len(entry["days"]),
                "rows": sum(int(d["rows"]) for d in entry["days"].values()),
                "first_day": min(entry["days"], default=None),
                "last_day": max(entry["days"], default=None),
            }
            for name, entry in sorted((manifest or {}).get("tables", {}).items())
        ]
        return LakeStatus(
            str(self.out), self.settings.lake_interval_s, self._lock.locked(), last, tables
        )

    def _last_run(self) -> dict[str, Any] | None:
        """The status file of the last run (the CLI's too), with an error of this process
        that kept a run from writing one (no inventory, a read-only directory)."""
        last = None if self.out is None else _read_status(self.out)
        if self.last_error and (last is None or not last.get("error")):
            last = {**(last or {}), "error": self.last_error}
        return last


def _read_status(out: Path) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = json.loads((out / STATUS).read_text())
    except (OSError, ValueError):
        return None
    return found


def read_manifest_quietly(out: Path) -> dict[str, Any] | None:
    """The manifest, or None when missing or unreadable (status pages must not fail)."""
    try:
        return read_manifest(out)
    except (OSError, AnalyticsInputError):
        return None


__all__ = ["LakeRunner", "LakeStatus", "open_sources", "run_export"]
