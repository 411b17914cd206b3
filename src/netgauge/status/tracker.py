"""Keeps the newest result per (target, check kind) and derives one state per target.

A target is ``up`` when every check kind that covers it answered last time, ``down`` when none
did, ``degraded`` when some did. Transitions are logged once, not on every repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from netgauge.models import ProbeResult

log = structlog.get_logger(__name__)


@dataclass
class TargetState:
    """Current state of one target."""

    target: str
    state: str = "unknown"
    since_ns: int = 0
    last_ns: int = 0
    checks: dict[str, ProbeResult] = field(default_factory=dict)


class StatusTracker:
    """In-memory state machine fed by the runner."""

    def __init__(self) -> None:
        self._states: dict[str, TargetState] = {}

    def update(self, result: ProbeResult) -> TargetState:
        """Fold one result in; log when the target's state changes."""
        st = self._states.setdefault(result.target, TargetState(result.target))
        st.checks[result.kind] = result
        st.last_ns = max(st.last_ns, result.ts_ns)
        new = _derive(st.checks.values())
        if new != st.state:
            event = "target.up" if new == "up" else "target.state_changed"
            log.info(event, target=st.target, old=st.state, new=new, error=result.error)
            st.state, st.since_ns = new, result.ts_ns
        return st

    def get(self, target: str) -> TargetState | None:
        """State of one target, if it has been checked."""
        return self._states.get(target)

    def all(self) -> list[TargetState]:
        """Every checked target, by name."""
        return [self._states[k] for k in sorted(self._states)]

    def forget(self, target: str) -> None:
        """Drop a removed target."""
        self._states.pop(target, None)


def _derive(results: object) -> str:
    ups = [r.up for r in results]  # type: ignore[attr-defined]
    if not ups:
        return "unknown"
    if all(ups):
        return "up"
    return "down" if not any(ups) else "degraded"
