"""Reading a whole embedded store file day by day, for the data lake export.

The file is opened read-only (``mode=ro``) and read in one transaction: a snapshot that a
serving process keeps writing beside (WAL readers never block its writer), and that never
seals, rolls up or expires anything itself, so ``netgauge analytics export-lake`` may run
while ``netgauge serve`` does. Within the snapshot a sample is in a block or in the head,
never lost between the two by a seal running meanwhile.

Days are UTC days (epoch-aligned, as the store's partitions are). Each day has a
fingerprint: a few numbers that change whenever the day's content may have (blocks added
or rewritten, head samples, rollup rows recomputed), so an exporter can skip days it has
already written without reading them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from netgauge.storage.embedded.blocks import decode
from netgauge.storage.embedded.head import unpack
from netgauge.storage.embedded.layout import DAY, RAW, Catalog, Level, floor, table

SeriesKey = tuple[str, str, str]  # measurement, device, metric
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RawDay:
    """One day's raw samples, sorted by series key then time, one value per (series, ts)."""

    keys: list[SeriesKey]  # per distinct series, in key order
    series: Ints  # index into ``keys`` per sample
    ts: Ints
    values: Floats


@dataclass(frozen=True, slots=True)
class RollupDay:
    """One day's rollup rows of one level, sorted by series key then bucket start."""

    keys: list[SeriesKey]
    series: Ints
    ts: Ints
    count: Ints
    sums: Floats
    mins: Floats
    maxs: Floats
    p95s: Floats


@dataclass(slots=True)
class _HeadDay:
    """The head's samples of one day, in arrival order, and the newest head row holding one."""

    sids: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    newest_row: int = 0


