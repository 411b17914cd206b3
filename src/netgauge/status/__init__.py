"""Up/down state per target, derived from the newest result of each check kind."""

from netgauge.status.tracker import StatusTracker, TargetState

__all__ = ["StatusTracker", "TargetState"]
