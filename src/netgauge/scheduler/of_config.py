"""A job's config as the scheduler sees it (shared by ``serve`` and ``collector``)."""

from __future__ import annotations

from netgauge.config.model import JobConfig, WindowConfig
from netgauge.scheduler.loop import JobSchedule
from netgauge.scheduler.window import TimeWindow, parse_days


def window_of(cfg: WindowConfig | None) -> TimeWindow | None:
    """The scheduler's window from the config model."""
    if cfg is None:
        return None
    days = parse_days(cfg.days) if cfg.days is not None else frozenset(range(7))
    return TimeWindow(
        start_time=cfg.start_time, end_time=cfg.end_time, days=days, timezone=cfg.timezone
    )


def schedule_of(cfg: JobConfig) -> JobSchedule:
    """The scheduler's view of a job."""
    return JobSchedule(cfg.name, cfg.interval, window_of(cfg.window), cfg.enabled)


__all__ = ["schedule_of", "window_of"]
