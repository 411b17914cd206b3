"""When jobs run: intervals aligned to the clock, time windows, no overlap (no I/O)."""

from netgauge.scheduler.loop import (
    SKIP_STILL_RUNNING,
    Execute,
    JobSchedule,
    JobStatus,
    OnSkip,
    Scheduler,
    SchedulerStatus,
)
from netgauge.scheduler.timing import SEARCH_DAYS, next_due, phase_offset, search_horizon
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
    "parse_days",
    "phase_offset",
    "search_horizon",
]
