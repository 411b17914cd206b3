"""Calendars by site, and the two questions the rest of netgauge asks them:

* may a job run on a target of this site now (``run_when``: always, open, closed, peak,
  off_peak; and ``maintenance: pause`` stops it during maintenance windows, Zabbix's
  "maintenance without data collection")? The answer is a reason to skip, or None;
* is this site in maintenance now (its alerts are muted, whatever the job says)?
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from netgauge.config.schedules import ScheduleConfig
from netgauge.schedules.calendar import Calendar, SiteState

RUN_WHEN = ("always", "open", "closed", "peak", "off_peak")


class Calendars:
    """The calendar of each site that has a schedule."""

    def __init__(self) -> None:
        self._by_site: dict[str, Calendar] = {}

    def set(
        self, schedules: Iterable[ScheduleConfig], sites: Iterable[tuple[str, str, str | None]]
    ) -> None:
        """``sites``: (name, time zone, schedule name or None)."""
        by_name = {s.name: s for s in schedules}
        self._by_site = {
            site: Calendar(by_name[schedule], zone)
            for site, zone, schedule in sites
            if schedule is not None and schedule in by_name
        }

    def of(self, site: str | None) -> Calendar | None:
        return self._by_site.get(site) if site is not None else None

    def skip_reason(
        self, site: str | None, run_when: str, maintenance: str, at: datetime
    ) -> str | None:
        """Why a job with ``run_when`` / ``maintenance`` does not run on a target of
        ``site`` at ``at`` (None: it runs)."""
        calendar = self.of(site)
        if calendar is None or (run_when == "always" and maintenance != "pause"):
            return None
        state = calendar.state_at(at)
        where = f"site {site} ({calendar.name}, {calendar.zone_name})"
        if maintenance == "pause" and state.maintenance is not None:
            until = state.maintenance.end.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M %Z")
            return f"{where} in maintenance {state.maintenance.name!r} until {until}"
        wanted = _RUNS[run_when](state)
        if wanted:
            return None
        return f"{where} is {_words(state)}: the job runs when {run_when.replace('_', '-')}"

    def muted(self, site: str | None, at: datetime) -> str | None:
        """The maintenance window muting ``site``'s alerts now, in words (None: none)."""
        calendar = self.of(site)
        if calendar is None:
            return None
        window = calendar.state_at(at).maintenance
        if window is None:
            return None
        return f"maintenance {window.name!r} of site {site} ({calendar.name})"


_RUNS: dict[str, Callable[[SiteState], bool]] = {
    "always": lambda s: True,
    "open": lambda s: s.open,
    "closed": lambda s: not s.open,
    "peak": lambda s: s.peak,
    "off_peak": lambda s: not s.peak,
}


def runs_in(run_when: str, maintenance: str, state: SiteState) -> bool:
    """Whether a job with ``run_when`` / ``maintenance`` runs in ``state`` (the rule of
    :meth:`Calendars.skip_reason`, for code that walks a calendar's segments)."""
    if maintenance == "pause" and state.maintenance is not None:
        return False
    return _RUNS[run_when](state)


def _words(state: SiteState) -> str:
    if state.holiday is not None:
        return f"closed (holiday: {state.holiday})"
    if state.peak:
        return "at peak"
    return "open" if state.open else "closed"


__all__ = ["RUN_WHEN", "Calendars", "runs_in"]
