"""Pages of the target list kept between requests, dropped by the next change to the tables
they are read from.

A dashboard or script polling ``GET /api/v1/targets`` asks for the same page again and
again, and reading it (statement, round trip, rows into values) costs most of the request.
A page is kept with the number of committed changes to ``targets``, ``target_tags`` and
``sites`` it was read under, and served only while that number is still the same: every
session of the inventory reports its changes (a flush of such rows, a bulk statement on
those tables, any SQL text but a SELECT) and the number moves *after* the commit, so a
page read before a change committed is never served after it.

Writers outside this process (another netgauge on the same PostgreSQL) are not seen: a page
is also kept at most ``max_age_s`` (2 s), the longest such a change can go unseen.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

_V = TypeVar("_V")
_CHANGED = "netgauge.readcache.changed"


class ChangeCounter:
    """How many committed transactions changed (or may have changed) ``tables``."""

    def __init__(self, sessions: sessionmaker[Session], tables: frozenset[str]) -> None:
        self.value = 0
        self._tables = tables
        self._key = f"{_CHANGED}.{id(self)}"  # each counter its own mark on a session
        self._lock = threading.Lock()
        event.listen(sessions, "after_flush", self._flushed)
        event.listen(sessions, "do_orm_execute", self._executed)
        event.listen(sessions, "after_commit", self._ended)
        event.listen(sessions, "after_soft_rollback", self._rolled_back)

    def _flushed(self, session: Session, _context: Any) -> None:
        # (the new, dirty and deleted collections still hold what this flush wrote)
        for obj in chain(session.new, session.dirty, session.deleted):
            table = getattr(obj, "__tablename__", None)
            if table is None or table in self._tables:
                session.info[self._key] = True
                return

    def _executed(self, state: ORMExecuteState) -> None:
        if state.is_select:
            return
        # a bulk INSERT/UPDATE/DELETE names its table; anything else (text()) may be a change
        table = getattr(getattr(state.statement, "table", None), "name", None)
        if table is None or table in self._tables:
            state.session.info[self._key] = True

    def _ended(self, session: Session) -> None:
        if session.info.pop(self._key, False):
            with self._lock:
                self.value += 1

    def _rolled_back(self, session: Session, _previous: Any) -> None:
        self._ended(session)  # harmless when nothing was committed: one page read again


class ReadCache(Generic[_V]):
    """Values by key, each valid while ``counter`` has not moved and for ``max_age_s``."""

    def __init__(
        self,
        counter: ChangeCounter,
        max_age_s: float = 2.0,
        size: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counter = counter
        self._clock = clock
        self._max_age_s = max_age_s
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[int, float, _V]] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: Hashable) -> _V | None:
        """The kept value of ``key`` while still valid, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            version, at, value = entry
            if version != self._counter.value or self._clock() - at > self._max_age_s:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def get(self, key: Hashable, load: Callable[[], _V]) -> _V:
        """The kept value of ``key``, or ``load()``'s (kept under the counter as it was
        before loading: a change committed meanwhile makes it stale at once)."""
        found = self.peek(key)
        if found is not None:
            return found
        version, at = self._counter.value, self._clock()
        value = load()
        with self._lock:
            self._entries[key] = (version, at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


__all__ = ["ChangeCounter", "ReadCache"]
