"""One buffered writer for the three audit tables.

Recording costs an append to a list; a background task writes what gathered every couple of
seconds in one transaction (``executemany``), so logging every request does not put a
database write on each one. Retention deletes rows older than each table's setting, once
an hour. What is buffered when the process dies is lost: this is a trail, not the samples.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, insert, select

from netgauge.inventory.repository import Inventory
from netgauge.inventory.tables import ApiRequestLog, ErrorLog, UserActivity, utcnow

log = structlog.get_logger(__name__)
CATEGORIES = ("api", "database", "external_service", "validation", "collector")
SEVERITIES = ("info", "warning", "error", "critical")
_TABLES: dict[str, type[ApiRequestLog] | type[ErrorLog] | type[UserActivity]] = {
    "requests": ApiRequestLog,
    "errors": ErrorLog,
    "activity": UserActivity,
}


class AuditLog:
    """Buffers audit rows and writes them in batches."""

    def __init__(
        self,
        inventory: Inventory,
        retention_days: dict[str, float],
        flush_interval_s: float = 2.0,
        max_buffer: int = 50_000,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._inv, self.retention_days = inventory, retention_days
        self.flush_interval_s, self.max_buffer = flush_interval_s, max_buffer
        self._now = now
        self._buffer: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLES}
        self._task: asyncio.Task[None] | None = None
        self._last_expiry = 0.0
        self.dropped = 0  # rows lost to a full buffer (the database failing for long)
        self.reads_seen = 0  # successful reads, of which 1 in N is logged

    # -- recording (cheap, from any coroutine) ----------------------------------------------------
    def request(self, **row: Any) -> None:
        """One API request: method, path (template), user, client, status, duration_ms,
        request_bytes, response_bytes."""
        self._add("requests", row)

    def error(
        self,
        category: str,
        severity: str,
        message: str,
        exc: BaseException | None = None,
        device: str | None = None,
        user: str | None = None,
    ) -> None:
        """One error, with its stack when there is an exception."""
        stack = "".join(traceback.format_exception(exc)) if exc is not None else None
        row = {
            "category": category,
            "severity": severity,
            "message": message[:10_000],
            "stack": stack,
            "device": device,
            "user": user,
        }
        self._add("errors", row)

    def activity(self, **row: Any) -> None:
        """One page view or action the console reported."""
        self._add("activity", row)

    def _add(self, table: str, row: dict[str, Any]) -> None:
        buffered = self._buffer[table]
        if len(buffered) >= self.max_buffer:
            self.dropped += 1
            return
        row["at"] = self._now()
        buffered.append(row)

    # -- writing ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Write in the background until stop()."""
        self._task = asyncio.create_task(self._run(), name="audit-log")

    async def stop(self) -> None:
        """Write what is buffered, then stop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await asyncio.to_thread(self.flush)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await asyncio.to_thread(self.flush)
                if time.monotonic() - self._last_expiry >= 3600:
                    self._last_expiry = time.monotonic()
                    await asyncio.to_thread(self.expire)
            except Exception as exc:  # the trail must never take the service down
                log.warning("audit.write_failed", error=str(exc))

    def flush(self) -> int:
        """Write everything buffered, one transaction; the number of rows."""
        taken = {name: rows for name, rows in self._buffer.items() if rows}
        if not taken:
            return 0
        self._buffer = {name: [] for name in _TABLES}
        with self._inv.session() as s:
            for name, rows in taken.items():
                s.execute(insert(_TABLES[name]), rows)
        return sum(map(len, taken.values()))

    def expire(self) -> dict[str, int]:
        """Delete rows older than each table's retention; how many per table."""
        removed = {}
        with self._inv.session() as s:
            for name, table in _TABLES.items():
                cutoff = self._now() - timedelta(days=self.retention_days[name])
                result = s.execute(delete(table).where(table.at < cutoff))
                removed[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        return removed

    # -- reading ----------------------------------------------------------------------------------
    def rows(self, name: str, limit: int, offset: int = 0, **filters: Any) -> list[dict[str, Any]]:
        """Newest first, with equality filters on columns (None: no filter)."""
        table = _TABLES[name]
        stmt = select(table).order_by(table.id.desc()).limit(limit).offset(offset)
        for column, value in filters.items():
            if value is not None:
                stmt = stmt.where(getattr(table, column) == value)
        with self._inv.session() as s:
            return [
                {c.name: getattr(row, c.name) for c in table.__table__.columns}
                for row in s.scalars(stmt)
            ]
