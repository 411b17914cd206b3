"""The health score: 0–100 per device, destination and site, from components with evidence.

Formula version 1 (:data:`FORMULA_VERSION`). Every component has a maximum of points
(together 100) and turns one measured number into a fraction of its maximum by a straight
line between a "good" and a "bad" level (:func:`ramp`): at or better than good, all of its
points; at or worse than bad, none; in between, in proportion.

==================  ===  ===============================================  ========  ========
component           max  the number                                       good      bad
==================  ===  ===============================================  ========  ========
availability_24h     25  up samples / all status samples, last 24 h, %    100       90
availability_7d      15  the same over the last 7 days, %                 100       90
flapping             10  state changes in the last 24 h                   0         10
resources            10  mean of the hourly averages of cpu_percent and   70        95
                         memory_percent over 24 h (each its own ramp;
                         the component is the mean of the two fractions)
disk                 10  per mount: 0.6 × ramp(level; 80, 95) + 0.4 ×     80 % /    95 % /
                         ramp(days until full; 30, 3); the worst mount    30 d      3 d
temperature           5  the hottest sensor's highest hourly average,     60 °C     85 °C
                         24 h
error_rate            5  error-log entries naming the target, 24 h        0         10
                         (scored when it has status samples in 24 h)
job_failures         10  failed / all per-target outcomes in job runs,    0         0.5
                         7 days (runs of up to 50 targets: a bigger run
                         keeps only its failures)
latency_loss         10  latency: newest hour's average / the median of   1.2× /    3× /
                         the hourly averages before it (7 d, ≥ 24 h);     +1 pt     +20 pt
                         loss: newest hour's average − that median, in
                         percentage points; the mean of the two fractions
==================  ===  ===============================================  ========  ========

Missing data: a component without the data it needs (a device without a temperature sensor,
a destination's cpu, a latency without 24 hours of history) is *not scored*: it shows why,
and the score is re-normalised over the components that are scored::

    score = 100 × Σ points(scored) / Σ max(scored)

then capped at the 24 h availability in percent (a target up 40 % of the day scores at most
40, however good the rest). No scored component at all: no score (None), never a guess.

A destination is probed, not polled: its failed checks *are* its downtime, so job_failures
and error_rate are not applicable to it (the availability components count them once).

A site's score is the mean of its targets' scores weighted by each target's coverage (the
scored maximum / 100: a target scored on little data weighs less), with the worst target
named. Targets without a score are listed, not counted.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

FORMULA_VERSION = "1"
Kind = Literal["device", "destination"]
Data = Mapping[str, float | int | str | None]

MAX_POINTS: dict[str, float] = {
    "availability_24h": 25.0,
    "availability_7d": 15.0,
    "flapping": 10.0,
    "resources": 10.0,
    "disk": 10.0,
    "temperature": 5.0,
    "error_rate": 5.0,
    "job_failures": 10.0,
    "latency_loss": 10.0,
}
# (good, bad) of each ramp, the table in the module's docstring
AVAILABILITY = (100.0, 90.0)
FLAPS = (0.0, 10.0)
RESOURCE = (70.0, 95.0)
DISK_LEVEL = (80.0, 95.0)
DISK_DAYS = (30.0, 3.0)
DISK_LEVEL_SHARE = 0.6
TEMPERATURE = (60.0, 85.0)
ERRORS = (0.0, 10.0)
JOB_FAILED = (0.0, 0.5)
LATENCY_RATIO = (1.2, 3.0)
LOSS_EXCESS = (1.0, 20.0)
MIN_BASELINE_HOURS = 24
DESTINATION_SKIPS = {
    "job_failures": "not applicable to a destination: its failed checks are its downtime",
    "error_rate": "not applicable to a destination: its failed checks are its downtime",
}


def ramp(value: float, good: float, bad: float) -> float:
    """The fraction of a component's points ``value`` earns: 1 at ``good`` or better, 0 at
    ``bad`` or worse, linear between (``good`` may be above or below ``bad``)."""
    fraction = (value - bad) / (good - bad)
    return min(1.0, max(0.0, fraction))


@dataclass(frozen=True, slots=True)
class Bucket:
    """One hour of a series: its average and how many samples it holds."""

    value: float
    count: int = 1


@dataclass(frozen=True, slots=True)
class HealthInputs:
    """What the formula reads about one target, as plain numbers (None or empty: no data).

    Hourly buckets are oldest first; the ``_24h`` ones cover the last 24 hours, the others
    the last 7 days (the newest hour may be partial)."""

    kind: Kind
    status_24h: Sequence[Bucket] = ()  # averages of 1 (up) / 0 (down) samples
    status_7d: Sequence[Bucket] = ()
    changes_24h: int | None = None
    cpu_24h: Sequence[float] = ()
    memory_24h: Sequence[float] = ()
    disks_7d: Mapping[str, Sequence[tuple[float, float]]] = field(default_factory=dict)
    temperatures_24h: Mapping[str, Sequence[float]] = field(default_factory=dict)
    errors_24h: int | None = None
    job_outcomes_7d: tuple[int, int] | None = None  # (ok, failed)
    latency_7d: Sequence[float] = ()  # hourly averages, the newest last
    loss_7d: Sequence[float] = ()


@dataclass(frozen=True, slots=True)
class Component:
    """One component's verdict: points of ``max_points`` (None: not scored, ``evidence`` says
    why), the evidence in words and the numbers behind it."""

    name: str
    max_points: float
    points: float | None
    evidence: str
    data: Data = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        """Whether the component had the data it needs."""
        return self.points is not None


@dataclass(frozen=True, slots=True)
class Health:
    """A target's score (None without any scored component) and its components."""

    score: float | None
    components: tuple[Component, ...]
    version: str = FORMULA_VERSION
    capped_by: float | None = None  # the 24 h availability when it lowered the score

    @property
    def coverage(self) -> float:
        """The scored share of the 100 points, 0–1."""
        return sum(c.max_points for c in self.components if c.scored) / 100.0


