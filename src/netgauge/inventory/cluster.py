"""Where the leader of several serve peers sharing this database answers (one row)."""

from __future__ import annotations

from netgauge.inventory.repository import Inventory
from netgauge.inventory.tables import ClusterLeader, utcnow


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


__all__ = ["leader_url", "record_leader"]
