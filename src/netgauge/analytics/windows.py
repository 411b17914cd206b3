"""Best windows: where, in the next 14 days, to run a job (or a maintenance task) at a site.

Three inputs, all plain values (the service gathers them, ``windows_service``):

* the **allowed** stretches: the site calendar's own segments (``Calendar.timeline``) kept
  where the job may run (``runs_in``: its ``run_when`` and ``maintenance``), cut to the
  job's own time window (``TimeWindow.occurrence_spans``); nothing here re-decides what
  the calendar says;
* a **load profile**: mean load per local hour-of-week (168 slots, Monday 00:00 first),
  e.g. the site's summed interface traffic, with the number of weeks behind each slot;
* a **failure profile**: runs and failed runs per local hour-of-week.

A candidate window lasts ``duration`` (exact: 2 h is 2 h across a DST change), lies wholly
inside one allowed stretch, and starts at the stretch's start or at a local full hour.
Its cost is the time-weighted mean over the hour-of-week slots it covers of::

    cost(slot) = w_load * load(slot) / mean_load + w_fail * rate(slot) / pooled_rate
    rate(slot) = (failed(slot) + PRIOR_RUNS * pooled_rate) / (runs(slot) + PRIOR_RUNS)

so 1.0 is "an average hour" and lower is better. ``rate`` is the slot's failure rate
shrunk toward the pooled rate (a Beta prior worth ``PRIOR_RUNS`` runs): one failure in
two runs is not a 50 % hour. The windows are ranked by cost, earliest first on ties, and
chosen greedily without overlap. Confidence is ``min(weeks / FULL_WEEKS, 1)`` for the load
(the fewest weeks behind any covered slot) and ``runs / (runs + HALF_RUNS)`` for the
failures (runs counted in the covered slots), the smaller of the two present.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from netgauge.scheduler.window import TimeWindow
from netgauge.schedules.calendar import Segment, SiteState

SLOTS = 7 * 24  # hours of a week, Monday 00:00 local first
HORIZON = timedelta(days=14)
PRIOR_RUNS = 8.0  # weight of the pooled failure rate in each slot's rate, in runs
FULL_WEEKS = 4.0  # weeks of load history for full confidence in a slot
HALF_RUNS = 10.0  # runs counted for a failure confidence of one half
HOUR = timedelta(hours=1)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """Mean load per local hour-of-week (None: no data) and the weeks behind each slot."""

    values: tuple[float | None, ...]
    weeks: tuple[int, ...]
    what: str = "traffic"  # said in reasons: "3 % of weekly traffic"


@dataclass(frozen=True, slots=True)
class FailureProfile:
    """Runs and failed runs per local hour-of-week."""

    runs: tuple[int, ...]
    failed: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Weights:
    """How much load and failures count in a window's cost (each term is 1.0 on average)."""

    load: float = 0.5
    fail: float = 0.5


@dataclass(frozen=True, slots=True)
class Proposal:
    """One recommended window."""

    start: datetime  # UTC
    end: datetime
    local_start: datetime  # the site's zone
    local_end: datetime
    cost: float  # 1.0 = an average hour of the week; lower is better
    score: float  # 0-100: 100 the cheapest allowed window of the horizon, 0 the dearest
    confidence: float  # 0-1
    load_share: float | None  # share of the weekly load falling in the window, 0-1
    runs: int  # past runs counted in the window's hour-of-week slots
    failed: int
    states: tuple[str, ...]  # what the site is in the window, in words
    reason: str

    @property
    def confidence_label(self) -> str:
        """high (>= 0.75), medium (>= 0.4) or low."""
        return "high" if self.confidence >= 0.75 else "medium" if self.confidence >= 0.4 else "low"


# -- building the inputs from plain history --------------------------------------------------
def slot_of(at: datetime, zone: ZoneInfo) -> int:
    """The local hour-of-week of an aware instant (Monday 00:00-01:00 is 0)."""
    local = at.astimezone(zone)
    return local.weekday() * 24 + local.hour


