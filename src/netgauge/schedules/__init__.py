"""Site schedules (calendars): when a site is open, at peak, in maintenance, on holiday; and
what that means for the jobs that run there and the alerts they raise."""

from __future__ import annotations

from netgauge.schedules.calendar import Calendar, Segment, SiteState, Window
from netgauge.schedules.sites import RUN_WHEN, Calendars

__all__ = ["RUN_WHEN", "Calendar", "Calendars", "Segment", "SiteState", "Window"]
