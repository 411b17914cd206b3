"""Where everything lives in the embedded file: levels, partitions, tables.

Samples arrive in any order across thousands of series, so they first land in ``head``, an
append-only log with one row per accepted batch (see ``head``). A *seal* moves the head
into compressed per-series blocks, one block never crossing an hour. Rollups
(minute, hour, day) are computed from those blocks once their period has closed.

Every level is split into time partitions, one table each (``raw_<start>``, ``hour_<start>``,
…). Retention drops whole tables: no row-by-row delete, and the freed pages are reused by
the next partitions, so a store under steady load stops growing once retention is reached.
"""

from __future__ import annotations

from dataclasses import dataclass

S = 1_000_000_000
MINUTE, HOUR, DAY = 60 * S, 3600 * S, 86_400 * S


@dataclass(frozen=True, slots=True)
class Level:
    """One resolution: its bucket (0 = raw samples) and the span of one partition table."""

    name: str
    bucket_ns: int
    partition_ns: int


RAW = Level("raw", 0, DAY)
MINUTE_LEVEL = Level("minute", MINUTE, DAY)
HOUR_LEVEL = Level("hour", HOUR, 7 * DAY)
DAY_LEVEL = Level("day", DAY, 30 * DAY)
LEVELS = (RAW, MINUTE_LEVEL, HOUR_LEVEL, DAY_LEVEL)
ROLLUPS = (MINUTE_LEVEL, HOUR_LEVEL, DAY_LEVEL)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each level is kept, in days (whole partitions go once wholly older)."""

    raw_days: float = 30
    minute_days: float = 30
    hour_days: float = 90
    day_days: float = 730

    def __post_init__(self) -> None:
        # a raw day must outlive its own day rollup, which is computed from it
        if self.raw_days < 2:
            raise ValueError("retention: raw_days must be at least 2")
        for name in ("minute_days", "hour_days", "day_days"):
            if getattr(self, name) <= 0:
                raise ValueError(f"retention: {name} must be positive")

    def of(self, level: Level) -> int:
        """The retention of ``level`` in nanoseconds."""
        days: float = getattr(self, f"{level.name}_days")
        return int(days * DAY)


def floor(ts: int, span: int) -> int:
    """``ts`` rounded down to a multiple of ``span`` (epoch aligned)."""
    return ts - ts % span


def table(level: Level, start: int) -> str:
    """The partition table of ``level`` that starts at ``start`` (ns, aligned)."""
    return f"{level.name}_{start // S}"


SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    device_id TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    UNIQUE (measurement, device_id, metric_name)
);
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY,
    sids BLOB NOT NULL,
    ts BLOB NOT NULL,
    vals BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS latest (
    series_id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    value REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dirty (
    level TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    PRIMARY KEY (level, bucket, series_id)
) WITHOUT ROWID;
"""


def partition_ddl(level: Level, start: int) -> list[str]:
    """The statements that create one partition table (and its indexes)."""
    name = table(level, start)
    if level is RAW:
        # id orders blocks of one series by seal: on a duplicate timestamp, the later wins
        return [
            f"CREATE TABLE IF NOT EXISTS {name} (id INTEGER PRIMARY KEY, series_id INTEGER NOT "
            "NULL, t0 INTEGER NOT NULL, t1 INTEGER NOT NULL, n INTEGER NOT NULL, "
            "data BLOB NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {name}_series ON {name} (series_id, t0)",
            f"CREATE INDEX IF NOT EXISTS {name}_t0 ON {name} (t0)",
        ]
    return [
        f"CREATE TABLE IF NOT EXISTS {name} (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, "
        "n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, "
        "p95 REAL NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID"
    ]


class Catalog:
    """The partition tables that exist, per level (sorted starts); replaced, never mutated,
    so a reader thread can take a snapshot without a lock."""

    def __init__(self) -> None:
        self.parts: dict[str, tuple[int, ...]] = {level.name: () for level in LEVELS}

    def load(self, names: list[str]) -> None:
        """Rebuild from the table names in the file (after open or a rolled-back change)."""
        found: dict[str, list[int]] = {level.name: [] for level in LEVELS}
        for name in names:
            prefix, _, start = name.partition("_")
            if prefix in found and start.isdigit():
                found[prefix].append(int(start) * S)
        self.parts = {name: tuple(sorted(starts)) for name, starts in found.items()}

    def add(self, level: Level, start: int) -> None:
        """Note a new partition of ``level``."""
        parts = dict(self.parts)
        parts[level.name] = tuple(sorted({*parts[level.name], start}))
        self.parts = parts

    def remove(self, level: Level, start: int) -> None:
        """Forget a dropped partition."""
        parts = dict(self.parts)
        parts[level.name] = tuple(s for s in parts[level.name] if s != start)
        self.parts = parts

    def overlapping(self, level: Level, start: int, end: int) -> list[int]:
        """Partitions of ``level`` holding any time in [start, end)."""
        return [p for p in self.parts[level.name] if p < end and p + level.partition_ns > start]
