"""One leader among the ``serve`` processes that share a PostgreSQL inventory.

Only the leader schedules checks, evaluates alert rules and sends notifications, records
health and analytics series, and folds pushed results (agents' batches, collectors'
results). A standby forwards every request but its own health to the leader
(``api/forward.py``), so any process behind a load balancer answers as the leader does.

The leader is whoever holds a PostgreSQL session advisory lock, on a connection of its own
kept open for as long as it leads. PostgreSQL releases the lock when that session ends: a
leader killed with SIGKILL, or cut from the database, loses it as soon as the server sees
its connection close, and a standby (trying every ``retry_s``) takes it. A leader that can
no longer prove it still holds the lock (its connection failed) stops at once (SIGTERM to
itself; systemd or the container runtime start it again, as a standby): two leaders would
run every check twice. On SQLite (one process by construction) there is nothing to elect.

No run is made twice across a switch: the new leader's scheduler fires each job at its
aligned ticks (the same ones on every node) after the moment it was elected, so a tick the
old leader ran is in the past. Alert rule states are persisted by the leader and loaded by
the next one (the restart path: no one is told twice).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from netgauge.errors import InventoryError

log = structlog.get_logger(__name__)
LOCK_KEY = 0x6E67_6C65_6164  # "ngslead": one cluster per database
STARTUP_KEY = 0x6E67_7374_6172  # "ngstar": one process at a time migrates and syncs
Elected = Callable[[], Awaitable[None]]


class StartupLock:
    """Held while a process migrates the schema and syncs its config file into a shared
    PostgreSQL inventory: peers started together take turns (without it, two first starts
    raced in the migration and one died on a duplicate key). A no-op elsewhere."""

    def __init__(self, database_url: str | None) -> None:
        self._url = database_url if database_url and database_url.startswith("postgres") else None
        self._conn: Connection | None = None

    def acquire(self) -> None:
        """Wait for the turn (blocking: run in a thread)."""
        if self._url is None:
            return
        engine = create_engine(self._url, poolclass=NullPool)
        try:
            self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": STARTUP_KEY})
        except SQLAlchemyError as exc:  # the database is down: the start's own error
            url = engine.url.render_as_string(hide_password=True)
            raise InventoryError(f"cannot migrate the inventory database {url}: {exc}") from exc

    def release(self) -> None:
        """Give the turn to the next peer (closing the session frees the lock too)."""
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": STARTUP_KEY})
            finally:
                self._conn.close()
                self._conn = None


class Leadership:
    """Campaigns for the lock, calls ``on_elected`` once when it gets it, then watches it."""

    def __init__(self, database_url: str | None, *, retry_s: float = 1.0) -> None:
        self._url = database_url if database_url and database_url.startswith("postgres") else None
        self.retry_s = retry_s
        self.role = "single" if self._url is None else "standby"
        self._conn: Connection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        """Whether this process does the leader's work (a single one always does)."""
        return self.role in ("single", "leader")

    async def start(self, on_elected: Elected) -> None:
        """Lead now if possible (always without PostgreSQL); else campaign in the background."""
        if self._url is None:
            await on_elected()
            return
        if await asyncio.to_thread(self._try):
            await self._elected(on_elected)
        self._task = asyncio.create_task(self._run(on_elected), name="netgauge-leadership")

    async def stop(self) -> None:
        """Stop campaigning; a leader's lock goes with its connection."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self._close)

    async def _run(self, on_elected: Elected) -> None:
        while True:
            await asyncio.sleep(self.retry_s)
            if self.role == "leader":
                if not await asyncio.to_thread(self._still_held):
                    self._fence()
                    return
            elif await asyncio.to_thread(self._try):
                await self._elected(on_elected)

    async def _elected(self, on_elected: Elected) -> None:
        self.role = "leader"
        log.warning("leader.elected", pid=os.getpid())
        await on_elected()

    def _try(self) -> bool:
        """Take the lock if it is free (blocking: run in a thread)."""
        try:
            if self._conn is None:
                engine = create_engine(self._url or "", poolclass=NullPool)
                self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})
            return bool(got.scalar())
        except Exception as exc:  # the database is down: try again later
            log.warning("leader.campaign_failed", error=str(exc))
            self._close()
            return False

    def _still_held(self) -> bool:
        """Whether the lock's session is alive and holds it (blocking)."""
        try:
            assert self._conn is not None
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid() AND granted"
                )
            ).scalar()
            return bool(held)
        except Exception as exc:
            log.error("leader.lock_lost", error=str(exc))
            return False

    def _fence(self) -> None:
        """Lost the lock while leading: stop this process before another leader starts."""
        log.critical("leader.fenced", detail="lost the leader lock: stopping (restart me)")
        self.role = "standby"
        os.kill(os.getpid(), signal.SIGTERM)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already broken: nothing to give back
                pass
            self._conn = None


__all__ = ["LOCK_KEY", "Leadership", "StartupLock"]
