"""Reading one consistent instant of the embedded store: blocks, rollups and the head."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any, TypeVar

from netgauge.storage.base import Aggregation, Point
from netgauge.storage.embedded.blocks import decode
from netgauge.storage.embedded.head import Head
from netgauge.storage.embedded.layout import (
    DAY,
    DAY_LEVEL,
    HOUR,
    RAW,
    Catalog,
    Level,
    floor,
    table,
)
from netgauge.storage.embedded.summary import Summary

_Row = TypeVar("_Row", bound=tuple[Any, ...])
Stale = dict[int, set[int]]  # series id -> starts of the spans its rollups are missing samples of

# a rollup row's value for each aggregation, when one row is one step
_VALUE_SQL = {"avg": "sum / n", "min": "min", "max": "max", "count": "n", "p95": "p95"}


@dataclass(frozen=True, slots=True)
class Reader:
    """A read transaction's connection, the catalog, the head and the rollup watermarks
    (``hour_done``, ``day_done``) of the same instant."""

    conn: sqlite3.Connection
    catalog: Catalog
    head: Head
    meta: dict[str, int]

    def rolled_until(self, level: Level, start: int, end: int) -> int:
        """Up to where ``level``'s rollups answer for [start, end) (raw samples after it)."""
        if level is RAW:
            return start
        done = self.meta.get("day_done" if level is DAY_LEVEL else "hour_done", start)
        # whole rollup buckets only: one reaching past `end` would count later samples
        return max(start, floor(min(end, done), level.bucket_ns))

    def stale(self, level: Level, sids: list[int] | None, start: int, end: int) -> Stale:
        """Per series (of ``sids``, or all), the spans (hours; days for the day level) in
        [start, end) where its rollup rows of ``level`` lack accepted samples: samples sealed
        into spans rolled up already, whose redo is pending (``dirty``), and samples still in
        the head that are older than the rollups. Those spans must be read raw."""
        found: Stale = {}
        if level is RAW or end <= start:
            return found
        span = covered_by(level)
        first = floor(start, span)
        wanted = None if sids is None else set(sids)
        rows = self.conn.execute(
            "SELECT series_id, bucket FROM dirty WHERE level = ? AND bucket >= ? AND bucket < ?",
            ("day" if span == DAY else "hour", first, end),
        ).fetchall()
        for sid, bucket in rows:
            if wanted is None or sid in wanted:
                found.setdefault(sid, set()).add(bucket)
        if self.head.oldest < end:  # rare: a late sample not sealed yet
            series = self.head.series
            for sid in list(series) if sids is None else sids:
                late = {floor(t, span) for t, _ in self.head.samples(sid) if first <= t < end}
                if late:
                    found.setdefault(sid, set()).update(late)
        return found

    def raw_spans(self, sids: list[int], spans: set[int], span: int) -> list[tuple[int, float]]:
        """Raw samples of ``sids`` in the given spans (starts, each ``span`` long), sorted."""
        found: list[tuple[int, float]] = []
        for a, b in _runs(sorted(spans), span):
            found.extend(self.raw(sids, a, b))
        return found

    def raw(self, sids: list[int], start: int, end: int) -> list[tuple[int, float]]:
        """Raw samples of ``sids`` in [start, end), sorted; the last written of a ts wins."""
        if end <= start:
            return []
        marks = ",".join("?" * len(sids))
        found: dict[int, float] = {}
        first_block = floor(start, HOUR)  # a block never crosses an hour
        for part in self.catalog.overlapping(RAW, first_block, end):
            try:
                rows = self.conn.execute(
                    f"SELECT n, data FROM {table(RAW, part)} WHERE series_id IN ({marks}) "
                    "AND t0 >= ? AND t0 < ? AND t1 >= ? ORDER BY id",
                    [*sids, first_block, end, start],
                ).fetchall()
            except sqlite3.OperationalError:  # created or dropped since the catalog was read
                continue
            for n, data in rows:
                ts, values = decode(data, n)
                found.update(zip(ts, values, strict=True))
        for sid in sids:
            found.update(self.head.samples(sid))
        return sorted((ts, v) for ts, v in found.items() if start <= ts < end)

    def rollups(
        self, level: Level, sids: list[int] | None, start: int, end: int
    ) -> dict[int, list[tuple[int, Summary]]]:
        """Per series (of ``sids``, or all), rollup rows with bucket start in [start, end)."""
        found: dict[int, list[tuple[int, Summary]]] = {}
        for sid, rows in self._rollup_rows(level, sids, start, end, "n, sum, min, max, p95"):
            found.setdefault(sid, []).extend((r[1], Summary(*r[2:])) for r in rows)
        return found

    def rollup_points(
        self, level: Level, sids: list[int] | None, start: int, end: int, agg: Aggregation
    ) -> dict[int, list[Point]]:
        """Per series (of ``sids``, or every one), one point per rollup row in [start, end):
        the step is the resolution, so SQLite computes each value and nothing needs combining.

        This is the fleet's hot path, so each row becomes a Point in C (``Point._make``):
        for a few series, one indexed query each; for all of them, one scan of each partition
        in key order, cut into series by a count per series."""
        found: dict[int, list[Point]] = {}
        if end <= start:
            return found
        value = _VALUE_SQL[agg]
        for part in self.catalog.overlapping(level, start, end):
            name = table(level, part)
            try:
                if sids is not None:
                    sql = (
                        f"SELECT ts, {value}, min, max, n FROM {name} "
                        "WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts"
                    )
                    for sid in sids:
                        rows = self.conn.execute(sql, (sid, start, end)).fetchall()
                        if rows:
                            found.setdefault(sid, []).extend(map(Point._make, rows))
                    continue
                where = "WHERE ts >= ? AND ts < ?"
                counts = self.conn.execute(
                    f"SELECT series_id, count(*) FROM {name} {where} GROUP BY series_id "
                    "ORDER BY series_id",
                    (start, end),
                ).fetchall()
                rows = self.conn.execute(
                    f"SELECT ts, {value}, min, max, n FROM {name} {where} ORDER BY series_id, ts",
                    (start, end),
                ).fetchall()
            except sqlite3.OperationalError:  # created or dropped since the catalog was read
                continue
            points, at = list(map(Point._make, rows)), 0
            for sid, count in counts:
                found.setdefault(sid, []).extend(points[at : at + count])
                at += count
        return found

    def _rollup_rows(
        self, level: Level, sids: list[int] | None, start: int, end: int, columns: str
    ) -> Iterator[tuple[int, Iterator[tuple[Any, ...]]]]:
        """(series id, its rows: series_id, ts, *columns) per partition of ``level``."""
        if end <= start:
            return
        where, args = "ts >= ? AND ts < ?", [start, end]
        if sids is not None:
            where = f"series_id IN ({','.join('?' * len(sids))}) AND {where}"
            args = [*sids, *args]
        for part in self.catalog.overlapping(level, start, end):
            try:
                rows = self.conn.execute(
                    f"SELECT series_id, ts, {columns} FROM {table(level, part)} "
                    f"WHERE {where} ORDER BY series_id, ts",
                    args,
                ).fetchall()
            except sqlite3.OperationalError:  # created or dropped since the catalog was read
                continue
            yield from groupby(rows, itemgetter(0))


def covered_by(level: Level) -> int:
    """The span a rollup of ``level`` is computed and redone by: the hour for minute and hour
    rollups, the day for day rollups."""
    return DAY if level is DAY_LEVEL else HOUR


def drop_stale(rows: list[_Row], stale: set[int], span: int) -> list[_Row]:
    """``rows`` (ts first) but those in a stale span."""
    if not stale:
        return rows
    return [row for row in rows if floor(row[0], span) not in stale]


def _runs(starts: list[int], span: int) -> Iterator[tuple[int, int]]:
    """Sorted span starts as [a, b) runs of adjacent spans (one raw read per run)."""
    a = b = None
    for start in starts:
        if a is None or start != b:
            if a is not None and b is not None:
                yield a, b
            a = start
        b = start + span
    if a is not None and b is not None:
        yield a, b
