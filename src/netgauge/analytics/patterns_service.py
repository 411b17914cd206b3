"""The service side of error patterns: read the stored error texts of a window and its
history (``inventory.error_texts``) and sum them up (``pattern_report``); the API route and
the console page both call :func:`error_patterns`. Computed on request: nothing is stored."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from netgauge.analytics.pattern_report import PatternReport, report
from netgauge.inventory.error_texts import error_texts
from netgauge.inventory.repository import Inventory

MAX_ROWS = 100_000  # per kind of text: the newest are read, and the answer says so
# one computation at a time per inventory: 100,000 texts cost about 2 CPU seconds, and a
# burst of requests (any viewer may ask) must queue, not take every core and thread
_TURNS: weakref.WeakKeyDictionary[Inventory, asyncio.Lock] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class ErrorPatterns:
    """A window's report and what it was made of."""

    report: PatternReport
    history_since: datetime  # the start of the history read (first seen, new patterns)
    sources: list[str]
    truncated: bool  # a source had more than MAX_ROWS texts: the newest were read


async def error_patterns(
    inventory: Inventory, until: datetime, hours: float, history_days: float, with_log: bool
) -> ErrorPatterns:
    """The error patterns of ``[until - hours, until)``; the history read is
    ``history_days`` before ``until``, and at least two windows."""
    start = until - max(timedelta(days=history_days), timedelta(hours=2 * hours))
    turn = _TURNS.setdefault(inventory, asyncio.Lock())
    async with turn:
        texts, truncated = await asyncio.to_thread(
            error_texts, inventory, start, until, with_log, MAX_ROWS
        )
        done = await asyncio.to_thread(report, texts, until, hours)
    sources = ["target", "job", "log"] if with_log else ["target", "job"]
    return ErrorPatterns(done, start, sources, truncated)
