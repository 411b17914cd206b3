"""Remote collectors in the inventory: made and revoked by an admin, seen by heartbeat.

A collector's token is shown once when it is made; only its SHA-256 is kept (like agent
tokens), so a stolen database gives no working token. Revoking deletes the collector: its
token stops working at once, and its targets go to the site's other collectors.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from netgauge.errors import ConflictError, InventoryError, NotFoundError
from netgauge.inventory.repository import Inventory
from netgauge.inventory.tables import CollectorRow, Site, utcnow

TOKEN_PREFIX = "ngc_"  # tells a collector token from an agent's or an API token in a log


@dataclass(frozen=True, slots=True)
class CollectorInfo:
    """A collector as the assignment and the API see it."""

    name: str
    site: str
    last_seen: datetime | None
    version: str | None = None
    spool_pending: int | None = None
    spool_bytes: int | None = None
    clock_offset_ms: float | None = None
    targets: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a collector says of itself at each sync."""

    version: str
    spool_pending: int
    spool_bytes: int
    clock_offset_ms: float | None
    targets: int


def _info(row: CollectorRow) -> CollectorInfo:
    return CollectorInfo(
        row.name,
        row.site,
        row.last_seen,
        row.version,
        row.spool_pending,
        row.spool_bytes,
        row.clock_offset_ms,
        row.targets,
    )


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CollectorStore:
    """The collectors table (blocking calls: run them in a thread)."""

    def __init__(self, inventory: Inventory) -> None:
        self._inv = inventory

    def create(self, name: str, site: str, actor: str) -> str:
        """Register collector ``name`` for ``site``; its token (shown once)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._inv.session() as s:
            if s.scalars(select(Site.name).where(Site.name == site)).first() is None:
                raise InventoryError(f"site: unknown site {site!r}")
            if s.get(CollectorRow, name) is not None:
                raise ConflictError(f"name: a collector named {name!r} already exists")
            s.add(CollectorRow(name=name, site=site, token_sha256=_sha256(token)))
            self._inv._log(s, "collector", name, "create", {"site": [None, site]}, actor)
        return token

    def delete(self, name: str, actor: str) -> None:
        """Revoke collector ``name`` (its token stops working now)."""
        with self._inv.session() as s:
            row = s.get(CollectorRow, name)
            if row is None:
                raise NotFoundError(f"collector {name!r} not found")
            self._inv._log(s, "collector", name, "delete", {"site": [row.site, None]}, actor)
            s.execute(delete(CollectorRow).where(CollectorRow.name == name))

    def all(self) -> list[CollectorInfo]:
        """Every collector, by name."""
        with self._inv.session() as s:
            return [_info(r) for r in s.scalars(select(CollectorRow).order_by(CollectorRow.name))]

    def by_token(self, token: str) -> CollectorInfo | None:
        """The collector a token belongs to (None: unknown or revoked)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self._inv.session() as s:
            row = s.scalars(
                select(CollectorRow).where(CollectorRow.token_sha256 == _sha256(token))
            ).first()
            return None if row is None else _info(row)

    def heartbeat(self, name: str, beat: Heartbeat) -> None:
        """Record a collector's sync: now, and what it said."""
        with self._inv.session() as s:
            s.execute(
                update(CollectorRow)
                .where(CollectorRow.name == name)
                .values(
                    last_seen=utcnow(),
                    version=beat.version[:32],
                    spool_pending=beat.spool_pending,
                    spool_bytes=beat.spool_bytes,
                    clock_offset_ms=beat.clock_offset_ms,
                    targets=beat.targets,
                )
            )

    def cursor(self, name: str) -> int:
        """The last result batch stored from ``name`` (0: none yet)."""
        with self._inv.session() as s:
            row = s.get(CollectorRow, name)
            return row.last_seq if row else 0

    def advance(self, name: str, through: int) -> None:
        """Every result batch of ``name`` up to ``through`` is stored."""
        with self._inv.session() as s:
            s.execute(
                update(CollectorRow)
                .where(CollectorRow.name == name, CollectorRow.last_seq < through)
                .values(last_seq=through)
            )


__all__ = ["TOKEN_PREFIX", "CollectorInfo", "CollectorStore", "Heartbeat"]
