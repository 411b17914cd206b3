"""Best windows: regret against the best window in hindsight, and windows inside the rules.

    PYTHONPATH=src .venv/bin/python bench/analytics_windows.py [--sites 300] [--seed 7]

Each synthetic site has a generator's truth: a weekly load per local hour-of-week (open
hours and peaks, a nightly backup burst, an idle night) and a failure hazard per
hour-of-week (a base rate and a few bad hours: a backup, a batch job, a link that drops).
A history of 2-12 weeks is sampled from them (hourly load with lognormal noise, 1-4 runs an
hour failing with the hour's hazard). The site has a calendar (zone, opening hours,
sometimes crossing midnight, peaks, a weekly maintenance window, holidays; "now" is put
near a DST change for a third of the sites) and the job a ``run_when`` and a duration.

For each site, the recommendation (rank 1) is compared with every allowed window of the
next 14 days on the same start grid, all valued by the *truth*:

    true cost = 0.5 * L(w) / mean L + 0.5 * h(w) / mean h  (time-weighted over the window)

regret ratio = true cost of the pick / true cost of the best in hindsight (1.0 = best).
Beside it, two plain habits: "always Sunday 02:00 local" and "the first allowed window".
Inside-ness is checked every 5 minutes of each pick with the calendar's ``state_at`` and
the job's ``run_when`` (not with the segments the ranking used).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from netgauge.analytics.windows import (  # noqa: E402
    HORIZON,
    SLOTS,
    allowed_segments,
    best_windows,
    candidates,
    failure_profile,
    load_profile,
)
from netgauge.config.schedules import ScheduleConfig  # noqa: E402
from netgauge.schedules.calendar import Calendar  # noqa: E402
from netgauge.schedules.sites import runs_in  # noqa: E402

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC")
# near DST changes (Europe 29 Mar / 25 Oct 2026, US 8 Mar / 1 Nov, Sydney 5 Apr / 4 Oct)
DST_NOWS = ("2026-03-20", "2026-10-20", "2026-03-01", "2026-10-27", "2026-03-30", "2026-09-28")
STEP = timedelta(minutes=5)


@dataclass
class Site:
    """One synthetic site: its calendar, the truth, and the job to place."""

    calendar: Calendar
    load: list[float]
    hazard: list[float]
    run_when: str
    duration: timedelta
    now: datetime
    weeks: int
    runs_per_hour: int


def _schedule(rng: random.Random, name: str) -> ScheduleConfig:
    kind = rng.choice(("office", "shop", "night", "always"))
    open_hours = {
        "office": [{"days": "weekdays", "start": "08:00", "end": "18:00"}],
        "shop": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "start": "09:00",
                  "end": "21:00"}],
        "night": [{"days": "daily", "start": "20:00", "end": "06:00"}],  # crosses midnight
        "always": [],
    }[kind]  # fmt: skip
    peak = {
        "office": [{"days": "weekdays", "start": "10:00", "end": "12:00"}],
        "shop": [{"days": "sat", "start": "11:00", "end": "16:00"}],
        "night": [{"days": "fri", "start": "22:00", "end": "02:00"}],
        "always": [{"days": "weekdays", "start": "09:00", "end": "17:00"}],
    }[kind]
    spec: dict[str, object] = {"name": name, "open": open_hours, "peak": peak}
    if rng.random() < 0.6:
        hour = rng.choice((1, 2, 3))
        spec["maintenance"] = [
            {"name": "patch", "rrule": "FREQ=WEEKLY;BYDAY=SU", "start": f"2026-01-04 0{hour}:00",
             "duration": "3h"}
        ]  # fmt: skip
    if rng.random() < 0.5:
        spec["holidays"] = {"dates": [f"2026-{m:02d}-{d:02d}" for m, d in ((3, 25), (10, 29))]}
    return ScheduleConfig.model_validate(spec)


def _truth(rng: random.Random, cal: Calendar, monday: datetime) -> tuple[list[float], list[float]]:
    """Load and hazard per local hour-of-week, from the calendar's shape plus bursts."""
    load, hazard = [], []
    base_h = rng.uniform(0.01, 0.08)
    for slot in range(SLOTS):
        at = (monday + timedelta(hours=slot, minutes=30)).astimezone(UTC)
        state = cal.state_at(at)
        level = (
            1.0
            + (rng.uniform(4, 8) if state.open else 0)
            + (rng.uniform(3, 6) if state.peak else 0)
        )
        load.append(level * rng.uniform(0.8, 1.2))
        hazard.append(base_h)
    for _ in range(rng.randint(1, 3)):  # backup bursts: heavy traffic some nights
        start, width = rng.randrange(SLOTS), rng.randint(1, 3)
        for k in range(width):
            load[(start + k) % SLOTS] += rng.uniform(3, 10)
    for _ in range(rng.randint(1, 4)):  # bad hours: a job clashes, a link drops
        start, width = rng.randrange(SLOTS), rng.randint(1, 4)
        for k in range(width):
            hazard[(start + k) % SLOTS] = min(
                0.9, hazard[(start + k) % SLOTS] + rng.uniform(0.15, 0.6)
            )
    return load, hazard


