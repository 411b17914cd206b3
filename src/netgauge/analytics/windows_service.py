"""The service side of best windows: gather a site's calendar, load and run history, then
ask the pure ranking (``analytics.windows``). Everything it reads comes through the
Service's public methods and the inventory; the clock is the service's."""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from netgauge.analytics.windows import (
    HORIZON,
    LoadProfile,
    Proposal,
    allowed_segments,
    best_windows,
    failure_profile,
    load_profile,
    window_spans,
)
from netgauge.config.model import JobConfig
from netgauge.config.schedules import ScheduleConfig
from netgauge.inventory.repository import job_config, job_covers
from netgauge.inventory.tables import JobRun
from netgauge.models import Target, TargetType
from netgauge.pollers.readings import CPU_PERCENT, NET_IN_BYTES_PER_SEC, NET_OUT_BYTES_PER_SEC
from netgauge.schedules.calendar import Calendar, Segment
from netgauge.schedules.sites import runs_in
from netgauge.series import split_series
from netgauge.service import Service, window_of

if TYPE_CHECKING:
    from netgauge.inventory import Inventory


HISTORY_WEEKS = 8  # how far back load and runs are read
MAX_DEVICES = 200  # a site's devices looked at for its load
MAX_SERIES = 400  # series read for it (hourly points of HISTORY_WEEKS weeks each)
MIN_DURATION = timedelta(hours=1)  # a job's window when its runs last less
FAILED = ("failed", "partial")
COUNTED = ("ok", *FAILED)  # skipped and running runs say nothing of the hour
_TRAFFIC = (NET_IN_BYTES_PER_SEC, NET_OUT_BYTES_PER_SEC)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the API and the console show."""

    site: str | None
    schedule: str | None
    timezone: str
    job: str | None
    run_when: str
    duration: timedelta
    generated_at: datetime
    history_weeks: int
    load_source: str | None  # "traffic", "CPU" or None (no load history)
    runs_counted: int
    windows: list[Proposal]


@dataclass(frozen=True, slots=True)
class _Subject:
    """Whose windows: a site, its calendar, what may run when, whose runs count."""

    site: str | None
    calendar: Calendar
    schedule: str | None
    run_when: str
    maintenance: str
    job: JobConfig | None
    jobs: tuple[str, ...]  # whose runs make the failure history


async def recommend(
    service: Service,
    *,
    job: str | None = None,
    site: str | None = None,
    duration: timedelta | None = None,
    run_when: str | None = None,
    limit: int = 10,
) -> Answer:
    """The best windows of ``job`` (at ``site`` when it covers several), or of a
    maintenance task of ``duration`` at ``site`` (``run_when`` default off_peak)."""
    now = service.clock.now().astimezone(UTC)
    since = now - timedelta(weeks=HISTORY_WEEKS)
    subject = await _subject(service, job, site, run_when)
    runs = await asyncio.to_thread(_runs, service.inventory, subject.jobs, since)
    zone = subject.calendar.zone
    failures = failure_profile(((at, bad) for at, bad, _ in runs), zone) if runs else None
    if duration is None:
        duration = _job_duration([length for _, _, length in runs])
    load = await _load(service, subject.site, zone, since, now) if subject.site else None

    def rank() -> list[Proposal]:  # the calendar's expansion and the ranking: CPU, no I/O
        allowed = _allowed(subject, now)
        return best_windows(allowed, zone, duration, now, load, failures, limit)

    windows = await asyncio.to_thread(rank)
    return Answer(
        subject.site, subject.schedule, subject.calendar.zone_name,
        subject.job.name if subject.job else None, subject.run_when, duration, now,
        HISTORY_WEEKS, load.what if load else None, len(runs), windows,
    )  # fmt: skip


def _allowed(subject: _Subject, now: datetime) -> list[Segment]:
    end = now + HORIZON
    segments = subject.calendar.timeline(now, HORIZON.days + 1)
    spans = None
    window = window_of(subject.job.window) if subject.job is not None else None
    if window is not None:
        spans = window_spans(window, now, end)
    return allowed_segments(
        segments,
        lambda state: runs_in(subject.run_when, subject.maintenance, state),
        now,
        end,
        spans,
    )


async def _subject(
    service: Service, job: str | None, site: str | None, run_when: str | None
) -> _Subject:
    inv = service.inventory
    placements = await asyncio.to_thread(inv.target_placements)
    targets = [
        Target(name, "", TargetType(kind), where, tuple(tags))
        for name, kind, where, tags, _ in placements
    ]
    if job is None:
        if site is None:
            raise ValueError("job: give a job, or a site and a duration")
        calendar, schedule = await service.calendar_of(site)  # unknown site: 404
        rows = await asyncio.to_thread(inv.list_jobs)
        at_site = [t for t in targets if t.site == site]
        covering = tuple(
            row.name for row in rows if any(job_covers(job_config(row), t) for t in at_site)
        )
        when = run_when or "off_peak"
        return _Subject(site, calendar, schedule, when, "mute", None, covering)
    cfg = job_config(await asyncio.to_thread(inv.get_job, job))  # unknown job: 404
    chosen = _job_site(cfg, [t for t in targets if job_covers(cfg, t)], site)
    if chosen is None:
        zone = cfg.window.timezone if cfg.window is not None else "UTC"
        calendar, schedule = Calendar(ScheduleConfig(name="always-open"), zone), None
    else:
        calendar, schedule = await service.calendar_of(chosen)
    when = run_when or cfg.run_when
    return _Subject(chosen, calendar, schedule, when, cfg.maintenance, cfg, (cfg.name,))


def _job_site(cfg: JobConfig, covered: Sequence[Target], site: str | None) -> str | None:
    """The site a job's windows are for: the one asked for (one of its targets'), else
    its only one."""
    sites = sorted({t.site for t in covered if t.site is not None})
    if cfg.selector is not None and cfg.selector.site is not None:
        sites = sorted({*sites, cfg.selector.site})
    if site is not None:
        if site not in sites:
            held = ", ".join(sites) or "none"
            raise ValueError(f"site: job {cfg.name!r} has no target at site {site!r} ({held})")
        return site
    if len(sites) > 1:
        raise ValueError(
            f"site: job {cfg.name!r} covers targets at {len(sites)} sites "
            f"({', '.join(sites[:8])}): choose one"
        )
    return sites[0] if sites else None


def _runs(
    inv: Inventory, jobs: Sequence[str], since: datetime
) -> list[tuple[datetime, bool, float]]:
    """(started at, failed?, seconds it lasted) of the finished runs of ``jobs``."""
    if not jobs:
        return []
    stmt = select(JobRun.started_at, JobRun.finished_at, JobRun.status).where(
        JobRun.job_name.in_(list(jobs)),
        JobRun.started_at >= since,
        JobRun.status.in_(COUNTED),
    )
    with inv.session() as s:
        rows = list(s.execute(stmt))
    return [
        (started, status in FAILED, ((finished or started) - started).total_seconds())
        for started, finished, status in rows
    ]


def _job_duration(lengths: Iterable[float]) -> timedelta:
    """The slot a job needs: its runs' 90th percentile length, up to whole quarter hours,
    at least an hour."""
    ordered = sorted(lengths)
    if not ordered:
        return MIN_DURATION
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    quarters = math.ceil(p90 / 900.0) * timedelta(minutes=15)
    return max(MIN_DURATION, quarters)


async def _load(
    service: Service, site: str, zone: ZoneInfo, since: datetime, now: datetime
) -> LoadProfile | None:
    """The site's hourly load: its devices' interface traffic summed, else their mean CPU
    (at most MAX_SERIES series read: a viewer's question must not read a whole fleet)."""
    placements = await asyncio.to_thread(service.inventory.target_placements)
    names = [name for name, _, where, _, _ in placements if where == site][:MAX_DEVICES]
    traffic: list[tuple[str, str]] = []
    cpu: list[tuple[str, str]] = []
    for name in names:
        for _, _, metric in await service.series(name):
            base, _ = split_series(metric)
            if base in _TRAFFIC:
                traffic.append((name, metric))
            elif base == CPU_PERCENT:
                cpu.append((name, metric))
    chosen, what = (traffic, "traffic") if traffic else (cpu, "CPU")
    if not chosen:
        return None
    # the store's buckets start at start_ns: from a local full hour, each bucket is one
    # local hour (also in +05:30 zones), not the end of one and the start of the next
    local = since.astimezone(zone)
    first = since - timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )
    start_ns, end_ns = int(first.timestamp() * 1e9), int(now.timestamp() * 1e9)
    hours: dict[int, list[float]] = defaultdict(list)
    for name, metric in chosen[:MAX_SERIES]:
        for p in await service.points(name, metric, start_ns, end_ns, 3600.0, "avg"):
            hours[p.ts_ns].append(p.value)
    # traffic adds up over interfaces and devices; CPU percentages are averaged
    combine = sum if what == "traffic" else (lambda v: sum(v) / len(v))
    return load_profile(((_at(h), combine(v)) for h, v in hours.items()), zone, what)


def _at(ts_ns: int) -> datetime:
    """A bucket's start as an instant (its middle would do as well: it starts a local hour)."""
    return datetime.fromtimestamp(ts_ns / 1e9, UTC)


__all__ = ["Answer", "recommend"]
