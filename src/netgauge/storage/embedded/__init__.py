"""The embedded time-series store (SQLite): append-only head, sealed blocks, rollups."""

from netgauge.storage.embedded.layout import Retention
from netgauge.storage.embedded.store import EmbeddedStore

__all__ = ["EmbeddedStore", "Retention"]
