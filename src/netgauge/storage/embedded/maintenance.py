"""Sealing, rollups and retention: the embedded store's background chores, run by the writer.

All of it runs on the writer's connection, each step in its own transaction, so a crash at
any point leaves either the state before the step or after it (head rows are deleted in the
same transaction that writes their blocks; a rollup advances its watermark in the
transaction that stores it).
"""

from __future__ import annotations

import bisect
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from netgauge.storage.embedded.blocks import decode, encode, is_compact
from netgauge.storage.embedded.head import Head, pack
from netgauge.storage.embedded.layout import (
    DAY,
    DAY_LEVEL,
    HOUR,
    HOUR_LEVEL,
    LEVELS,
    MINUTE,
    MINUTE_LEVEL,
    RAW,
    Catalog,
    Level,
    Retention,
    floor,
    partition_ddl,
    table,
)
from netgauge.storage.embedded.summary import Summary

Block = tuple[int, int, int, bytes]  # t0, id, n, data
# a redo names at most this many series (SQL parameters); past it, it redoes the whole bucket
_REDO_SERIES = 500
SummaryRow = tuple[int, int, int, float, float, float, float]  # series, ts, n, sum, min, max, p95


def merged(blocks: Iterable[Block]) -> tuple[list[int], list[float]]:
    """The samples of one series from its blocks in seal order: a later duplicate wins."""
    parts = [decode(data, n) for _, _, n, data in blocks]
    if len(parts) == 1:
        return parts[0]
    by_ts: dict[int, float] = {}
    for ts, values in parts:
        by_ts.update(zip(ts, values, strict=True))
    ordered = sorted(by_ts.items())
    return [t for t, _ in ordered], [v for _, v in ordered]