def _unscored(name: str, why: str) -> Component:
    return Component(name, MAX_POINTS[name], None, why)


def _scored(name: str, fraction: float, evidence: str, data: Data) -> Component:
    """``name`` with ``fraction`` of its points, the evidence and its figures."""
    return Component(name, MAX_POINTS[name], round(MAX_POINTS[name] * fraction, 4), evidence, data)


def availability_percent(buckets: Sequence[Bucket]) -> float | None:
    """Up samples / all samples in percent (hours weighted by their sample counts)."""
    total = sum(b.count for b in buckets)
    if total == 0:
        return None
    return 100.0 * sum(b.value * b.count for b in buckets) / total


def availability(name: str, buckets: Sequence[Bucket], span: str) -> Component:
    """availability_24h / availability_7d."""
    percent = availability_percent(buckets)
    if percent is None:
        return _unscored(name, f"no status samples in the last {span}")
    samples = sum(b.count for b in buckets)
    fraction = ramp(percent, *AVAILABILITY)
    evidence = f"up {percent:.2f} % of {samples} status samples in the last {span}"
    return _scored(
        name, fraction, evidence, {"availability_percent": round(percent, 4), "samples": samples}
    )


def flapping(changes: int | None) -> Component:
    """State changes in the last 24 h."""
    if changes is None:
        return _unscored("flapping", "no state history in the last 24 h")
    evidence = f"{changes} state change{'s' if changes != 1 else ''} in the last 24 h"
    return _scored("flapping", ramp(changes, *FLAPS), evidence, {"changes": changes})


def resources(cpu: Sequence[float], memory: Sequence[float]) -> Component:
    """CPU and memory pressure: each metric's 24 h mean against 70 / 95 %."""
    parts = {name: values for name, values in (("cpu", cpu), ("memory", memory)) if values}
    if not parts:
        return _unscored("resources", "no cpu_percent or memory_percent in the last 24 h")
    means = {name: statistics.fmean(values) for name, values in parts.items()}
    fraction = statistics.fmean(ramp(mean, *RESOURCE) for mean in means.values())
    words = ", ".join(f"{name} {mean:.1f} %" for name, mean in means.items())
    evidence = (
        f"24 h mean {words} (full points up to {RESOURCE[0]:g} %, none from {RESOURCE[1]:g} %)"
    )
    data = {f"{name}_mean_percent": round(mean, 4) for name, mean in means.items()}
    return _scored("resources", fraction, evidence, data)