def _week_of(at: datetime, zone: ZoneInfo) -> tuple[int, int]:
    year, week, _ = at.astimezone(zone).isocalendar()
    return year, week


def load_profile(
    points: Iterable[tuple[datetime, float]], zone: ZoneInfo, what: str = "traffic"
) -> LoadProfile:
    """Hourly load readings (the site's summed series per hour) as a weekly profile: the
    mean of each (week, slot), then the mean over weeks, so a week with more samples does
    not weigh more."""
    cells: dict[tuple[int, tuple[int, int]], list[float]] = defaultdict(list)
    for at, value in points:
        cells[(slot_of(at, zone), _week_of(at, zone))].append(value)
    per_slot: dict[int, list[float]] = defaultdict(list)
    for (slot, _), values in cells.items():
        per_slot[slot].append(sum(values) / len(values))
    means = tuple(
        (sum(per_slot[s]) / len(per_slot[s])) if per_slot[s] else None for s in range(SLOTS)
    )
    return LoadProfile(means, tuple(len(per_slot[s]) for s in range(SLOTS)), what)


def failure_profile(runs: Iterable[tuple[datetime, bool]], zone: ZoneInfo) -> FailureProfile:
    """Runs (started at, failed?) counted per local hour-of-week."""
    counted, failed = [0] * SLOTS, [0] * SLOTS
    for at, bad in runs:
        slot = slot_of(at, zone)
        counted[slot] += 1
        failed[slot] += int(bad)
    return FailureProfile(tuple(counted), tuple(failed))