def _in_order(ts: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    """One series' head in time order, the last arrival of a timestamp winning."""
    n = min(len(ts), len(values))
    ts, values = ts[:n], values[:n]
    if ts == sorted(ts) and len(set(ts)) == n:
        return ts, values
    ordered = sorted(dict(zip(ts, values, strict=True)).items())
    return [t for t, _ in ordered], [v for _, v in ordered]


def _hour_runs(ts: Sequence[int]) -> Iterator[tuple[int, int]]:
    """[a, b) index runs of sorted ``ts`` that stay within one hour."""
    a = 0
    while a < len(ts):
        end_of_hour = floor(ts[a], HOUR) + HOUR
        b = bisect.bisect_left(ts, end_of_hour, a) if ts[-1] >= end_of_hour else len(ts)
        yield a, b
        a = b


class Maintainer:
    """Seals the head and keeps rollups and retention up to date."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        catalog: Catalog,
        retention: Retention,
        now_ns: Callable[[], int],
        grace_ns: int,
        commit_lock: threading.Lock,
    ) -> None:
        self._c, self.catalog, self.retention = conn, catalog, retention
        # held around a seal's COMMIT and the head swap that follows it, and by readers
        # while they open their snapshot: a reader sees the head either in blocks or in
        # memory, never in both or neither
        self._commit_lock = commit_lock
        self._now_ns, self.grace_ns = now_ns, grace_ns
        self.meta: dict[str, int] = dict(conn.execute("SELECT key, value FROM meta").fetchall())

    # -- helpers -----------------------------------------------------------------------------
    def _set(self, key: str, value: int) -> None:
        self._c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        self.meta[key] = value

    def _ensure(self, level: Level, start: int) -> None:
        if start not in self.catalog.parts[level.name]:
            for statement in partition_ddl(level, start):
                self._c.execute(statement)
            self.catalog.add(level, start)

    def _transaction(
        self, work: Callable[[], Any], after_commit: Callable[[], None] | None = None
    ) -> Any:
        meta = dict(self.meta)
        self._c.execute("BEGIN IMMEDIATE")
        try:
            result = work()
            with self._commit_lock:
                self._c.execute("COMMIT")
                if after_commit is not None:
                    after_commit()
        except BaseException:
            if self._c.in_transaction:
                self._c.execute("ROLLBACK")
            self.meta = meta
            names = self._c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            self.catalog.load([str(row[0]) for row in names])
            raise
        return result

    # -- seal --------------------------------------------------------------------------------
    def closed_hour(self, newest_ns: int) -> int:
        """Hours before this one are closed: the clock and the data are both past their end
        plus the grace (the data too, so that a backfill does not close hours it has not
        reached yet)."""
        return floor(min(self._now_ns(), newest_ns) - self.grace_ns, HOUR)

    def seal(
        self, head: Head, after_commit: Callable[[Head], None], closed: int | None = None
    ) -> int:
        """Move ``head`` into blocks (one transaction), then call ``after_commit`` with what
        stays in the head (under the commit lock); the number of samples moved.

        ``closed=None`` moves everything, as fast as possible (doubles, rolled up later).
        With ``closed``, only samples before it move; an hour no block holds yet becomes its
        final compact block and its rollups right here, from the values in hand (the steady
        state: each sample is encoded once and never read back for its rollup). The rest
        stays in the head, rewritten as one row.
        """
        if not head.rows:
            return 0
        sealer = _Sealer(self, head, closed)
        return int(self._transaction(sealer.run, lambda: after_commit(sealer.remainder)))

    # -- rollups -----------------------------------------------------------------------------
    def roll(self, max_steps: int | None = None) -> bool:
        """Roll closed hours and days, redo late ones, drop expired partitions.

        Returns True when everything due is done (False: ``max_steps`` ran out first).
        """
        steps = 0
        for step in self._due():
            self._transaction(step)
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return False
        self._transaction(self._expire)
        return True

    def _due(self) -> Iterator[Callable[[], None]]:
        """The next pending step, re-evaluated after each one runs."""
        while True:
            step = self._next_step()
            if step is None:
                return
            yield step

    def _next_step(self) -> Callable[[], None] | None:
        if "hour_done" not in self.meta:
            return None
        hour_done, day_done = self.meta["hour_done"], self.meta["day_done"]
        closed = self.closed_hour(self.meta.get("max_ts", hour_done))
        if hour_done < closed:
            hour = self._next_data_hour(hour_done, closed)
            return lambda: self._roll_hour_step(hour, closed)
        if day_done < floor(hour_done, DAY):
            return lambda: self._roll_day_step(day_done, floor(hour_done, DAY))
        late = self._c.execute("SELECT level, bucket FROM dirty LIMIT 1").fetchone()
        if late is not None:
            return lambda: self._redo(str(late[0]), int(late[1]))
        return None

    def _next_data_hour(self, start: int, end: int) -> int | None:
        """The first hour in [start, end) that has blocks (None: there is none)."""
        for part in self.catalog.overlapping(RAW, start, end):
            row = self._c.execute(
                f"SELECT min(t0) FROM {table(RAW, part)} WHERE t0 >= ? AND t0 < ?", (start, end)
            ).fetchone()
            if row[0] is not None:
                return floor(int(row[0]), HOUR)
        return None

    def _roll_hour_step(self, hour: int | None, closed: int) -> None:
        if hour is None:
            self._set("hour_done", closed)
            return
        self._roll_hour(hour, None)
        self._set("hour_done", hour + HOUR)

    def _roll_day_step(self, day: int, end: int) -> None:
        next_day = self._next_data_day(day, end)
        if next_day is None:
            self._set("day_done", end)
            return
        self._roll_day(next_day, None)
        self._set("day_done", next_day + DAY)

    def _next_data_day(self, start: int, end: int) -> int | None:
        days = [p for p in self.catalog.parts[RAW.name] if start <= p < end]
        return days[0] if days else None

    def _redo(self, level: str, bucket: int) -> None:
        """Redo one late hour or day: for its dirty series at once (a backfill of many
        series is one step per hour, not per series-hour), or all of it when most are."""
        key = (level, bucket)
        sids = [
            int(r[0])
            for r in self._c.execute(
                "SELECT series_id FROM dirty WHERE level = ? AND bucket = ? LIMIT ?",
                (*key, _REDO_SERIES + 1),
            )
        ]
        which = sids if len(sids) <= _REDO_SERIES else None
        if level == "hour":
            self._roll_hour(bucket, which)
        else:
            self._roll_day(bucket, which)
        if which is None:
            self._c.execute("DELETE FROM dirty WHERE level = ? AND bucket = ?", key)
        else:
            self._c.executemany(
                "DELETE FROM dirty WHERE level = ? AND bucket = ? AND series_id = ?",
                [(*key, sid) for sid in which],
            )

    def _series_blocks(
        self, where: str, args: Sequence[int], day: int
    ) -> Iterator[tuple[int, list[Block]]]:
        """Blocks of one raw day partition matching ``where``, grouped by series."""
        if day not in self.catalog.parts[RAW.name]:
            return
        cursor = self._c.execute(
            f"SELECT series_id, t0, id, n, data FROM {table(RAW, day)} WHERE {where} "
            "ORDER BY series_id, id",
            args,
        )
        for sid, group in groupby(cursor, itemgetter(0)):
            yield int(sid), [(r[1], r[2], r[3], r[4]) for r in group]

    def _roll_hour(self, hour: int, sids: list[int] | None) -> None:
        """Hour and minute rollups of one hour (of ``sids``, or all); the blocks of a series
        in it become one, in the compact form when its values allow."""
        where, args = "t0 >= ? AND t0 < ?", [hour, hour + HOUR]
        if sids is not None:
            where, args = f"series_id IN ({_marks(sids)}) AND {where}", [*sids, *args]
        hours: list[SummaryRow] = []
        minutes: list[SummaryRow] = []
        replaced: list[tuple[int]] = []
        merged_blocks: list[tuple[int, int, int, int, bytes]] = []
        day = floor(hour, DAY)
        for series_id, blocks in self._series_blocks(where, args, day):
            ts, values = merged(blocks)
            hours.append((series_id, hour, *_row(Summary.of(values))))
            minutes.extend(_minute_rows(series_id, ts, values))
            # seals cut an hour into pieces and store doubles fast: one compact block per hour
            if len(blocks) > 1 or not is_compact(blocks[0][3]):
                packed = encode(ts, values)
                if len(blocks) > 1 or is_compact(packed):
                    replaced.extend((block_id,) for _, block_id, _, _ in blocks)
                    merged_blocks.append((series_id, ts[0], ts[-1], len(ts), packed))
        self._store(HOUR_LEVEL, hour, hours)
        self._store(MINUTE_LEVEL, hour, minutes)
        if replaced:
            name = table(RAW, day)
            self._c.executemany(f"DELETE FROM {name} WHERE id = ?", replaced)
            self._c.executemany(
                f"INSERT INTO {name} (series_id, t0, t1, n, data) VALUES (?, ?, ?, ?, ?)",
                merged_blocks,
            )

    def _roll_day(self, day: int, sids: list[int] | None) -> None:
        where, args = ("1", []) if sids is None else (f"series_id IN ({_marks(sids)})", sids)
        rows = [
            (series_id, day, *_row(Summary.of(merged(blocks)[1])))
            for series_id, blocks in self._series_blocks(where, args, day)
        ]
        self._store(DAY_LEVEL, day, rows)

    def _store(self, level: Level, bucket: int, rows: list[SummaryRow]) -> None:
        if not rows:
            return
        start = floor(bucket, level.partition_ns)
        self._ensure(level, start)
        self._c.executemany(
            f"INSERT OR REPLACE INTO {table(level, start)} VALUES (?, ?, ?, ?, ?, ?, ?)", rows
        )

    # -- retention ---------------------------------------------------------------------------
    def _expire(self) -> None:
        now = self._now_ns()
        for level in LEVELS:
            cutoff = now - self.retention.of(level)
            if level is RAW:  # never before its day rollup exists
                cutoff = min(cutoff, self.meta.get("day_done", 0))
            for start in self.catalog.parts[level.name]:
                if start + level.partition_ns <= cutoff:
                    self._c.execute(f"DROP TABLE IF EXISTS {table(level, start)}")
                    self.catalog.remove(level, start)


class _Sealer:
    """One seal: what goes to blocks, rollups and dirty marks, and what stays in the head."""

    def __init__(self, maint: Maintainer, head: Head, closed: int | None) -> None:
        self.m, self.head, self.closed = maint, head, closed
        self.blocks: dict[int, list[tuple[int, int, int, int, bytes]]] = {}
        self.hours: list[SummaryRow] = []
        self.minutes: list[SummaryRow] = []
        self.dirty: set[tuple[str, int, int]] = set()
        self.latest: list[tuple[int, int, float]] = []
        self.remainder = Head()
        self.moved = 0

    def run(self) -> int:
        m, meta = self.m, self.m.meta
        ordered = {sid: _in_order(*cols) for sid, cols in list(self.head.series.items())}
        ordered = {sid: cols for sid, cols in ordered.items() if cols[0]}
        if not ordered:
            return 0
        if "hour_done" not in meta:  # the first data: rollups start at its hour and day
            lowest = min(ts[0] for ts, _ in ordered.values())
            m._set("hour_done", floor(lowest, HOUR))
            m._set("day_done", floor(lowest, DAY))
        hour_done, closed = meta["hour_done"], self.closed
        # the fast path needs every sample of an hour in hand: none of them in blocks yet
        fast = closed is not None and m._next_data_hour(hour_done, closed) is None
        for sid, (ts, values) in ordered.items():
            cut = len(ts) if closed is None else bisect.bisect_left(ts, closed)
            if cut < len(ts):
                self.remainder.extend([sid] * (len(ts) - cut), ts[cut:], values[cut:])
            if cut:
                self._move(sid, ts[:cut], values[:cut], fast and closed is not None)
        if not self.moved:
            self.remainder = self.head  # nothing is closed yet: the head stays as it is
            return 0
        self._store()
        if fast and closed is not None and closed > hour_done:
            m._set("hour_done", closed)
        return self.moved

    def _move(self, sid: int, ts: list[int], values: list[float], fast: bool) -> None:
        hour_done, day_done = self.m.meta["hour_done"], self.m.meta["day_done"]
        self.latest.append((sid, ts[-1], values[-1]))
        self.moved += len(ts)
        for a, b in _hour_runs(ts):
            t0, hour = ts[a], floor(ts[a], HOUR)
            final = fast and hour >= hour_done
            part_ts, part_values = ts[a:b], values[a:b]
            data = encode(part_ts, part_values, compact=final)
            self.blocks.setdefault(floor(t0, DAY), []).append((sid, t0, ts[b - 1], b - a, data))
            if final:
                self.hours.append((sid, hour, *_row(Summary.of(part_values))))
                self.minutes.extend(_minute_rows(sid, part_ts, part_values))
                continue
            if hour < hour_done:  # its hour was rolled up already: redo it
                self.dirty.add(("hour", hour, sid))
            if t0 < day_done:
                self.dirty.add(("day", floor(t0, DAY), sid))

    def _store(self) -> None:
        m, c = self.m, self.m._c
        for start, rows in self.blocks.items():
            m._ensure(RAW, start)
            c.executemany(
                f"INSERT INTO {table(RAW, start)} (series_id, t0, t1, n, data) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        for level, summaries in ((HOUR_LEVEL, self.hours), (MINUTE_LEVEL, self.minutes)):
            by_partition: dict[int, list[SummaryRow]] = {}
            for row in summaries:
                by_partition.setdefault(floor(row[1], level.partition_ns), []).append(row)
            for start, part in by_partition.items():
                m._store(level, start, part)
        c.executemany("INSERT OR IGNORE INTO dirty VALUES (?, ?, ?)", sorted(self.dirty))
        c.executemany(
            "INSERT INTO latest VALUES (?, ?, ?) ON CONFLICT(series_id) DO UPDATE "
            "SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= latest.ts",
            self.latest,
        )
        newest = max(ts for _, ts, _ in self.latest)
        m._set("max_ts", max(newest, m.meta.get("max_ts", newest)))
        c.execute("DELETE FROM head")  # no WHERE: SQLite truncates the table
        if self.remainder.rows:
            sids, stamps, values = self.remainder.columns()
            c.execute(
                "INSERT INTO head (sids, ts, vals) VALUES (?, ?, ?)", pack(sids, stamps, values)
            )


def _row(s: Summary) -> tuple[int, float, float, float, float]:
    return s.n, s.sum, s.min, s.max, s.p95


def _minute_rows(sid: int, ts: list[int], values: list[float]) -> list[SummaryRow]:
    """Minute rollups of one series-hour, only when it has more than one sample in a minute
    (at one sample a minute or less, the raw blocks already are the minute resolution)."""
    if len(ts) < 2 or min(map(int.__sub__, ts[1:], ts[:-1])) >= MINUTE:
        return []  # samples a minute apart or more: each minute holds at most one
    minutes = [t - t % MINUTE for t in ts]
    if len(set(minutes)) == len(minutes):
        return []
    rows: list[SummaryRow] = []
    for minute, group in groupby(zip(minutes, values, strict=True), itemgetter(0)):
        vals = [v for _, v in group]
        rows.append((sid, minute, *_row(Summary.of(vals))))
    return rows


def _marks(sids: Sequence[int]) -> str:
    return ",".join("?" * len(sids))
