"""Inventory: sites, targets, jobs and their runs in SQLAlchemy (SQLite or PostgreSQL)."""

from netgauge.inventory.db import make_engine, migrate
from netgauge.inventory.repository import Inventory, Page, TargetFilter
from netgauge.inventory.sync import SyncReport, sync_inventory

__all__ = [
    "Inventory",
    "Page",
    "SyncReport",
    "TargetFilter",
    "make_engine",
    "migrate",
    "sync_inventory",
]
