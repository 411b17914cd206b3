"""Rolling features of one device at evaluation times, from its metrics, its state
transitions and its configuration changes.

Every feature at time ``t`` reads only what happened at or before ``t`` (never after: a
feature that peeks at the future makes a backtest lie). Times are epoch seconds (float).
The features, in :data:`FEATURES` order:

* state history: ``changes_of_state_24h``/``_7d`` (transitions of any kind: flaps),
  ``offline_episodes_7d``/``_30d`` (transitions into ``offline``), ``hours_since_offline``
  (capped at 720 h, also when never offline), ``offline_now``, ``impaired_now`` (degraded or
  flapping at ``t``), ``degraded_episodes_24h`` (transitions into ``degraded``: the device
  answers but a way of reading it fails — netgauge's error bursts);
* ``uptime_resets_24h``/``_7d``: samples of ``uptime_seconds`` lower than the one before
  (a reboot, seen or not as an outage);
* ``config_changes_24h``/``_7d``: changes in the change log that name the device;
* ``silence_hours``: hours since the newest metric sample (capped at 168; unknown for a
  device with no metric series);
* ``<event>_track_record`` for configuration changes, uptime resets and degraded episodes:
  the share of the device's past such events that an outage followed within the horizon
  (only events whose horizon has passed by t; smoothed toward 10 %), and
  ``recent_<event>_x_track_record``: that share when such an event happened within the
  last horizon, else 0 (this device fell over after its last changes, and just had one);
* ``flaps_7d``, ``hours_since_flapping`` and the flapping track record: transitions into
  ``flapping`` (a flap episode, not a single degraded blip);
* ``<event>_decay_<τ>h``: exp(-hours since the newest event / τ) for τ of 3, 12 and 48 h
  (0 when none), and ``<event>_per_day_30d``: events per day over the last 30 days or the
  part of them the device was known (:data:`DECAYING`, :data:`RATES`);
* ``memory_slope_6h``, ``temperature_slope_6h``: the least-squares slope over 6 h;
* per resource ``cpu``, ``memory``, ``disk``, ``temperature``: ``<r>_level`` (newest value
  of the last 24 h), ``<r>_slope_per_h`` (least-squares slope of the last 24 h, 3 samples
  or more), ``<r>_at_horizon`` (level + slope × horizon: where the trend leads). A device
  with several series of one metric (disks, sensors) gets the highest of each.

A value that cannot be known (no samples) is NaN; the model imputes it, the fallback skips
the rule that needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from netgauge.series import split_series

Array = npt.NDArray[np.float64]

HOUR = 3600.0
DAY = 24 * HOUR
HOURS_SINCE_CAP = 720.0
SILENCE_CAP = 168.0
LIMIT_PERCENT = 95.0  # where memory or a disk is full enough to stop a device

RESOURCES: dict[str, str] = {
    "cpu": "cpu_percent",
    "memory": "memory_percent",
    "disk": "disk_percent",
    "temperature": "temperature_celsius",
}
UPTIME = "uptime_seconds"
OFFLINE = "offline"
DEGRADED = "degraded"
FLAPPING = "flapping"
RATE_WINDOW = 30 * DAY
SHORT_WINDOW = 6 * HOUR
IMPAIRED = frozenset({"degraded", "flapping"})
STATES = frozenset({"online", "offline", "degraded", "flapping"})

DECAYING = ("offline", "config_change", "uptime_reset", "degraded", "flapping")
DECAY_HOURS = (3, 12, 48)
"""exp(-hours since the newest event / τ): a hazard that fades with time, which a linear
model cannot make out of a log of the hours alone."""
RATES = ("offline", "config_change", "uptime_reset", "flapping")
"""Events per day over the last 30 days, or over the part of them the device was known:
the device's own habits (a device that changes every other day is not one that changes
weekly), not diluted by a short history."""
FEATURES: tuple[str, ...] = (
    "changes_of_state_24h",
    "changes_of_state_7d",
    "offline_episodes_7d",
    "offline_episodes_30d",
    "hours_since_offline",
    "offline_now",
    "impaired_now",
    "degraded_episodes_24h",
    "uptime_resets_24h",
    "uptime_resets_7d",
    "config_changes_24h",
    "config_changes_7d",
    "hours_since_config_change",
    "hours_since_uptime_reset",
    "hours_since_degraded",
    "silence_hours",
    *(f"{r}_{kind}" for r in RESOURCES for kind in ("level", "slope_per_h", "at_horizon")),
    "memory_hours_to_limit",
    "disk_hours_to_limit",
    "config_change_track_record",
    "uptime_reset_track_record",
    "degraded_track_record",
    "recent_change_x_track_record",
    "recent_reset_x_track_record",
    "recent_degraded_x_track_record",
    "flaps_7d",
    "hours_since_flapping",
    "flapping_track_record",
    "recent_flapping_x_track_record",
    *(f"{e}_decay_{tau}h" for e in DECAYING for tau in DECAY_HOURS),
    *(f"{e}_per_day_30d" for e in RATES),
    "memory_slope_6h",
    "temperature_slope_6h",
)
COUNTS = frozenset(
    f
    for f in FEATURES
    if (f[-3:] in ("24h", "_7d", "30d") or f.startswith("hours_")) and "per_day" not in f
)
"""Event counts and hours since an event: the model reads them as log1p (the tenth flap
says less than the first; 2 h against 12 h since a change matters more than 100 against
110)."""


@dataclass
class DeviceHistory:
    """What is known of one device: series by stored name (``disk_percent{mount="/"}``) as
    (times, values) sorted by time, state transitions (time, state) sorted by time, and
    configuration change times."""

    metrics: dict[str, tuple[Array, Array]] = field(default_factory=dict)
    transitions: list[tuple[float, str]] = field(default_factory=list)
    changes: Array = field(default_factory=lambda: np.empty(0))

    def last_time(self) -> float | None:
        """The newest time anything of this device was seen."""
        times = [t[-1] for t, _ in self.metrics.values() if len(t)]
        times += [self.transitions[-1][0]] if self.transitions else []
        times += [float(self.changes[-1])] if len(self.changes) else []
        return max(times) if times else None

    def first_time(self) -> float | None:
        """The oldest time anything of this device was seen."""
        times = [t[0] for t, _ in self.metrics.values() if len(t)]
        times += [self.transitions[0][0]] if self.transitions else []
        times += [float(self.changes[0])] if len(self.changes) else []
        return min(times) if times else None


def history_of(
    metrics: Mapping[str, Sequence[tuple[float, float]]],
    transitions: Sequence[tuple[float, str]],
    changes: Sequence[float] = (),
) -> DeviceHistory:
    """A :class:`DeviceHistory` from plain (time, value) pairs in any order."""
    series = {}
    for name, pairs in metrics.items():
        ordered = sorted(pairs)
        times = np.array([p[0] for p in ordered], dtype=np.float64)
        values = np.array([p[1] for p in ordered], dtype=np.float64)
        series[name] = (times, values)
    return DeviceHistory(
        series, sorted(transitions, key=lambda t: t[0]), np.sort(np.array(changes, np.float64))
    )


def offline_onsets(transitions: Sequence[tuple[float, str]]) -> Array:
    """Times the device went offline: a transition into ``offline`` from another state (or
    the first one known); a repeated ``offline`` row is the same episode."""
    onsets, previous = [], None
    for at, state in transitions:
        if state == OFFLINE and previous != OFFLINE:
            onsets.append(at)
        previous = state
    return np.array(onsets, dtype=np.float64)


def labels(history: DeviceHistory, times: Array, horizon_s: float) -> Array:
    """1.0 where the device went offline in (t, t + horizon], else 0.0."""
    onsets = offline_onsets(history.transitions)
    after = np.searchsorted(onsets, times, side="right")
    until = np.searchsorted(onsets, times + horizon_s, side="right")
    return (until > after).astype(np.float64)


def feature_matrix(history: DeviceHistory, times: Array, horizon_s: float) -> Array:
    """One row of :data:`FEATURES` per evaluation time."""
    resets = _uptime_resets(history)
    columns = {
        **_state_features(history.transitions, times),
        **_event_counts("uptime_resets", resets, times),
        **_event_counts("config_changes", history.changes, times),
        "hours_since_config_change": _hours_since(history.changes, times),
        "hours_since_uptime_reset": _hours_since(resets, times),
        "silence_hours": _silence(history, times),
        **_resource_features(history, times, horizon_s),
    }
    onsets = offline_onsets(history.transitions)
    degraded = _entries(history.transitions, DEGRADED)
    flapping = _entries(history.transitions, FLAPPING)
    columns["flaps_7d"] = _count_in(flapping, times, 7 * DAY)
    columns["hours_since_flapping"] = _hours_since(flapping, times)
    events_of = {
        "offline": onsets,
        "config_change": history.changes,
        "uptime_reset": resets,
        "degraded": degraded,
        "flapping": flapping,
    }
    for name in DECAYING:
        for tau in DECAY_HOURS:
            columns[f"{name}_decay_{tau}h"] = _decay(events_of[name], times, tau * HOUR)
    known_since = history.first_time()
    for name in RATES:
        columns[f"{name}_per_day_30d"] = _rate(events_of[name], times, known_since)
    for short in ("memory", "temperature"):
        columns[f"{short}_slope_6h"] = _short_slope(history, RESOURCES[short], times)
    for name, events in (
        ("config_change", history.changes),
        ("uptime_reset", resets),
        ("degraded", degraded),
        ("flapping", flapping),
    ):
        record = _track_record(events, onsets, times, horizon_s)
        recent = _count_in(events, times, horizon_s) > 0
        columns[f"{name}_track_record"] = record
        short = {"config_change": "change", "uptime_reset": "reset"}.get(name, name)
        columns[f"recent_{short}_x_track_record"] = np.where(recent, record, 0.0)
    return np.column_stack([columns[name] for name in FEATURES])


def _entries(transitions: Sequence[tuple[float, str]], state: str) -> Array:
    """Times of transitions into ``state``."""
    return np.array([t for t, s in transitions if s == state], dtype=np.float64)


def _decay(events: Array, times: Array, tau_s: float) -> Array:
    """exp(-(t - the newest event at or before t) / τ); 0 when there is none."""
    idx = np.searchsorted(events, times, side="right") - 1
    if not len(events):
        return np.zeros(len(times))
    age = np.maximum(times - events[np.maximum(idx, 0)], 0.0)  # none before t: masked below
    return np.where(idx >= 0, np.exp(-age / tau_s), 0.0)


def _rate(events: Array, times: Array, known_since: float | None) -> Array:
    """Events per day in (t - 30 d, t], over the part of that window the device was known
    (at least a day, so that a device seen for an hour is no extreme)."""
    count = _count_in(events, times, RATE_WINDOW)
    since = times[0] if known_since is None else known_since
    days = np.clip((times - since) / DAY, 1.0, RATE_WINDOW / DAY)
    return count / days


def _short_slope(history: DeviceHistory, metric: str, times: Array) -> Array:
    """The highest least-squares slope per hour over (t - 6 h, t] of ``metric``'s series:
    a rise that began a few hours ago, which the 24 h slope still dilutes."""
    slope = np.full(len(times), np.nan)
    for name, (t, v) in history.metrics.items():
        if split_series(name)[0] == metric and len(t):
            slope = np.fmax(slope, _trend(t, v, times, SHORT_WINDOW)[1])
    return slope


def _track_record(events: Array, onsets: Array, times: Array, horizon_s: float) -> Array:
    """The share of the device's past events of one kind that an outage followed within the
    horizon, smoothed toward 10 % ((k + 0.2) / (n + 2)); an event counts once its horizon
    has passed by t, so nothing after t is read."""
    if not len(events):
        return np.full(len(times), 0.1)
    after = np.searchsorted(onsets, events, side="right")
    until = np.searchsorted(onsets, events + horizon_s, side="right")
    followed = np.concatenate(([0.0], np.cumsum(until > after)))
    known = np.searchsorted(events + horizon_s, times, side="right")  # events judged by t
    return (followed[known] + 0.2) / (known + 2.0)


def _count_in(events: Array, times: Array, window_s: float) -> Array:
    """How many ``events`` fall in (t - window, t], per time."""
    upto = np.searchsorted(events, times, side="right")
    before = np.searchsorted(events, times - window_s, side="right")
    return (upto - before).astype(np.float64)


def _hours_since(events: Array, times: Array) -> Array:
    """Hours since the newest event at or before t, capped at a week (also when none)."""
    idx = np.searchsorted(events, times, side="right") - 1
    if not len(events):
        return np.full(len(times), SILENCE_CAP)
    since = np.where(idx >= 0, (times - events[np.maximum(idx, 0)]) / HOUR, SILENCE_CAP)
    return np.minimum(since, SILENCE_CAP)


def _event_counts(prefix: str, events: Array, times: Array) -> dict[str, Array]:
    return {
        f"{prefix}_24h": _count_in(events, times, DAY),
        f"{prefix}_7d": _count_in(events, times, 7 * DAY),
    }


def _state_features(transitions: Sequence[tuple[float, str]], times: Array) -> dict[str, Array]:
    at = np.array([t for t, _ in transitions], dtype=np.float64)
    states = np.array([s for _, s in transitions], dtype=object)
    onsets = offline_onsets(transitions)
    degraded = np.array([t for t, s in transitions if s == DEGRADED], dtype=np.float64)
    last = np.searchsorted(at, times, side="right") - 1  # index of the state at t (-1: none)
    current = (
        np.where(last >= 0, states[np.maximum(last, 0)], "")
        if len(at)
        else np.full(len(times), "", dtype=object)
    )
    latest_onset = np.searchsorted(onsets, times, side="right") - 1
    since = np.where(
        latest_onset >= 0,
        (times - onsets[np.maximum(latest_onset, 0)]) / HOUR if len(onsets) else HOURS_SINCE_CAP,
        HOURS_SINCE_CAP,
    )
    return {
        "changes_of_state_24h": _count_in(at, times, DAY),
        "changes_of_state_7d": _count_in(at, times, 7 * DAY),
        "offline_episodes_7d": _count_in(onsets, times, 7 * DAY),
        "offline_episodes_30d": _count_in(onsets, times, 30 * DAY),
        "hours_since_offline": np.minimum(since, HOURS_SINCE_CAP),
        "offline_now": (current == OFFLINE).astype(np.float64),
        "impaired_now": np.isin(current, list(IMPAIRED)).astype(np.float64),
        "degraded_episodes_24h": _count_in(degraded, times, DAY),
        "hours_since_degraded": _hours_since(degraded, times),
    }


def _uptime_resets(history: DeviceHistory) -> Array:
    """Times of samples whose uptime is lower than the sample before (of any uptime series)."""
    found = [
        t[1:][np.diff(v) < 0]
        for name, (t, v) in history.metrics.items()
        if split_series(name)[0] == UPTIME and len(t) > 1
    ]
    return np.sort(np.concatenate(found)) if found else np.empty(0)


def _silence(history: DeviceHistory, times: Array) -> Array:
    """Hours since the newest sample of any series at or before t (capped); unknown (NaN)
    for a device with no series at all (one only pinged is not silent)."""
    if not any(len(t) for t, _ in history.metrics.values()):
        return np.full(len(times), np.nan)
    newest = np.full(len(times), -np.inf)
    for t, _ in history.metrics.values():
        idx = np.searchsorted(t, times, side="right") - 1
        seen = np.where(idx >= 0, t[np.maximum(idx, 0)], -np.inf) if len(t) else newest
        newest = np.maximum(newest, seen)
    hours: Array = np.minimum((times - newest) / HOUR, SILENCE_CAP)
    return hours


def _resource_features(history: DeviceHistory, times: Array, horizon_s: float) -> dict[str, Array]:
    out: dict[str, Array] = {}
    for short, metric in RESOURCES.items():
        level = slope = ahead = np.full(len(times), np.nan)
        for name, (t, v) in history.metrics.items():
            if split_series(name)[0] != metric or not len(t):
                continue
            lv, sl = _trend(t, v, times)
            level, slope = np.fmax(level, lv), np.fmax(slope, sl)
            ahead = np.fmax(ahead, lv + np.nan_to_num(sl) * horizon_s / HOUR)
        out |= {
            f"{short}_level": level,
            f"{short}_slope_per_h": slope,
            f"{short}_at_horizon": ahead,
        }
    for short in ("memory", "disk"):
        out[f"{short}_hours_to_limit"] = _hours_to(
            out[f"{short}_level"], out[f"{short}_slope_per_h"], LIMIT_PERCENT
        )
    return out


def _hours_to(level: Array, slope: Array, limit: float) -> Array:
    """Hours until the 24 h trend reaches ``limit`` (0 when there already, capped at a week;
    NaN without a level)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hours = np.where(slope > 0, (limit - level) / slope, SILENCE_CAP)
    hours = np.clip(np.nan_to_num(hours, nan=SILENCE_CAP), 0.0, SILENCE_CAP)
    return np.where(np.isnan(level), np.nan, hours)


def _trend(t: Array, v: Array, times: Array, window_s: float = DAY) -> tuple[Array, Array]:
    """(newest value in (t - 24 h, t], least-squares slope per hour over that window) per
    time, from prefix sums so that a year of hourly times costs one pass."""
    x = (t - t[0]) / HOUR  # hours from the series' start: small numbers, exact sums
    sums = [np.concatenate(([0.0], np.cumsum(a))) for a in (np.ones_like(x), x, v, x * x, x * v)]
    hi = np.searchsorted(t, times, side="right")
    lo = np.searchsorted(t, times - window_s, side="right")
    n, sx, sy, sxx, sxy = (s[hi] - s[lo] for s in sums)
    level = np.where(hi > lo, v[np.maximum(hi - 1, 0)], np.nan)
    denominator = n * sxx - sx * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where((n >= 3) & (denominator > 1e-9), (n * sxy - sx * sy) / denominator, np.nan)
    return level, slope