def window_spans(
    window: TimeWindow, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The UTC spans of a job's time window overlapping [start, end) (its own occurrences,
    midnight and DST rules of scheduler/window.py)."""
    first = window.local_date(start) - timedelta(days=1)  # an occurrence crossing midnight
    spans: list[tuple[datetime, datetime]] = []
    day = first
    while day <= window.local_date(end):
        for a, b in window.occurrence_spans(day):
            if a < end and b > start:
                spans.append((max(a, start), min(b, end)))
        day += timedelta(days=1)
    return sorted(spans)


def allowed_segments(
    segments: Sequence[Segment],
    allows: Callable[[SiteState], bool],
    start: datetime,
    end: datetime,
    spans: Sequence[tuple[datetime, datetime]] | None = None,
) -> list[Segment]:
    """The calendar's segments cut to [start, end), kept when ``allows`` their state (e.g.
    ``runs_in`` of the job), intersected with ``spans`` (a job's own window; None: none)."""
    out: list[Segment] = []
    for seg in segments:
        if not allows(seg.state):
            continue
        for a, b in spans if spans is not None else [(start, end)]:
            lo, hi = max(seg.start, a, start), min(seg.end, b, end)
            if lo < hi:
                out.append(Segment(lo, hi, seg.state))
    return sorted(out, key=lambda s: s.start)


# -- the ranking -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Costs:
    """Per-slot cost terms, ready to integrate over a window."""

    per_slot: tuple[float, ...]
    load_rel: tuple[float, ...] | None


def _costs(load: LoadProfile | None, failures: FailureProfile | None, w: Weights) -> _Costs:
    load_rel = _load_terms(load)
    fail_rel = _fail_terms(failures)
    w_load = w.load if load_rel is not None else 0.0
    w_fail = w.fail if fail_rel is not None else 0.0
    per_slot = tuple(
        w_load * (load_rel[s] if load_rel else 0.0) + w_fail * (fail_rel[s] if fail_rel else 0.0)
        for s in range(SLOTS)
    )
    return _Costs(per_slot, load_rel)


def _load_terms(load: LoadProfile | None) -> tuple[float, ...] | None:
    """load / mean load per slot; a slot without data counts as average."""
    if load is None:
        return None
    known = [v for v in load.values if v is not None]
    mean = sum(known) / len(known) if known else 0.0
    if mean <= 0:
        return None  # no load, or none known: it cannot tell hours apart
    return tuple(1.0 if v is None else v / mean for v in load.values)


def _fail_terms(failures: FailureProfile | None) -> tuple[float, ...] | None:
    """shrunk failure rate / pooled rate per slot (None without runs or without failures:
    every hour is then alike)."""
    if failures is None:
        return None
    runs, failed = sum(failures.runs), sum(failures.failed)
    if runs == 0 or failed == 0:
        return None
    pooled = failed / runs
    return tuple(
        (f + PRIOR_RUNS * pooled) / (n + PRIOR_RUNS) / pooled
        for n, f in zip(failures.runs, failures.failed, strict=True)
    )


def _pieces(start: datetime, end: datetime, zone: ZoneInfo) -> Iterable[tuple[int, float]]:
    """(slot, seconds) of [start, end), cut at local full hours."""
    at = start
    while at < end:
        local = at.astimezone(zone)
        to_hour = timedelta(minutes=60 - local.minute) - timedelta(
            seconds=local.second, microseconds=local.microsecond
        )
        nxt = min(at + to_hour, end)
        yield local.weekday() * 24 + local.hour, (nxt - at).total_seconds()
        at = nxt


def candidates(
    allowed: Sequence[Segment], duration: timedelta, zone: ZoneInfo, now: datetime
) -> Iterable[tuple[datetime, datetime]]:
    """Windows of ``duration`` wholly inside one stretch of adjacent allowed segments,
    starting at the stretch's start (unless that is just ``now``) or at a local full hour."""
    for a, b in _stretches(allowed):
        starts = set() if a == now else {a}
        at = _next_full_hour(a, zone)
        while at + duration <= b:
            starts.add(at)
            at += HOUR
        yield from ((s, s + duration) for s in sorted(starts) if s + duration <= b)


def _stretches(allowed: Sequence[Segment]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for seg in allowed:
        if merged and merged[-1][1] >= seg.start:
            merged[-1] = (merged[-1][0], max(merged[-1][1], seg.end))
        else:
            merged.append((seg.start, seg.end))
    return merged


def _next_full_hour(at: datetime, zone: ZoneInfo) -> datetime:
    local = at.astimezone(zone)
    if local.minute == 0 and local.second == 0 and local.microsecond == 0:
        return at
    return (
        at
        + timedelta(minutes=60 - local.minute)
        - timedelta(seconds=local.second, microseconds=local.microsecond)
    )


def best_windows(
    allowed: Sequence[Segment],
    zone: ZoneInfo,
    duration: timedelta,
    now: datetime,
    load: LoadProfile | None = None,
    failures: FailureProfile | None = None,
    limit: int = 10,
    weights: Weights | None = None,
) -> list[Proposal]:
    """The ``limit`` cheapest non-overlapping windows of ``duration`` inside ``allowed``
    (segments already cut to the horizon), ranked by cost (module docstring)."""
    costs = _costs(load, failures, weights or Weights())
    scored = []
    for start, end in candidates(allowed, duration, zone, now.astimezone(UTC)):
        pieces = list(_pieces(start, end, zone))
        seconds = sum(s for _, s in pieces)
        cost = sum(costs.per_slot[slot] * s for slot, s in pieces) / seconds
        scored.append((cost, start, end, pieces))
    if not scored:
        return []
    best, worst = min(c[0] for c in scored), max(c[0] for c in scored)
    scored.sort(key=lambda c: (c[0], c[1]))
    chosen: list[Proposal] = []
    for cost, start, end, pieces in scored:
        if len(chosen) >= limit:
            break
        if any(start < p.end and p.start < end for p in chosen):
            continue
        score = 100.0 if worst == best else 100.0 * (worst - cost) / (worst - best)
        chosen.append(
            _proposal(start, end, cost, score, pieces, allowed, zone, load, failures, costs)
        )
    return chosen


def _proposal(
    start: datetime,
    end: datetime,
    cost: float,
    score: float,
    pieces: list[tuple[int, float]],
    allowed: Sequence[Segment],
    zone: ZoneInfo,
    load: LoadProfile | None,
    failures: FailureProfile | None,
    costs: _Costs,
) -> Proposal:
    slots = sorted({slot for slot, _ in pieces})
    share = None
    if costs.load_rel is not None:  # a slot without data counts as an average hour
        used = sum(costs.load_rel[s] * sec for s, sec in pieces) / 3600.0
        share = used / sum(costs.load_rel)
    runs = sum(failures.runs[s] for s in slots) if failures else 0
    failed = sum(failures.failed[s] for s in slots) if failures else 0
    states = _states(allowed, start, end)
    confidence = _confidence(load, failures, slots, runs)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    reason = _reason(local_start, local_end, states, share, load, runs, failed, failures)
    return Proposal(
        start, end, local_start, local_end, round(cost, 4), round(score, 1),
        round(confidence, 3), share, runs, failed, states, reason,
    )  # fmt: skip


def _confidence(
    load: LoadProfile | None, failures: FailureProfile | None, slots: list[int], runs: int
) -> float:
    parts = []
    if load is not None and any(v is not None for v in load.values):
        parts.append(min(min(load.weeks[s] for s in slots) / FULL_WEEKS, 1.0))
    if failures is not None and sum(failures.runs) > 0:
        parts.append(runs / (runs + HALF_RUNS))
    return min(parts) if parts else 0.0


def state_words(state: SiteState) -> str:
    """What the site is, as a reason says it."""
    if state.maintenance is not None:
        return f"in maintenance {state.maintenance.name!r}"
    if state.holiday is not None:
        return f"closed (holiday: {state.holiday})"
    if state.peak:
        return "at peak"
    return "open" if state.open else "closed"


def _states(allowed: Sequence[Segment], start: datetime, end: datetime) -> tuple[str, ...]:
    words: list[str] = []
    for seg in allowed:
        if seg.start < end and start < seg.end:
            said = state_words(seg.state)
            if not words or words[-1] != said:
                words.append(said)
    return tuple(words)


def _reason(
    local_start: datetime,
    local_end: datetime,
    states: tuple[str, ...],
    share: float | None,
    load: LoadProfile | None,
    runs: int,
    failed: int,
    failures: FailureProfile | None,
) -> str:
    """``Sun 02:00–04:00: site closed, 3 % of weekly traffic, 0 of 41 runs failed``."""
    span = f"{_DAYS[local_start.weekday()]} {local_start:%H:%M}–"
    if local_end.date() != local_start.date() and local_end.time() != datetime.min.time():
        span += f"{_DAYS[local_end.weekday()]} "
    span += f"{local_end:%H:%M}"
    said = [f"site {' then '.join(states)}" if states else "site calendar allows it"]
    if share is not None and load is not None:
        said.append(f"{_percent(share)} of weekly {load.what}")
    elif load is None or all(v is None for v in load.values):
        said.append("no load history")
    if failures is not None and sum(failures.runs) > 0:
        said.append(f"{failed} of {runs} runs failed")
    else:
        said.append("no run history")
    return f"{span}: {', '.join(said)}"


def _percent(share: float) -> str:
    value = share * 100
    return f"{value:.0f} %" if value >= 1 or value == 0 else f"{value:.1f} %"


__all__ = [
    "HORIZON",
    "SLOTS",
    "FailureProfile",
    "LoadProfile",
    "Proposal",
    "Weights",
    "allowed_segments",
    "best_windows",
    "candidates",
    "failure_profile",
    "load_profile",
    "slot_of",
    "state_words",
    "window_spans",
]
