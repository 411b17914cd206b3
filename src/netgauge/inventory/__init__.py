"""Inventory: sites, targets, jobs and their runs in SQLAlchemy (SQLite or PostgreSQL)."""

from netgauge.inventory.db import make_engine, migrate
from netgauge.inventory.repository import Inventory, Page, TargetFilter
from netgauge.inventory.sync import (
    PlannedChange,
    SyncReport,
    preview_sync,
    seed_builtin,
    sync_inventory,
)

__all__ = [
    "Inventory",
    "Page",
    "PlannedChange",
    "SyncReport",
    "TargetFilter",
    "make_engine",
    "migrate",
    "preview_sync",
    "seed_builtin",
    "sync_inventory",
]
