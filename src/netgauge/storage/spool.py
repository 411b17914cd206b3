"""The writer's on-disk spool: batches a store could not take wait here, in order, across
outages and restarts, until it takes them.

One SQLite file per store (``<data_dir>/spool/<store>.db``), WAL with ``synchronous=FULL``:
a batch :meth:`DiskSpool.append` returned is on disk (fsync'd), so a crash or ``kill -9``
after it loses nothing. Batches are replayed oldest first and removed once the store took
them. SQLite rather than hand-made segment files: its commit is the fsync'd append we need,
and a torn write is rolled back on open instead of having to be detected.

**At the size limit** (``max_bytes`` of spooled data) the policy decides:
``drop_oldest`` (the default: recent data is worth more during a long outage) removes the
oldest batches to make room, ``drop_newest`` refuses the new batch. Either way every dropped
sample is counted, in the file itself, so the count survives restarts, and logged.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from netgauge.datadir import private_dir, private_file
from netgauge.models import Sample

log = structlog.get_logger(__name__)

SpoolPolicy = Literal["drop_oldest", "drop_newest"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    samples TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SpoolStats:
    batches: int
    samples: int
    bytes: int
    dropped_samples: int


def _encode(samples: Sequence[Sample]) -> str:
    rows = [[s.measurement, s.device_id, s.metric_name, s.value, s.ts_ns] for s in samples]
    return json.dumps(rows, separators=(",", ":"))


def _decode(text: str) -> list[Sample]:
    return [Sample(m, d, n, float(v), int(t)) for m, d, n, v, t in json.loads(text)]


class DiskSpool:
    """Batches of one store, in order, durable per batch, bounded in size."""

    def __init__(
        self, path: Path, max_bytes: int = 512 * 1024 * 1024, policy: SpoolPolicy = "drop_oldest"
    ) -> None:
        private_file(private_dir(path.parent) / path.name)
        self.path, self.max_bytes, self.policy = path, max_bytes, policy
        self._lock = threading.Lock()  # called from worker threads (asyncio.to_thread)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # every commit is fsync'd
        self._db.executescript(_SCHEMA)
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(count), 0), COALESCE(SUM(LENGTH(samples)), 0) "
            "FROM batches"
        ).fetchone()
        self._batches, self._samples, self._bytes = int(row[0]), int(row[1]), int(row[2])

    def append(self, samples: Sequence[Sample]) -> bool:
        """Spool one batch (on disk when this returns); False when the policy refused it."""
        text = _encode(samples)
        with self._lock:
            if self._bytes + len(text) > self.max_bytes:
                if self.policy == "drop_newest":
                    self._count_dropped(len(samples))
                    log.warning("storage.spool_full", spool=str(self.path), dropped=len(samples))
                    return False
                self._make_room(len(text))
            self._db.execute(
                "INSERT INTO batches (samples, count) VALUES (?, ?)", (text, len(samples))
            )
            self._batches += 1
            self._samples += len(samples)
            self._bytes += len(text)
        return True

    def oldest(self) -> tuple[int, list[Sample]] | None:
        """The oldest batch and its id, or None when the spool is empty."""
        with self._lock:
            row = self._db.execute("SELECT id, samples FROM batches ORDER BY id LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), _decode(str(row[1])))

    def remove(self, batch_id: int) -> None:
        """The store took this batch: forget it."""
        with self._lock:
            row = self._db.execute(
                "SELECT count, LENGTH(samples) FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                return
            self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            self._batches -= 1
            self._samples -= int(row[0])
            self._bytes -= int(row[1])

    def stats(self) -> SpoolStats:
        with self._lock:
            dropped = self._db.execute(
                "SELECT value FROM counters WHERE name = 'dropped_samples'"
            ).fetchone()
            return SpoolStats(
                self._batches, self._samples, self._bytes, int(dropped[0]) if dropped else 0
            )

    def __len__(self) -> int:
        return self._batches

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _make_room(self, needed: int) -> None:
        """Drop the oldest batches until ``needed`` more bytes fit (counted, logged)."""
        dropped = 0
        while self._batches and self._bytes + needed > self.max_bytes:
            row = self._db.execute(
                "SELECT id, count, LENGTH(samples) FROM batches ORDER BY id LIMIT 1"
            ).fetchone()
            self._db.execute("DELETE FROM batches WHERE id = ?", (row[0],))
            self._batches -= 1
            self._samples -= int(row[1])
            self._bytes -= int(row[2])
            dropped += int(row[1])
        if dropped:
            self._count_dropped(dropped)
            log.warning("storage.spool_full", spool=str(self.path), dropped_oldest=dropped)

    def _count_dropped(self, count: int) -> None:
        self._db.execute(
            "INSERT INTO counters VALUES ('dropped_samples', ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (count,),
        )
