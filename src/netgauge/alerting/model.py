"""The value types of alerting: an alert instance, a target as rules see it, fingerprints."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from netgauge.models import TargetType


class AlertState(enum.StrEnum):
    """pending: true, waiting out ``for``; firing: notified; resolved: ended (leaves)."""

    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable id of a label set (same labels, same alert, across restarts and hosts)."""
    canonical = json.dumps(dict(sorted(labels.items())), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """What rules need to know of a target: where it is, what it is reached through."""

    name: str
    type: TargetType = TargetType.DESTINATION
    site: str | None = None
    tags: tuple[str, ...] = ()
    parent: str | None = None


@dataclass(slots=True)
class Alert:
    """One alert instance: a rule's condition for one label set (one target, one mount...)."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState
    active_at: datetime  # when the condition became true
    last_true_at: datetime  # the newest evaluation that found it true
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    value: float | None = None
    true_now: bool = True  # the newest evaluation's answer
    incident_id: int | None = None
    # why it is not notified on its own ("unreachable via parent gw"), sticky for the episode
    suppressed: str | None = None
    parent_up_since: datetime | None = None  # when its parent was seen up again
    flapping: bool = False  # fired twice within the flap window: held until quiet
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def target(self) -> str | None:
        """The target the alert is about (None for netgauge's own health)."""
        return self.labels.get("target")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "warning")


__all__ = ["Alert", "AlertState", "TargetInfo", "fingerprint"]