def slope_per_day(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (day, value) points; None with fewer than 2 distinct days."""
    if len(points) < 2:
        return None
    xs = [x for x, _ in points]
    mx, my = statistics.fmean(xs), statistics.fmean(y for _, y in points)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def mount_fraction(points: Sequence[tuple[float, float]]) -> tuple[float, Data]:
    """One mount's fraction: 0.6 × level ramp + 0.4 × days-until-full ramp (level alone
    when there is no trend yet), and its numbers."""
    level = points[-1][1]
    level_fraction = ramp(level, *DISK_LEVEL)
    slope = slope_per_day(points)
    if slope is None:
        return level_fraction, {"level_percent": level, "slope_per_day": None, "days_to_full": None}
    days = (100.0 - level) / slope if slope > 0 else math.inf
    trend_fraction = ramp(days, *DISK_DAYS)
    fraction = DISK_LEVEL_SHARE * level_fraction + (1 - DISK_LEVEL_SHARE) * trend_fraction
    shown_days = None if math.isinf(days) else round(days, 4)
    return fraction, {
        "level_percent": level,
        "slope_per_day": round(slope, 6),
        "days_to_full": shown_days,
    }


def disk(mounts: Mapping[str, Sequence[tuple[float, float]]]) -> Component:
    """The worst mount's level and trend."""
    known = {mount: points for mount, points in mounts.items() if points}
    if not known:
        return _unscored("disk", "no disk_percent in the last 7 days")
    judged = {mount: mount_fraction(points) for mount, points in known.items()}
    worst = min(judged, key=lambda mount: (judged[mount][0], mount))
    fraction, data = judged[worst]
    days = data["days_to_full"]
    trend = (
        "no trend yet"
        if data["slope_per_day"] is None
        else (
            f"full in {days:.1f} days at {data['slope_per_day']:+.2f} %/day"
            if days is not None
            else f"not filling ({data['slope_per_day']:+.2f} %/day)"
        )
    )
    evidence = f"worst mount {worst}: {data['level_percent']:.1f} % used, {trend}"
    return _scored("disk", fraction, evidence, {"mount": worst, **data, "mounts": len(known)})


def temperature(sensors: Mapping[str, Sequence[float]]) -> Component:
    """The hottest sensor's highest hourly average in 24 h."""
    known = {sensor: max(values) for sensor, values in sensors.items() if values}
    if not known:
        return _unscored("temperature", "no temperature_celsius in the last 24 h")
    hottest = max(known, key=lambda sensor: (known[sensor], sensor))
    value = known[hottest]
    evidence = f"hottest sensor {hottest}: {value:.1f} °C (highest hourly average, 24 h)"
    return _scored(
        "temperature",
        ramp(value, *TEMPERATURE),
        evidence,
        {"sensor": hottest, "celsius": round(value, 4)},
    )


def error_rate(errors: int | None) -> Component:
    """Error-log entries naming the target in 24 h."""
    if errors is None:
        return _unscored("error_rate", "not checked in the last 24 h (no status sample)")
    evidence = f"{errors} error-log entr{'y' if errors == 1 else 'ies'} in the last 24 h"
    return _scored("error_rate", ramp(errors, *ERRORS), evidence, {"errors": errors})


def job_failures(outcomes: tuple[int, int] | None) -> Component:
    """Failed share of the target's outcomes in job runs over 7 days."""
    if outcomes is None or sum(outcomes) == 0:
        return _unscored("job_failures", "no job-run outcome in the last 7 days")
    ok, failed = outcomes
    share = failed / (ok + failed)
    evidence = f"{failed} of {ok + failed} job-run outcomes failed in the last 7 days"
    return _scored(
        "job_failures",
        ramp(share, *JOB_FAILED),
        evidence,
        {"failed": failed, "total": ok + failed, "share": round(share, 6)},
    )


def _recent_and_baseline(hours: Sequence[float]) -> tuple[float, float] | None:
    """(the newest hour, the median of the hours before it) with ≥ 24 hours before it."""
    if len(hours) < MIN_BASELINE_HOURS + 1:
        return None
    return hours[-1], statistics.median(hours[:-1])


