"""Events written by a schedule that looks at the same history again and again (the analytics
recorder): each is stored once, however often it is found.

An event's identity is ``(kind, target, at, data["key"])`` — ``at`` is when the thing began
(an anomaly's first sample, a pattern's first message), ``key`` names what it was (the
series, the template). Found again, the stored row is updated when its data grew (an
anomaly that went on after the previous pass has a later end); never a second row.

Blocking: call it in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from netgauge.inventory.repository import Inventory
from netgauge.inventory.tables import Event

SAME_AT = timedelta(milliseconds=1)  # the database may round a stored time


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One event to store once: ``data`` must hold the ``key`` that names it."""

    kind: str
    target: str
    at: datetime
    data: dict[str, Any]
    job: str | None = None


def add_once(inv: Inventory, events: list[NewEvent]) -> tuple[int, int]:
    """Store ``events`` that are not stored yet; update stored ones whose data changed.
    Returns (added, updated)."""
    added = updated = 0
    with inv.session() as s:
        for event in events:
            found = s.scalars(
                select(Event)
                .where(Event.kind == event.kind, Event.target_name == event.target)
                .where(Event.at >= event.at - SAME_AT, Event.at <= event.at + SAME_AT)
            ).all()
            same = [row for row in found if (row.data or {}).get("key") == event.data["key"]]
            if not same:
                s.add(
                    Event(
                        kind=event.kind,
                        target_name=event.target,
                        job_name=event.job,
                        at=event.at,
                        data=event.data,
                    )
                )
                s.flush()  # a second copy later in the same list is found by the lookup
                added += 1
            elif same[0].data != event.data:
                same[0].data = dict(event.data)
                updated += 1
    return added, updated


__all__ = ["NewEvent", "add_once"]
