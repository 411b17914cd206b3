"""Keeps the newest result per (target, job) and derives one state per target.

A target is ``up`` when every job that covers it got an answer last time, ``down`` when none
did, ``degraded`` when some did. When a job stops covering a target (its selector no longer
matches, the job was deleted), that job's last result is dropped, so it cannot hold a stale
state. Transitions are logged once, not on every repeat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog

from netgauge.models import ProbeResult

log = structlog.get_logger(__name__)


@dataclass
class TargetState:
    """Current state of one target; ``checks`` maps job name → its newest result."""

    target: str
    state: str = "unknown"
    since_ns: int = 0
    last_ns: int = 0
    checks: dict[str, ProbeResult] = field(default_factory=dict)


class StatusTracker:
    """In-memory state machine fed by the runner."""

    def __init__(self) -> None:
        self._states: dict[str, TargetState] = {}
        self._covered: dict[str, set[str]] = {}  # job → targets of its last run

    def update(self, job: str, result: ProbeResult) -> TargetState:
        """Fold one result of ``job`` in; log when the target's state changes."""
        st = self._states.setdefault(result.target, TargetState(result.target))
        st.checks[job] = result
        st.last_ns = max(st.last_ns, result.ts_ns)
        self._settle(st, result.ts_ns, result.error)
        return st

    def covered(self, job: str, targets: Iterable[str]) -> None:
        """``job`` now covers exactly ``targets``: drop its results on the others."""
        now = set(targets)
        for name in self._covered.get(job, set()) - now:
            self._drop(name, job)
        self._covered[job] = now

    def forget_job(self, job: str) -> None:
        """A deleted job: its results no longer count anywhere."""
        self.covered(job, ())
        self._covered.pop(job, None)

    def forget(self, target: str) -> None:
        """Drop a removed target."""
        self._states.pop(target, None)

    def jobs(self) -> list[str]:
        """Jobs whose results are held."""
        return sorted(self._covered)

    def get(self, target: str) -> TargetState | None:
        """State of one target, if it has been checked."""
        return self._states.get(target)

    def current_series(self, target: str) -> set[str] | None:
        """The metric names the newest result of each job covering ``target`` stored (a
        metric that result had no value for is not among them); None before any result
        since this process started."""
        st = self._states.get(target)
        if st is None or not st.checks:
            return None
        return {
            f"{r.kind}.{name}" if r.prefixed else name
            for r in st.checks.values()
            for name, value in r.metrics.items()
            if value is not None
        }

    def all(self) -> list[TargetState]:
        """Every checked target, by name."""
        return [self._states[k] for k in sorted(self._states)]

    def _drop(self, target: str, job: str) -> None:
        st = self._states.get(target)
        if st is not None and st.checks.pop(job, None) is not None:
            self._settle(st, st.last_ns, None)

    def _settle(self, st: TargetState, ts_ns: int, error: str | None) -> None:
        new = _derive(r.up for r in st.checks.values())
        if new != st.state:
            event = "target.up" if new == "up" else "target.state_changed"
            log.info(event, target=st.target, old=st.state, new=new, error=error)
            st.state, st.since_ns = new, ts_ns


def _derive(ups: Iterable[bool]) -> str:
    seen = list(ups)
    if not seen:
        return "unknown"
    if all(seen):
        return "up"
    return "down" if not any(seen) else "degraded"
