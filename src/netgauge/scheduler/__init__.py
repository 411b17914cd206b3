"""When jobs run: clock-aligned intervals, cadences anchored at window openings, no overlap."""

from netgauge.scheduler.loop import (
    SKIP_STILL_RUNNING,
    Execute,
    JobSchedule,
    JobStatus,
    OnSkip,
    Scheduler,
    SchedulerStatus,
)
from netgauge.scheduler.timing import SEARCH_DAYS, next_due, opening_offset, phase_offset
from netgauge.scheduler.window import TimeWindow, parse_days

__all__ = [
    "SEARCH_DAYS",
    "SKIP_STILL_RUNNING",
    "Execute",
    "JobSchedule",
    "JobStatus",
    "OnSkip",
    "Scheduler",
    "SchedulerStatus",
    "TimeWindow",
    "next_due",
    "opening_offset",
    "parse_days",
    "phase_offset",
]
