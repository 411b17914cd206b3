"""A target checked from several sites at once: its state by quorum (pure, no I/O).

Each vantage site's newest result is kept. A target is down only when at least ``quorum``
of the sites that reported within the last 2.5 intervals saw it down, so one site losing
its uplink is that site's problem, not a global outage (Uptime Kuma #84's ask). While fewer
than ``quorum`` sites reported and one saw it down, its state is left as it was. The decided
result carries the arriving result's metrics (the live view shows a latency) and, in its
details, what each vantage point saw.
"""

from __future__ import annotations

from dataclasses import dataclass

from netgauge.models import ProbeResult, ProbeStatus

FRESH_INTERVALS = 2.5  # a vantage point silent for longer no longer counts


@dataclass(frozen=True, slots=True)
class View:
    """What one vantage site saw last."""

    collector: str
    ts_ns: int
    up: bool
    error: str | None


class QuorumStates:
    """The newest view of each (job, target) from each vantage site."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str], dict[str, View]] = {}

    def decide(
        self,
        job: str,
        sites: list[str],
        quorum: int,
        interval_s: float,
        site: str,
        collector: str,
        result: ProbeResult,
    ) -> ProbeResult | None:
        """Record ``result`` seen from ``site`` and decide the target's state now; None
        when it cannot be decided: fewer than ``quorum`` sites reported lately and one of
        them saw it down. That is a new leader's first results (it starts with no views)
        or most sites' links cut: calling it up would end an ongoing outage's alert, to
        tell it again once the second site reports."""
        views = self._views.setdefault((job, result.target), {})
        known = views.get(site)
        if known is None or known.ts_ns <= result.ts_ns:
            views[site] = View(collector, result.ts_ns, result.up, result.error)
        horizon = result.ts_ns - int(FRESH_INTERVALS * interval_s * 1e9)
        fresh = {s: v for s, v in views.items() if s in sites and v.ts_ns >= horizon}
        down = sorted(s for s, v in fresh.items() if not v.up)
        details = {
            "vantage": {
                s: {"collector": v.collector, "up": v.up, "error": v.error}
                for s, v in sorted(fresh.items())
            },
            "quorum": quorum,
        }
        if down and len(fresh) < quorum:
            return None
        if len(down) >= quorum:
            why = "; ".join(f"{s}: {fresh[s].error or 'down'}" for s in down)
            error = f"down from {len(down)} of {len(fresh)} vantage points (quorum {quorum}): {why}"
            return ProbeResult(
                result.target, result.kind, result.ts_ns, ProbeStatus.FAILED,
                result.metrics, error, details, result.prefixed,
            )  # fmt: skip
        return ProbeResult(
            result.target, result.kind, result.ts_ns, ProbeStatus.OK,
            result.metrics, None, details, result.prefixed,
        )  # fmt: skip

    def forget(self, job: str) -> None:
        """Drop what is known of ``job`` (deleted, or no longer multi-vantage)."""
        for key in [k for k in self._views if k[0] == job]:
            del self._views[key]


__all__ = ["QuorumStates"]
