"""The embedded time-series store: one SQLite file, separate from the inventory.

Layout: a series dictionary (measurement, device_id, metric_name → id) and a narrow
``samples`` table keyed (series_id, ts) WITHOUT ROWID, so a range scan of one series reads
contiguous pages. ``latest`` keeps the newest value per series for status and /metrics.
Writes arrive in batches from the writer and go in one transaction each.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netgauge.errors import PermanentStorageError, RetryableStorageError
from netgauge.models import Sample
from netgauge.storage.base import Aggregation, LatestValue, Point, SinkHealth

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    device_id TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    UNIQUE (measurement, device_id, metric_name)
);
CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    series_id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    value REAL NOT NULL
);
"""

_AGG_SQL = {"avg": "avg(value)", "min": "min(value)", "max": "max(value)", "count": "count(*)"}


class EmbeddedStore:
    """SQLite time series: a Sink and a Query in one file."""

    name = "embedded"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._wlock, self._rlock = threading.Lock(), threading.Lock()
        self._w = self._connect()
        self._w.executescript(SCHEMA)
        self._r = self._connect()
        self._series: dict[tuple[str, str, str], int] = {}
        self.samples_written = 0
        self.last_write_ns: int | None = None
        self._last_error: str | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint, fast
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    # -- writing -----------------------------------------------------------------------------
    async def write(self, batch: Sequence[Sample]) -> None:
        """Store ``batch`` in one transaction (duplicates of (series, ts) keep the newest value)."""
        if batch:
            await asyncio.to_thread(self._write_sync, batch)

    def _write_sync(self, batch: Sequence[Sample]) -> None:
        with self._wlock:
            try:
                self._w.execute("BEGIN IMMEDIATE")
                rows = [(self._series_id(s), s.ts_ns, s.value) for s in batch]
                self._w.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", rows)
                self._w.executemany(
                    "INSERT INTO latest VALUES (?, ?, ?) ON CONFLICT(series_id) DO UPDATE "
                    "SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= latest.ts",
                    rows,
                )
                self._w.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                self._last_error = str(exc)
                raise _translate(exc) from exc
        self.samples_written += len(batch)
        self.last_write_ns = max(s.ts_ns for s in batch)
        self._last_error = None

    def _rollback(self) -> None:
        if self._w.in_transaction:
            self._w.execute("ROLLBACK")
        self._series.clear()  # ids created in the rolled-back transaction are gone

    def _series_id(self, s: Sample) -> int:
        key = (s.measurement, s.device_id, s.metric_name)
        sid = self._series.get(key)
        if sid is None:
            self._w.execute(
                "INSERT OR IGNORE INTO series (measurement, device_id, metric_name) "
                "VALUES (?, ?, ?)",
                key,
            )
            row = self._w.execute(
                "SELECT id FROM series WHERE measurement = ? AND device_id = ? AND metric_name = ?",
                key,
            ).fetchone()
            sid = self._series[key] = int(row[0])
        return sid

    async def health(self) -> SinkHealth:
        """The file is local: reachable unless the last write failed."""
        return SinkHealth(
            self.name,
            self._last_error is None,
            self.samples_written,
            self.last_write_ns,
            self._last_error,
        )

    async def close(self) -> None:
        """Close both connections."""
        with self._wlock, self._rlock:
            self._w.close()
            self._r.close()

    # -- reading -----------------------------------------------------------------------------
    def _read(self, sql: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._rlock:
            return self._r.execute(sql, args).fetchall()

    async def points(
        self,
        device_id: str,
        metric_name: str,
        start_ns: int,
        end_ns: int,
        step_s: float | None = None,
        agg: Aggregation = "avg",
    ) -> list[Point]:
        """Raw samples, or per-step buckets (ts = bucket start) with min/max/count."""
        sid_sql = "SELECT id FROM series WHERE device_id = ? AND metric_name = ?"
        if step_s is None:
            sql = (
                f"SELECT ts, value, value, value, 1 FROM samples WHERE series_id IN ({sid_sql}) "
                "AND ts >= ? AND ts < ? ORDER BY ts"
            )
            args: list[object] = [device_id, metric_name, start_ns, end_ns]
        else:
            step_ns = max(1, int(step_s * 1e9))
            sql = (
                f"SELECT (ts - ?) / ? * ? + ? AS bucket, {_AGG_SQL[agg]}, min(value), "
                f"max(value), count(*) FROM samples WHERE series_id IN ({sid_sql}) "
                "AND ts >= ? AND ts < ? GROUP BY bucket ORDER BY bucket"
            )
            args = [start_ns, step_ns, step_ns, start_ns, device_id, metric_name, start_ns, end_ns]
        rows = await asyncio.to_thread(self._read, sql, args)
        return [Point(int(r[0]), float(r[1]), float(r[2]), float(r[3]), int(r[4])) for r in rows]

    async def latest(self, measurement: str, device_id: str | None = None) -> list[LatestValue]:
        """Newest value per series of ``measurement``."""
        sql = (
            "SELECT s.device_id, s.metric_name, l.ts, l.value FROM latest l "
            "JOIN series s ON s.id = l.series_id WHERE s.measurement = ?"
        )
        args: list[object] = [measurement]
        if device_id is not None:
            sql += " AND s.device_id = ?"
            args.append(device_id)
        rows = await asyncio.to_thread(
            self._read, sql + " ORDER BY s.device_id, s.metric_name", args
        )
        return [LatestValue(str(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]

    async def series(self, device_id: str | None = None) -> list[tuple[str, str, str]]:
        """Every known series, optionally of one device."""
        sql, args = "SELECT measurement, device_id, metric_name FROM series", []
        if device_id is not None:
            sql, args = sql + " WHERE device_id = ?", [device_id]
        rows = await asyncio.to_thread(self._read, sql + " ORDER BY 2, 3", args)
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def rounds(
        self, device_id: str, kind: str, start_ns: int, end_ns: int, limit: int
    ) -> list[tuple[int, dict[str, float]]]:
        """Per timestamp, the ``<kind>.*`` metrics of one device: the newest ``limit`` rounds."""
        sql = (
            "SELECT p.ts, s.metric_name, p.value FROM samples p "
            "JOIN series s ON s.id = p.series_id WHERE s.device_id = ? "
            "AND s.measurement = 'device_metrics' AND s.metric_name >= ? "
            "AND s.metric_name < ? AND p.ts >= ? AND p.ts < ? ORDER BY p.ts"
        )
        # `kind.` up to `kind/` (the next character after '.') is exactly the prefix range
        args = [device_id, f"{kind}.", f"{kind}/", start_ns, end_ns]
        rows = await asyncio.to_thread(self._read, sql, args)
        grouped: dict[int, dict[str, float]] = {}
        for ts, name, value in rows:
            grouped.setdefault(int(ts), {})[str(name)[len(kind) + 1 :]] = float(value)
        return list(grouped.items())[-limit:]

    async def count(self) -> int:
        """Number of stored samples (for tests and health)."""
        rows = await asyncio.to_thread(self._read, "SELECT count(*) FROM samples", [])
        return int(rows[0][0])


def _translate(exc: sqlite3.Error) -> Exception:
    """Locked/busy/full disk may pass; constraint and type errors will not."""
    if isinstance(exc, sqlite3.OperationalError):
        return RetryableStorageError(f"embedded store: {exc}")
    return PermanentStorageError(f"embedded store: {exc}")
