"""The head: samples written but not sealed into blocks yet.

Durability comes from the file: each accepted batch is one row of ``head`` holding three
packed columns (series ids, timestamps, values), inserted and committed before the write
returns. One row per batch instead of one per sample is what lets ingest run at the speed
of packing arrays, not of SQLite's per-row insert (see bench/storage.py). Queries and the
seal use the in-memory copy: per series, timestamps and values in arrival order.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence

_SWAP = sys.byteorder == "big"
Columns = tuple[list[int], list[float]]


def pack(sids: Sequence[int], ts: Sequence[int], values: Sequence[float]) -> tuple[bytes, ...]:
    """One batch as three little-endian arrays."""
    arrays = (array("q", sids), array("q", ts), array("d", values))
    if _SWAP:
        for a in arrays:
            a.byteswap()
    return tuple(a.tobytes() for a in arrays)


def unpack(sids: bytes, ts: bytes, values: bytes) -> tuple[list[int], list[int], list[float]]:
    """The inverse of ``pack``."""
    ids, stamps, vals = array("q", sids), array("q", ts), array("d", values)
    if _SWAP:
        for a in (ids, stamps, vals):
            a.byteswap()
    return ids.tolist(), stamps.tolist(), vals.tolist()


class Head:
    """Per series, what is in the head, in arrival order (the last of a timestamp wins)."""

    def __init__(self) -> None:
        self.series: dict[int, Columns] = {}
        self.rows = 0
        # no sample in the head is older: while it is past every rolled-up hour (the steady
        # state), readers need not look in the head for samples that make a rollup stale
        self.oldest = 2**63 - 1

    def holds(self, oldest: int) -> None:
        """Note that samples as old as ``oldest`` are about to be appended (before they are,
        so a reader that sees them also sees this)."""
        self.oldest = min(self.oldest, oldest)

    def extend(self, sids: Iterable[int], ts: Iterable[int], values: Iterable[float]) -> None:
        """Add one committed batch."""
        series = self.series
        added = 0
        ts = list(ts)
        if ts:
            self.holds(min(ts))
        for sid, t, v in zip(sids, ts, values, strict=True):
            columns = series.get(sid)
            if columns is None:
                columns = series[sid] = ([], [])
            columns[0].append(t)
            columns[1].append(v)
            added += 1
        self.added(added)

    def added(self, count: int) -> None:
        """Note ``count`` samples appended to ``series`` by the caller."""
        self.rows += count

    def samples(self, sid: int) -> list[tuple[int, float]]:
        """(ts, value) of one series in arrival order; safe while the writer appends."""
        columns = self.series.get(sid)
        if columns is None:
            return []
        ts, values = columns
        n = min(len(ts), len(values))
        return list(zip(ts[:n], values[:n], strict=True))

    def latest(self, sid: int) -> tuple[int, float] | None:
        """The newest (ts, value) of one series in the head."""
        columns = self.series.get(sid)
        if columns is None:
            return None
        n = min(len(columns[0]), len(columns[1]))
        if not n:
            return None
        ts = columns[0][:n]
        newest = max(ts)
        last = n - 1 - ts[::-1].index(newest)  # of equal timestamps, the last written wins
        return newest, columns[1][last]

    def columns(self) -> tuple[list[int], list[int], list[float]]:
        """Everything in the head as three columns (series ids, timestamps, values)."""
        sids: list[int] = []
        stamps: list[int] = []
        values: list[float] = []
        for sid, (ts, vals) in self.series.items():
            n = min(len(ts), len(vals))
            sids.extend([sid] * n)
            stamps.extend(ts[:n])
            values.extend(vals[:n])
        return sids, stamps, values
