"""The embedded time-series store: one SQLite file, separate from the inventory.

Writes append to ``head`` (one row per batch); once an hour has closed, a seal turns its
samples into final per-series blocks and rollups at once (or, when the head reaches
``seal_rows``, moves all of it into blocks rolled up later); closed days are rolled up and
expired partitions dropped (see ``layout`` and ``maintenance``).
Queries read blocks plus the head for raw points, and the coarsest rollup that fits the step
for aggregated ones, filling the not-yet-rolled tail from raw samples.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import structlog

from netgauge.datadir import private_dir, private_file
from netgauge.errors import PermanentStorageError, RetryableStorageError
from netgauge.models import Sample
from netgauge.storage.base import Aggregation, LatestValue, Point, Refusal, SinkHealth
from netgauge.storage.embedded.head import Head, pack, unpack
from netgauge.storage.embedded.layout import (
    HOUR,
    MINUTE_LEVEL,
    RAW,
    ROLLUPS,
    SCHEMA,
    Catalog,
    Level,
    Retention,
    floor,
)
from netgauge.storage.embedded.maintenance import Maintainer
from netgauge.storage.embedded.reader import Reader, covered_by, drop_stale
from netgauge.storage.embedded.summary import Bucket, Summary, bucketed

log = structlog.get_logger(__name__)
SeriesKey = tuple[str, str, str]
_INSERT_HEAD = "INSERT INTO head (sids, ts, vals) VALUES (?, ?, ?)"
_WATERMARKS = "SELECT key, value FROM meta WHERE key IN ('hour_done', 'day_done')"


class EmbeddedStore:
    """SQLite time series: a Sink and a Query in one file."""

    name = "embedded"

    def __init__(
        self,
        path: Path,
        *,
        retention: Retention | None = None,
        seal_rows: int = 1_000_000,
        grace_s: float = 120.0,
        now_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        private_file(private_dir(path.parent) / path.name)
        self.path = path
        self.seal_rows = seal_rows
        self._now_ns, self._monotonic = now_ns, monotonic
        self._wlock, self._rlock = threading.Lock(), threading.Lock()
        self._commit_lock = threading.Lock()
        self._w = self._connect()
        self._w.executescript(SCHEMA)
        self._r = self._connect()
        self.catalog = Catalog()
        self.catalog.load(self._table_names())
        self._maint = Maintainer(
            self._w,
            self.catalog,
            retention or Retention(),
            now_ns,
            int(grace_s * 1e9),
            self._commit_lock,
        )
        self._series: dict[SeriesKey, int] = {}
        self._keys: dict[int, SeriesKey] = {}
        # (device, metric) → its series ids (one per measurement): a query's lookup, not a
        # scan of every series (10,000 of them made each query cost ~2 ms)
        self._by_name: dict[tuple[str, str], list[int]] = {}
        self._load_series()
        self._latest: dict[int, tuple[int, float]] = {}  # of sealed samples; the head adds
        for sid, ts, value in self._w.execute("SELECT series_id, ts, value FROM latest"):
            self._latest[sid] = (ts, value)
        self._head = self._load_head()
        self._newest = max(self._maint.meta.get("max_ts", 0), *self._head_newest())
        self._sealed_until = -(2**63)  # the first write checks for closed hours
        self._migrate_samples_table()
        self._last_roll = -math.inf  # the first write rolls up what is due
        self.samples_written = 0
        self.last_write_ns: int | None = None
        self._last_error: str | None = None
        self.maintenance_error: str | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint, fast
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: a day's block index stays cached
        return conn

    def _table_names(self) -> list[str]:
        rows = self._w.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return [str(r[0]) for r in rows]

    def _load_series(self) -> None:
        self._series.clear()
        self._keys.clear()
        self._by_name.clear()
        rows = self._w.execute("SELECT id, measurement, device_id, metric_name FROM series")
        for sid, measurement, device, metric in rows:
            self._series[(measurement, device, metric)] = sid
            self._keys[sid] = (measurement, device, metric)
            self._by_name.setdefault((device, metric), []).append(sid)

    def _migrate_samples_table(self) -> None:
        """Files from before blocks had one ``samples`` table: seal it into blocks once."""
        if "samples" not in self._table_names():
            return
        cursor = self._r.execute("SELECT series_id, ts, value FROM samples")
        while chunk := cursor.fetchmany(self.seal_rows):
            self._append(*(list(column) for column in zip(*chunk, strict=True)))
            self._seal()
        self._w.execute("DROP TABLE samples")

    # -- writing -----------------------------------------------------------------------------
    async def write(self, batch: Sequence[Sample]) -> list[Refusal]:
        """Store ``batch`` in one transaction (duplicates of (series, ts) keep the newest
        value); it takes every sample, so it refuses none."""
        if batch:
            await asyncio.to_thread(self._write_sync, batch)
        return []

    def _write_sync(self, batch: Sequence[Sample]) -> None:
        with self._wlock:
            head = self._head
            try:
                self._w.execute("BEGIN IMMEDIATE")
                columns = self._into_head(batch, head)
                self._w.execute(_INSERT_HEAD, pack(*columns))
                self._w.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                self._last_error = str(exc)
                raise _translate(exc) from exc
            self.samples_written += len(batch)
            self.last_write_ns = max(columns[1])
            self._newest = max(self._newest, self.last_write_ns)
            self._last_error = None
            self._maintain_if_due()

    def _into_head(
        self, batch: Sequence[Sample], head: Head
    ) -> tuple[list[int], list[int], list[float]]:
        """Resolve series ids and append to the in-memory head: these loops are the write
        path's cost, hence comprehensions, Python's fastest loops. (Readers may see these
        samples a moment before the commit; if the commit fails, the head is reloaded.)"""
        get, per_series = self._series.get, head.series
        stamps = [s.ts_ns for s in batch]
        values = [s.value for s in batch]
        found = [get((s.measurement, s.device_id, s.metric_name)) for s in batch]
        sids = cast(list[int], found) if None not in found else self._with_new_series(batch, found)
        head.holds(min(stamps))
        head_get = per_series.get
        for sid, ts, value in zip(sids, stamps, values, strict=True):
            columns = head_get(sid)
            if columns is None:
                columns = per_series[sid] = ([], [])
            columns[0].append(ts)
            columns[1].append(value)
        head.added(len(sids))
        return sids, stamps, values

    def _append(self, sids: list[int], stamps: list[int], values: list[float]) -> None:
        """One batch into the head table and memory (its own transaction)."""
        self._w.execute(
            "INSERT INTO head (sids, ts, vals) VALUES (?, ?, ?)", pack(sids, stamps, values)
        )
        self._head.extend(sids, stamps, values)

    def _with_new_series(self, batch: Sequence[Sample], found: list[int | None]) -> list[int]:
        """``found`` with the series seen for the first time created."""
        return [
            sid
            if sid is not None
            else self._new_series((s.measurement, s.device_id, s.metric_name))
            for s, sid in zip(batch, found, strict=True)
        ]

    def _new_series(self, key: SeriesKey) -> int:
        self._w.execute(
            "INSERT OR IGNORE INTO series (measurement, device_id, metric_name) VALUES (?, ?, ?)",
            key,
        )
        row = self._w.execute(
            "SELECT id FROM series WHERE measurement = ? AND device_id = ? AND metric_name = ?",
            key,
        ).fetchone()
        sid = int(row[0])
        if key not in self._series:
            self._by_name.setdefault(key[1:], []).append(sid)
        self._series[key], self._keys[sid] = sid, key
        return sid

    def _rollback(self) -> None:
        if self._w.in_transaction:
            self._w.execute("ROLLBACK")
        self._load_series()  # ids created in the rolled-back transaction are gone
        self._head = self._load_head()

    def _head_newest(self) -> list[int]:
        return [max(ts) for ts, _ in self._head.series.values() if ts] or [0]

    def _load_head(self) -> Head:
        head = Head()
        for sids, ts, vals in self._w.execute("SELECT sids, ts, vals FROM head ORDER BY id"):
            head.extend(*unpack(sids, ts, vals))
        return head

    def _seal(self, closed: int | None = None) -> None:
        """Head → blocks (all of it, or what lies before ``closed``); what was sealed joins
        ``_latest``, what was not stays in the head."""
        head = self._head

        def swap(remainder: Head) -> None:
            for sid in head.series:
                newest = head.latest(sid)
                current = self._latest.get(sid)
                if newest is not None and (current is None or newest[0] >= current[0]):
                    self._latest[sid] = newest
            self._head = remainder

        self._maint.seal(head, swap, closed)

    def _maintain_if_due(self) -> None:
        """Seal once an hour has closed (its blocks and rollups are made at once) or when the
        head is full; roll up what is left at most every 10 s, a bounded amount each time so
        that a backfill does not stall the writer. Samples of hours sealed already (a second
        agent's backfill) are sealed on that tick too, so that the rollups of their hours are
        redone soon rather than after the next hour closes (until then, readers read those
        hours raw). Failures here lose nothing (the head stays until a seal succeeds) and
        show in health."""
        try:
            if self._head.rows >= self.seal_rows:
                self._seal()
            elif self._head.rows:
                closed = self._maint.closed_hour(self._newest)
                if closed > self._sealed_until:
                    self._seal(closed)
                    self._sealed_until = closed
            if self._monotonic() - self._last_roll >= 10.0:
                self._last_roll = self._monotonic()
                if self._head.oldest < self._sealed_until:  # samples of sealed hours
                    self._seal(self._sealed_until)
                self._maint.roll(max_steps=24)
            self.maintenance_error = None
        except sqlite3.Error as exc:
            self.maintenance_error = str(exc)
            log.warning("embedded_maintenance_failed", error=str(exc))

    async def maintain(self) -> None:
        """Seal the head and do every rollup and expiry that is due (tests, shutdown)."""
        await asyncio.to_thread(self._maintain_sync)

    def _maintain_sync(self) -> None:
        with self._wlock:
            self._seal()
            self._maint.roll()

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
        """Seal what is in the head, then close both connections."""
        with self._wlock, self._rlock:
            try:
                self._seal()
            except sqlite3.Error as exc:  # the head stays; the next open seals it
                log.warning("embedded_seal_on_close_failed", error=str(exc))
            self._w.close()
            self._r.close()

    # -- reading -----------------------------------------------------------------------------
    def _snapshot(self, work: Callable[[Reader], Any]) -> Any:
        """Run ``work`` in one read transaction, with the head of that same instant."""
        with self._rlock:
            with self._commit_lock:
                self._r.execute("BEGIN")
                # opens the snapshot; the writer's copy of the watermarks may be ahead of it
                watermarks = dict(self._r.execute(_WATERMARKS).fetchall())
                reader = Reader(self._r, self.catalog, self._head, watermarks)
            try:
                return work(reader)
            finally:
                self._r.execute("COMMIT")

    def _sids(self, device_id: str, metric_name: str) -> list[int]:
        return list(self._by_name.get((device_id, metric_name), ()))

    async def points(
        self,
        device_id: str,
        metric_name: str,
        start_ns: int,
        end_ns: int,
        step_s: float | None = None,
        agg: Aggregation = "avg",
    ) -> list[Point]:
        """Raw samples, or per-step buckets (ts = bucket start, from ``start_ns``).

        A rollup answers when its buckets tile the steps: a step of whole minutes, hours or
        days, from a ``start`` on such a boundary (dashboards align ``from`` to the step). The
        tail not rolled up yet comes from raw samples. Either way the figures are exact, but
        for p95 over several rollup buckets: the largest of their p95s.
        """
        sids = self._sids(device_id, metric_name)
        if not sids or end_ns <= start_ns:
            return []
        if step_s is None:
            raw = await asyncio.to_thread(self._snapshot, lambda r: r.raw(sids, start_ns, end_ns))
            return [Point(ts, v, v, v, 1) for ts, v in raw]
        step_ns = max(1, int(step_s * 1e9))
        level = _level_for(step_ns, start_ns)
        return await asyncio.to_thread(
            self._snapshot,
            lambda r: self._stepped(r, sids, start_ns, end_ns, step_ns, level, agg),
        )

    def _stepped(
        self,
        reader: Reader,
        sids: list[int],
        start: int,
        end: int,
        step: int,
        level: Level,
        agg: Aggregation,
    ) -> list[Point]:
        rolled_until = reader.rolled_until(level, start, end)
        # of every series asked for, as their raw samples of one timestamp are merged
        stale: set[int] = set().union(*reader.stale(level, sids, start, rolled_until).values())
        by_series = reader.rollups(level, sids, start, rolled_until)
        rows, raw = _with_stale(
            reader,
            level,
            sids,
            sorted(row for sid in sids for row in by_series.get(sid, [])),
            stale,
            (start if level is MINUTE_LEVEL else rolled_until, end),
        )
        return _buckets(rows, raw, start, step, rolled_until, agg, covered_by(level))

    async def fleet(
        self,
        start_ns: int,
        end_ns: int,
        step_s: float,
        agg: Aggregation = "avg",
        metric_name: str | None = None,
    ) -> dict[tuple[str, str], list[Point]]:
        """Per (device, metric) of ``device_metrics``, what ``points`` gives with this step:
        the fleet at once (a dashboard's "every device, hourly, last week"), one read of the
        rollup partitions instead of one query per series."""
        wanted = {
            sid: (device, metric)
            for (m, device, metric), sid in list(self._series.items())
            if m == "device_metrics" and metric_name in (None, metric)
        }
        if not wanted or end_ns <= start_ns:
            return {}
        step = max(1, int(step_s * 1e9))
        level = _level_for(step, start_ns)
        span = covered_by(level)

        def read(reader: Reader) -> dict[tuple[str, str], list[Point]]:
            sids = None if metric_name is None else list(wanted)
            rolled_until = reader.rolled_until(level, start_ns, end_ns)
            raw_range = (start_ns if level is MINUTE_LEVEL else rolled_until, end_ns)
            stale = reader.stale(level, sids, start_ns, rolled_until)  # empty in steady state
            found = {}
            if level is not RAW and level is not MINUTE_LEVEL and step == level.bucket_ns:
                rolled = reader.rollup_points(level, sids, start_ns, rolled_until, agg)
                for sid, key in wanted.items():
                    late = stale.get(sid, set())
                    points, raw = _with_stale(
                        reader, level, [sid], rolled.get(sid, []), late, raw_range
                    )
                    tail = _buckets([], raw, start_ns, step, rolled_until, agg, span)
                    if points or tail:
                        # stale buckets come from raw samples, among the rollup points
                        found[key] = sorted(points + tail) if late else points + tail
                return found
            by_series = reader.rollups(level, sids, start_ns, rolled_until)
            for sid, key in wanted.items():
                rows, raw = _with_stale(
                    reader, level, [sid], by_series.get(sid, []), stale.get(sid, set()), raw_range
                )
                if rows or raw:
                    found[key] = _buckets(rows, raw, start_ns, step, rolled_until, agg, span)
            return found

        result: dict[tuple[str, str], list[Point]] = await asyncio.to_thread(self._snapshot, read)
        return result

    async def latest(self, measurement: str, device_id: str | None = None) -> list[LatestValue]:
        """Newest value per series of ``measurement``."""
        head, found = self._head, []
        for key, sid in list(self._series.items()):
            m, device, metric = key
            if m != measurement or (device_id is not None and device != device_id):
                continue
            newest = max(
                (v for v in (self._latest.get(sid), head.latest(sid)) if v is not None),
                key=lambda v: v[0],
                default=None,
            )
            if newest is not None:
                found.append(LatestValue(device, metric, newest[0], newest[1]))
        return sorted(found, key=lambda v: (v.device_id, v.metric_name))

    async def series(self, device_id: str | None = None) -> list[tuple[str, str, str]]:
        """Every known series, optionally of one device."""
        keys = [k for k in list(self._series) if device_id is None or k[1] == device_id]
        return sorted(keys, key=lambda k: (k[1], k[2], k[0]))

    async def rounds(
        self, device_id: str, kind: str, start_ns: int, end_ns: int, limit: int
    ) -> list[tuple[int, dict[str, float]]]:
        """Per timestamp, the ``<kind>.*`` metrics of one device: the newest ``limit`` rounds."""
        prefix = f"{kind}."
        wanted = {
            sid: metric[len(prefix) :]
            for (m, device, metric), sid in list(self._series.items())
            if m == "device_metrics" and device == device_id and metric.startswith(prefix)
        }

        def read(reader: Reader) -> dict[int, dict[str, float]]:
            grouped: dict[int, dict[str, float]] = {}
            for sid, name in wanted.items():
                for ts, value in reader.raw([sid], start_ns, end_ns):
                    grouped.setdefault(ts, {})[name] = value
            return grouped

        grouped = await asyncio.to_thread(self._snapshot, read)
        return sorted(grouped.items())[-limit:]

    async def count(self) -> int:
        """Number of distinct stored samples (decodes everything: for tests and tools)."""

        def read(reader: Reader) -> int:
            return sum(len(reader.raw([sid], 0, 2**63 - 1)) for sid in list(self._keys))

        return int(await asyncio.to_thread(self._snapshot, read))


_R = TypeVar("_R", bound=tuple[Any, ...])


def _with_stale(
    reader: Reader,
    level: Level,
    sids: list[int],
    rows: list[_R],
    stale: set[int],
    raw_range: tuple[int, int],
) -> tuple[list[_R], list[tuple[int, float]]]:
    """Rollup ``rows`` but those of ``stale`` spans, and the raw samples to add to them:
    those of ``raw_range`` (the tail not rolled up yet) and of the stale spans."""
    span = covered_by(level)
    raw = reader.raw(sids, *raw_range)
    if not stale:
        return rows, raw
    if level is not MINUTE_LEVEL:  # minute steps read every raw sample already
        raw = reader.raw_spans(sids, stale, span) + raw
    return drop_stale(rows, stale, span), raw


def _buckets(
    rows: list[tuple[int, Summary]],
    raw: list[tuple[int, float]],
    start: int,
    step: int,
    rolled_until: int,
    agg: Aggregation,
    span: int = HOUR,
) -> list[Point]:
    """Step buckets from rollup rows (before ``rolled_until``) and raw samples.

    Raw samples before ``rolled_until`` count only in spans (of ``span``: the hour, or the
    day for day rollups) no rollup row covers: minute rollups exist just for hours finer
    than a sample a minute, the rest is read raw; and spans whose rollups lack samples are
    read raw, their rows left out.
    """
    if not rows:
        return bucketed(raw, start, step, agg)
    buckets: dict[int, Bucket] = {}
    covered = set()
    for ts, summary in rows:
        buckets.setdefault(start + (ts - start) // step * step, Bucket()).rows.append(summary)
        covered.add(floor(ts, span))
    for ts, value in raw:
        if ts < rolled_until and floor(ts, span) in covered:
            continue
        buckets.setdefault(start + (ts - start) // step * step, Bucket()).values.append(value)
    return [buckets[b].point(b, agg) for b in sorted(buckets)]


def _level_for(step_ns: int, start_ns: int) -> Level:
    """The coarsest resolution whose buckets tile the steps exactly: its bucket divides the
    step and ``start`` lies on one of its boundaries (raw when none does)."""
    for level in reversed(ROLLUPS):
        if step_ns % level.bucket_ns == 0 and start_ns % level.bucket_ns == 0:
            return level
    return RAW


def _translate(exc: sqlite3.Error) -> Exception:
    """Locked/busy/full disk may pass; constraint and type errors will not."""
    if isinstance(exc, sqlite3.OperationalError):
        return RetryableStorageError(f"embedded store: {exc}")
    return PermanentStorageError(f"embedded store: {exc}")