class StoreSnapshot:
    """One read transaction over an embedded store file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn
        self.catalog = Catalog()
        names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        self.catalog.load([str(n[0]) for n in names])
        self._keys: dict[int, SeriesKey] = {}
        self._head: dict[int, _HeadDay] = {}
        if "series" not in {str(n[0]) for n in names}:
            return  # a store file not written yet
        self._keys = {
            int(sid): (str(m), str(d), str(n))
            for sid, m, d, n in conn.execute(
                "SELECT id, measurement, device_id, metric_name FROM series"
            )
        }
        self._load_head()

    def _load_head(self) -> None:
        for row_id, sids, ts, vals in self._c.execute(
            "SELECT id, sids, ts, vals FROM head ORDER BY id"
        ):
            for sid, t, v in zip(*unpack(sids, ts, vals), strict=True):
                day = self._head.setdefault(floor(t, DAY), _HeadDay())
                day.sids.append(sid)
                day.ts.append(t)
                day.values.append(v)
                day.newest_row = int(row_id)

    # -- raw samples -----------------------------------------------------------------------
    def raw_fingerprints(self) -> dict[int, str]:
        """Per day (its start, ns) holding raw samples: blocks and head figures."""
        found: dict[int, str] = {}
        for start in self.catalog.parts[RAW.name]:
            row = self._c.execute(
                f"SELECT count(*), coalesce(max(id), 0), coalesce(sum(n), 0) "
                f"FROM {table(RAW, start)}"
            ).fetchone()
            if row[0]:
                found[start] = f"blocks:{row[0]}:{row[1]}:{row[2]}"
        for start, head in self._head.items():
            mark = f"head:{len(head.ts)}:{head.newest_row}"
            found[start] = f"{found[start]};{mark}" if start in found else mark
        return found

    def raw_day(self, start: int) -> RawDay:
        """Every raw sample of the day starting at ``start``; of two with the same series
        and time, the one written last (as the store's own reads decide)."""
        sids: list[npt.NDArray[np.int64]] = []
        stamps: list[npt.NDArray[np.int64]] = []
        values: list[npt.NDArray[np.float64]] = []
        if start in self.catalog.parts[RAW.name]:
            rows = self._c.execute(
                f"SELECT series_id, n, data FROM {table(RAW, start)} ORDER BY id"
            )
            for sid, n, data in rows:
                block_ts, block_values = decode(data, n)
                sids.append(np.full(n, sid, dtype=np.int64))
                stamps.append(np.asarray(block_ts, dtype=np.int64))
                values.append(np.asarray(block_values, dtype=np.float64))
        head = self._head.get(start)
        if head is not None:
            sids.append(np.asarray(head.sids, dtype=np.int64))
            stamps.append(np.asarray(head.ts, dtype=np.int64))
            values.append(np.asarray(head.values, dtype=np.float64))
        if not sids:
            return RawDay([], _ints([]), _ints([]), np.zeros(0))
        keys, rank = self._ranked(np.concatenate(sids))
        ts, vals = np.concatenate(stamps), np.concatenate(values)
        order = np.lexsort((ts, rank))  # stable: equal (series, ts) stay in write order
        rank, ts, vals = rank[order], ts[order], vals[order]
        last = np.ones(len(ts), dtype=bool)  # the last written of each (series, ts)
        last[:-1] = (rank[1:] != rank[:-1]) | (ts[1:] != ts[:-1])
        return RawDay(keys, rank[last], ts[last], vals[last])

    def _ranked(self, sids: Ints) -> tuple[list[SeriesKey], Ints]:
        """The distinct series of ``sids`` by key, and each sample's index among them."""
        present = np.unique(sids)
        keys = sorted(self._keys[int(s)] for s in present)
        position = {key: i for i, key in enumerate(keys)}
        lookup = np.array([position[self._keys[int(s)]] for s in present], dtype=np.int64)
        return keys, lookup[np.searchsorted(present, sids)]

    # -- rollups ---------------------------------------------------------------------------
    def rollup_fingerprints(self, level: Level) -> dict[int, str]:
        """Per day holding rollup rows of ``level``: their count and totals."""
        found: dict[int, str] = {}
        for start in self.catalog.parts[level.name]:
            for day, n, count, total, top in self._c.execute(
                f"SELECT ts / {DAY}, count(*), sum(n), total(sum), total(max) "
                f"FROM {table(level, start)} GROUP BY 1"
            ):
                found[int(day) * DAY] = f"rows:{n}:{count}:{total!r}:{top!r}"
        return found

    def rollup_day(self, level: Level, start: int) -> RollupDay:
        """The rollup rows of ``level`` whose bucket starts in the day at ``start``."""
        rows: list[tuple[int, int, int, float, float, float, float]] = []
        for part in self.catalog.overlapping(level, start, start + DAY):
            rows.extend(
                self._c.execute(
                    f"SELECT series_id, ts, n, sum, min, max, p95 FROM {table(level, part)} "
                    "WHERE ts >= ? AND ts < ?",
                    (start, start + DAY),
                )
            )
        if not rows:
            empty = np.zeros(0)
            return RollupDay([], _ints([]), _ints([]), _ints([]), empty, empty, empty, empty)
        columns = list(zip(*rows, strict=True))
        keys, rank = self._ranked(_ints(columns[0]))
        ts = _ints(columns[1])
        order = np.lexsort((ts, rank))
        floats = [np.asarray(c, dtype=np.float64)[order] for c in columns[3:]]
        return RollupDay(keys, rank[order], ts[order], _ints(columns[2])[order], *floats)


def _ints(values: object) -> Ints:
    return np.asarray(values, dtype=np.int64)


@contextmanager
def snapshot(path: Path) -> Iterator[StoreSnapshot]:
    """A read-only snapshot of the store file at ``path`` (FileNotFoundError when absent)."""
    if not path.is_file():
        raise FileNotFoundError(f"no embedded store at {path}")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("BEGIN")
        yield StoreSnapshot(conn)
    finally:
        conn.close()


__all__ = ["RawDay", "RollupDay", "StoreSnapshot", "snapshot"]