def make_site(rng: random.Random, n: int) -> Site:
    zone = rng.choice(ZONES)
    cal = Calendar(_schedule(rng, f"s{n}"), zone)
    day = (
        rng.choice(DST_NOWS)
        if rng.random() < 0.33
        else f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    )
    now = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(
        minutes=rng.randrange(24 * 60)
    )
    local = now.astimezone(cal.zone)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    load, hazard = _truth(rng, cal, monday.replace(tzinfo=None).replace(tzinfo=cal.zone))
    return Site(
        cal, load, hazard,
        rng.choice(("closed", "off_peak", "always", "closed")),
        timedelta(hours=rng.choice((1, 2, 3))),
        now, rng.choice((2, 4, 8, 12)), rng.choice((1, 2, 4)),
    )  # fmt: skip


def history(
    rng: random.Random, site: Site
) -> tuple[list[tuple[datetime, float]], list[tuple[datetime, bool]]]:
    """Hourly load samples and runs, ``weeks`` back from now, drawn from the truth."""
    zone = site.calendar.zone
    start = (site.now - timedelta(weeks=site.weeks)).replace(minute=0, second=0, microsecond=0)
    loads, runs = [], []
    at = start
    while at < site.now:
        local = at.astimezone(zone)
        slot = local.weekday() * 24 + local.hour
        loads.append((at, site.load[slot] * rng.lognormvariate(0, 0.3)))
        for k in range(site.runs_per_hour):
            runs.append(
                (
                    at + timedelta(minutes=k * 60 // site.runs_per_hour),
                    rng.random() < site.hazard[slot],
                )
            )
        at += timedelta(hours=1)
    return loads, runs


def true_cost(site: Site, start: datetime, end: datetime) -> float:
    """The truth's cost, integrated minute by minute (not with the ranking's pieces)."""
    mean_l = sum(site.load) / SLOTS
    mean_h = sum(site.hazard) / SLOTS
    zone, total, at = site.calendar.zone, 0.0, start
    minute = timedelta(minutes=1)
    while at < end:
        local = at.astimezone(zone)
        slot = local.weekday() * 24 + local.hour
        total += 0.5 * site.load[slot] / mean_l + 0.5 * site.hazard[slot] / mean_h
        at += minute
    return total / ((end - start) / minute)


def inside(site: Site, start: datetime, end: datetime) -> bool:
    """Every 5 minutes of [start, end) and its last instant allowed by the calendar."""
    if start < site.now or end > site.now + HORIZON:
        return False
    at = start
    points = []
    while at < end:
        points.append(at)
        at += STEP
    points.append(end - timedelta(microseconds=1))
    return all(runs_in(site.run_when, "mute", site.calendar.state_at(p)) for p in points)


def sunday_two(site: Site) -> tuple[datetime, datetime]:
    local = site.now.astimezone(site.calendar.zone)
    day = local.date() + timedelta(days=(6 - local.weekday()) % 7)
    start = datetime(day.year, day.month, day.day, 2, tzinfo=site.calendar.zone).astimezone(UTC)
    if start < site.now:
        start = (
            (datetime(day.year, day.month, day.day, 2) + timedelta(days=7))
            .replace(tzinfo=site.calendar.zone)
            .astimezone(UTC)
        )
    return start, start + site.duration


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    regrets: dict[str, list[float]] = {
        "netgauge": [],
        "load only": [],  # netgauge without the failure history (what it adds)
        "sunday 02:00": [],
        "first allowed": [],
    }
    by_label: dict[str, list[float]] = {"high": [], "medium": [], "low": []}
    by_weeks: dict[int, list[float]] = {}
    inside_n: dict[str, int] = dict.fromkeys(regrets, 0)
    proposals_checked = proposals_inside = 0
    skipped = 0
    spent = 0.0
    for n in range(args.sites):
        site = make_site(rng, n)
        loads, runs = history(rng, site)
        zone = site.calendar.zone
        t0 = time.process_time()
        segs = site.calendar.timeline(site.now, HORIZON.days + 1)
        allowed = allowed_segments(
            segs, partial(runs_in, site.run_when, "mute"), site.now, site.now + HORIZON
        )
        picks = best_windows(
            allowed,
            zone,
            site.duration,
            site.now,
            load_profile(loads, zone),
            failure_profile(runs, zone),
        )
        spent += time.process_time() - t0
        grid = list(candidates(allowed, site.duration, zone, site.now))
        if not grid:
            skipped += 1
            continue
        best = min(true_cost(site, a, b) for a, b in grid)
        for p in picks:
            proposals_checked += 1
            proposals_inside += inside(site, p.start, p.end)
        load_only = best_windows(
            allowed, zone, site.duration, site.now, load_profile(loads, zone), limit=1
        )
        chosen = {
            "netgauge": (picks[0].start, picks[0].end),
            "load only": (load_only[0].start, load_only[0].end),
            "sunday 02:00": sunday_two(site),
            "first allowed": min(grid),
        }
        for name, (a, b) in chosen.items():
            regrets[name].append(true_cost(site, a, b) / best)
            inside_n[name] += inside(site, a, b)
        by_label[picks[0].confidence_label].append(regrets["netgauge"][-1])
        by_weeks.setdefault(site.weeks, []).append(regrets["netgauge"][-1])
    counted = len(regrets["netgauge"])
    print(f"sites: {args.sites} ({skipped} with no allowed window skipped), seed {args.seed}")
    print(f"ranking CPU: {spent / max(counted, 1) * 1000:.1f} ms per site (calendar + ranking)")
    print(
        f"{'method':<16}{'regret p50':>12}{'regret p90':>12}{'p99':>8}{'mean':>8}"
        f"{'inside allowed':>17}"
    )
    for name, values in regrets.items():
        share = 100.0 * inside_n[name] / counted
        print(
            f"{name:<16}{pct(values, 0.5):>12.3f}{pct(values, 0.9):>12.3f}"
            f"{pct(values, 0.99):>8.3f}{statistics.fmean(values):>8.3f}{share:>16.1f}%"
        )
    print(f"all ranked windows (up to 10 per site): {proposals_inside}/{proposals_checked} inside")
    print("netgauge's regret by the confidence of its pick, and by weeks of history:")
    for key, values in [*by_label.items(), *sorted(by_weeks.items())]:
        if values:
            label = f"{key} weeks" if isinstance(key, int) else f"confidence {key}"
            print(
                f"  {label:<20} n={len(values):<4} "
                f"p50 {pct(values, 0.5):.3f}  p90 {pct(values, 0.9):.3f}"
            )


if __name__ == "__main__":
    main()
