"""Where the leader of several serve peers sharing this database answers (one row)."""

from __future__ import annotations

from sqlalchemy import func, select

from netgauge.inventory.repository import Inventory
from netgauge.inventory.tables import ClusterLeader, InventoryChange, utcnow


def latest_change(inventory: Inventory) -> int:
    """The id of the newest inventory change (0: none), whichever process made it: what
    changes when a target, a job, a site or credentials do (blocking)."""
    with inventory.session() as s:
        return int(s.scalar(select(func.max(InventoryChange.id))) or 0)


def record_leader(inventory: Inventory, url: str, pid: int) -> None:
    """This process leads now, and answers at ``url`` (blocking)."""
    with inventory.session() as s:
        row = s.get(ClusterLeader, 1)
        if row is None:
            s.add(ClusterLeader(id=1, url=url, pid=pid, since=utcnow()))
        else:
            row.url, row.pid, row.since = url, pid, utcnow()


def leader_url(inventory: Inventory) -> str | None:
    """Where the leader answers, as it said when elected (blocking)."""
    with inventory.session() as s:
        row = s.get(ClusterLeader, 1)
        return None if row is None else row.url


__all__ = ["latest_change", "leader_url", "record_leader"]