def latency_loss(latency: Sequence[float], loss: Sequence[float]) -> Component:
    """The newest hour against the target's own baseline (median of its earlier hours)."""
    fractions: list[float] = []
    words: list[str] = []
    data: dict[str, float | int | str | None] = {}
    lat = _recent_and_baseline(latency)
    if lat is not None and lat[1] > 0:
        ratio = lat[0] / lat[1]
        fractions.append(ramp(ratio, *LATENCY_RATIO))
        words.append(f"latency {lat[0]:.2f} ms vs baseline {lat[1]:.2f} ms ({ratio:.2f}×)")
        data.update(
            latency_ms=round(lat[0], 4),
            latency_baseline_ms=round(lat[1], 4),
            latency_ratio=round(ratio, 6),
        )
    los = _recent_and_baseline(loss)
    if los is not None:
        excess = los[0] - los[1]
        fractions.append(ramp(excess, *LOSS_EXCESS))
        words.append(f"loss {los[0]:.1f} % vs baseline {los[1]:.1f} %")
        data.update(
            loss_percent=round(los[0], 4),
            loss_baseline_percent=round(los[1], 4),
            loss_excess_points=round(excess, 4),
        )
    if not fractions:
        why = f"fewer than {MIN_BASELINE_HOURS + 1} hours of latency/loss: no baseline yet"
        return _unscored("latency_loss", why)
    why = "; ".join(words) + " (newest hour vs median of the earlier hours)"
    return _scored("latency_loss", statistics.fmean(fractions), why, data)


def components(inputs: HealthInputs) -> tuple[Component, ...]:
    """Every component of the formula, in the table's order."""
    found = [
        availability("availability_24h", inputs.status_24h, "24 h"),
        availability("availability_7d", inputs.status_7d, "7 days"),
        flapping(inputs.changes_24h),
        resources(inputs.cpu_24h, inputs.memory_24h),
        disk(inputs.disks_7d),
        temperature(inputs.temperatures_24h),
        error_rate(inputs.errors_24h),
        job_failures(inputs.job_outcomes_7d),
        latency_loss(inputs.latency_7d, inputs.loss_7d),
    ]
    if inputs.kind == "destination":
        found = [
            _unscored(c.name, DESTINATION_SKIPS[c.name]) if c.name in DESTINATION_SKIPS else c
            for c in found
        ]
    return tuple(found)


def score(inputs: HealthInputs) -> Health:
    """The score of one target: re-normalised over scored components, capped by the 24 h
    availability (see the module's docstring)."""
    parts = components(inputs)
    scored = [c for c in parts if c.points is not None]
    if not scored:
        return Health(None, parts)
    raw = 100.0 * sum(c.points or 0.0 for c in scored) / sum(c.max_points for c in scored)
    cap = availability_percent(inputs.status_24h)
    value = raw if cap is None else min(raw, cap)
    capped = cap if cap is not None and cap < raw else None
    return Health(round(value, 2), parts, capped_by=capped)


@dataclass(frozen=True, slots=True)
class SiteHealth:
    """A site's score: its targets' scores weighted by coverage, the worst one named."""

    score: float | None
    targets: int
    scored: int
    worst: str | None
    worst_score: float | None
    unscored: tuple[str, ...] = ()
    version: str = FORMULA_VERSION


def site_score(members: Mapping[str, Health]) -> SiteHealth:
    """Σ coverage × score / Σ coverage over the members with a score."""
    scored = {name: h for name, h in members.items() if h.score is not None and h.coverage > 0}
    unscored = tuple(sorted(set(members) - set(scored)))
    if not scored:
        return SiteHealth(None, len(members), 0, None, None, unscored)
    weight = sum(h.coverage for h in scored.values())
    value = sum(h.coverage * (h.score or 0.0) for h in scored.values()) / weight
    worst = min(scored, key=lambda name: (scored[name].score or 0.0, name))
    return SiteHealth(
        round(value, 2), len(members), len(scored), worst, scored[worst].score, unscored
    )


__all__ = [
    "FORMULA_VERSION",
    "MAX_POINTS",
    "Bucket",
    "Component",
    "Health",
    "HealthInputs",
    "SiteHealth",
    "availability_percent",
    "components",
    "ramp",
    "score",
    "site_score",
]
