"""Anomalies: an anomaly score in [0, 1] per sample from robust, seasonal baselines.

Every sample is scored ONLINE: only on the samples before it in time (ties: before it in the
input), never on what follows, so a backtest on a file scores each point as the live service
would have when it arrived. The models, each giving a robust z (how many robust standard
deviations the value lies from what the model expected):

* ``daily``:   the expected value of the sample's hour of day: per (day, hour) bucket the
  median of its samples; per hour the median of those bucket medians over the previous
  ``daily_periods`` days (at least ``min_periods`` of them holding samples of that hour);
  interpolated linearly between the centres of neighbouring hours. The remainder
  ``value - expected`` is then compared with the median and MAD of the previous ``window``
  remainders: z = |remainder - median| / (1.4826 MAD). The window follows a lasting level
  shift (within ``window / 2`` samples) and measures the noise without the seasonality.
* ``weekly``:  the same with the hour of week (weeks from Monday 00:00 UTC) over the
  previous ``weekly_periods`` weeks;
* ``rolling``: the fallback while neither seasonal model has enough history:
  z = |value - median| / (1.4826 MAD) of the previous ``window`` values.

Models agree (Netdata's rule): the z of a sample is the SMALLEST z among the ready models,
so a weekend the weekly model expects is not an anomaly even though the daily model has
never seen it. The scale (1.4826 MAD) is floored at ``rel_floor`` x |expected| (and 1e-9),
so a flat history still gives a finite z. The score is ``z² / (z² + Z²)`` with ``Z =
threshold_z`` (5): 0 for the expected value, 0.5 exactly at the threshold, towards 1 far
from it; a sample is anomalous when ``score >= 0.5`` (``z >= threshold_z``). A sample with
no model ready (the first ``min_history`` samples of a series) scores 0.

Consecutive anomalous samples (in time order, at most ``gap`` normal samples between them)
form an event; a device's anomaly rate is the share of anomalous samples across its series.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]

MAD_TO_SIGMA = 1.4826  # MAD x this = the standard deviation of normal noise
DAY_S = 86_400.0
WEEK_S = 7 * DAY_S
MONDAY_OFFSET_S = 4 * DAY_S  # 1970-01-01 was a Thursday: shift so that weeks start Monday


@dataclass(frozen=True, slots=True)
class Params:
    """How the baselines are built; the defaults are documented in docs/analytics."""

    threshold_z: float = 5.0  # robust z at which score = 0.5 and a sample is anomalous
    window: int = 96  # samples of the rolling models
    min_history: int = 12  # samples before the rolling model scores anything
    slot_s: float = 3600.0  # the seasonal slot: one hour
    daily_periods: int = 14
    weekly_periods: int = 4
    min_periods: int = 3  # previous days (weeks) with samples in the slot
    rel_floor: float = 1e-3  # scale floor, relative to |baseline| (flat series)
    gap: int = 1  # normal samples allowed inside one event


DEFAULTS = Params()


@dataclass(frozen=True, slots=True)
class Scores:
    """Per sample, in the caller's (input) order."""

    score: Floats  # in [0, 1]
    anomaly: Bools  # score >= 0.5
    baseline: Floats  # what the agreeing model expected (NaN when no model was ready)
    z: Floats  # the agreed robust z (0 when no model was ready)


@dataclass(frozen=True, slots=True)
class Event:
    """Consecutive anomalous samples (indices into the time-sorted series)."""

    start: float  # epoch seconds of the first anomalous sample
    end: float  # of the last
    samples: int  # anomalous samples in it
    peak_score: float
    peak_value: float


def score_series(
    times_s: Sequence[float] | Floats,
    values: Sequence[float] | Floats,
    params: Params = DEFAULTS,
) -> Scores:
    """Score every sample on the samples before it in time; input order kept in the result
    (unsorted input is sorted by time first, ties keep their input order)."""
    t = np.asarray(times_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError("times and values must be two sequences of the same length")
    order = np.argsort(t, kind="stable")
    z, base = _agreed_z(t[order], v[order], params) if t.size else (t, t)
    capped = np.minimum(z, 1e12)  # z² stays finite
    score = capped**2 / (capped**2 + params.threshold_z**2)
    out_score, out_z, out_base = np.empty_like(score), np.empty_like(z), np.empty_like(base)
    out_score[order], out_z[order], out_base[order] = score, z, base
    return Scores(out_score, out_score >= 0.5, out_base, out_z)


def _agreed_z(t: Floats, v: Floats, p: Params) -> tuple[Floats, Floats]:
    """The smallest z among the ready models, and that model's baseline (sorted input)."""
    seasonal = [
        _deseasonalised_z(v, _seasonal(t, v, DAY_S, 0.0, p.daily_periods, p), p),
        _deseasonalised_z(v, _seasonal(t, v, WEEK_S, MONDAY_OFFSET_S, p.weekly_periods, p), p),
    ]
    zs = np.vstack([z for z, _ in seasonal])
    bases = np.vstack([b for _, b in seasonal])
    ready = ~np.isnan(zs)
    best = np.argmin(np.where(ready, zs, np.inf), axis=0)
    cols = np.arange(v.size)
    z, base = zs[best, cols], bases[best, cols]
    fallback = np.flatnonzero(~ready.any(axis=0))
    if fallback.size:
        med, scale = _rolling(v, p, fallback)
        z[fallback] = np.nan_to_num(_robust_z(v[fallback], med, scale, p), nan=0.0)
        base[fallback] = med
    return z, base


def _deseasonalised_z(v: Floats, expected: Floats, p: Params) -> tuple[Floats, Floats]:
    """z of the remainder ``v - expected`` against the rolling median and MAD of the
    previous remainders: the seasonal model says what the slot usually holds, the window
    over its remainders follows a lasting shift and measures the noise."""
    z = np.full(v.size, np.nan)
    base = np.full(v.size, np.nan)
    have = np.flatnonzero(~np.isnan(expected))
    if have.size:
        rest = v[have] - expected[have]
        med, scale = _rolling(rest, p, np.arange(rest.size))
        z[have] = _robust_z(rest, med, scale, p, around=expected[have])
        base[have] = expected[have] + med
    return z, base


def _robust_z(
    v: Floats, med: Floats, scale: Floats, p: Params, around: Floats | None = None
) -> Floats:
    """|v - med| / scale, the scale floored so that a flat history still has one (relative
    to ``around``, the level, default ``med``; NaN where the model is not ready)."""
    level = med if around is None else around
    floor = np.maximum(p.rel_floor * np.abs(level), 1e-9)
    with np.errstate(invalid="ignore"):
        return np.abs(v - med) / np.maximum(scale, floor)


def _rolling(v: Floats, p: Params, at: Ints) -> tuple[Floats, Floats]:
    """Median and sigma (MAD x 1.4826) of the ``window`` samples before each index in
    ``at``; NaN before ``min_history`` samples."""
    w = p.window
    med = np.full(at.size, np.nan)
    scale = np.full(at.size, np.nan)
    full = at >= w
    if full.any():
        rows = sliding_window_view(v[:-1], w)[at[full] - w]  # row k - w: v[k - w .. k - 1]
        m = np.median(rows, axis=1)
        med[full] = m
        scale[full] = MAD_TO_SIGMA * np.median(np.abs(rows - m[:, None]), axis=1)
    for i in np.flatnonzero(~full & (at >= p.min_history)):  # the start: expanding window
        head = v[: at[i]]
        med[i] = np.median(head)
        scale[i] = MAD_TO_SIGMA * np.median(np.abs(head - med[i]))
    return med, scale


def _seasonal(
    t: Floats, v: Floats, period_s: float, offset_s: float, periods: int, p: Params
) -> Floats:
    """What each sample's slot held on the previous ``periods`` periods (days or weeks):
    the median over those periods of each (period, slot) bucket's median, interpolated
    linearly between the centres of neighbouring slots; NaN with fewer than
    ``min_periods`` periods holding samples of the slot."""
    period, position = _place(t, period_s, offset_s, p)
    uniq, period_idx = np.unique(period, return_inverse=True)
    if uniq.size <= min(periods, p.min_periods):  # too short a history: never ready
        return np.full(v.size, np.nan)
    slots = _slots(period_s, p)
    slot = np.minimum(position.astype(np.int64), slots - 1)
    bucket = _bucket_medians(period_idx * slots + slot, v, uniq.size * slots)
    grid = _previous_periods(uniq, bucket.reshape(uniq.size, slots), periods, p.min_periods)
    return _interpolated(grid, period_idx, position)


def _slots(period_s: float, p: Params) -> int:
    """Slots in a period (24 a day, 168 a week)."""
    return max(1, round(period_s / p.slot_s))


def _place(t: Floats, period_s: float, offset_s: float, p: Params) -> tuple[Ints, Floats]:
    """Each time's period number and its position in the period, in slots (0 .. slots)."""
    shifted = t - offset_s
    period = np.floor(shifted / period_s).astype(np.int64)
    return period, np.mod(shifted, period_s) / p.slot_s


def _interpolated(grid: Floats, rows: Ints, position: Floats) -> Floats:
    """The grid's value at each (row, position), linear between slot centres (k + 0.5);
    one side alone where the other is NaN."""
    slots = grid.shape[1]
    left_pos = position - 0.5
    left = np.floor(left_pos).astype(np.int64)
    frac = left_pos - left
    lo = grid[rows, np.mod(left, slots)]
    hi = grid[rows, np.mod(left + 1, slots)]
    mixed = (1 - frac) * lo + frac * hi
    result: Floats = np.where(np.isnan(lo), hi, np.where(np.isnan(hi), lo, mixed))
    return result


def _bucket_medians(key: Ints, v: Floats, size: int) -> Floats:
    """Median of the values of each key in [0, size) (NaN for empty keys)."""
    m = np.full(size, np.nan)
    order = np.lexsort((v, key))
    k_sorted, v_sorted = key[order], v[order]
    starts = np.flatnonzero(np.r_[True, k_sorted[1:] != k_sorted[:-1]])
    counts = np.diff(np.r_[starts, k_sorted.size])
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    m[k_sorted[starts]] = 0.5 * (v_sorted[lo] + v_sorted[hi])
    return m


def _previous_periods(uniq: Ints, m_grid: Floats, periods: int, min_periods: int) -> Floats:
    """For each present period and each slot, the median of the slot's bucket medians
    over the present periods among the ``periods`` calendar periods before it."""
    n, slots = m_grid.shape
    pad_m = np.vstack([np.full((periods, slots), np.nan), m_grid])
    pad_p = np.r_[np.full(periods, np.iinfo(np.int64).min // 2), uniq]
    # row k (present period k): the `periods` present periods before it, in index order
    win_m = sliding_window_view(pad_m[:-1], periods, axis=0)  # (n, slots, periods)
    win_p = sliding_window_view(pad_p[:-1], periods)  # (n, periods)
    recent = (uniq[:, None] - win_p) <= periods  # calendar distance, not index distance
    win_m = np.where(recent[:, None, :], win_m, np.nan)
    enough = np.sum(~np.isnan(win_m), axis=2) >= min_periods
    base = np.full((n, slots), np.nan)
    if enough.any():
        base[enough] = np.nanmedian(win_m[enough], axis=1)
    return base


def events(times_s: Floats, scores: Scores, values: Floats, gap: int = 1) -> list[Event]:
    """Consecutive anomalous samples in time order as events (at most ``gap`` normal
    samples inside one)."""
    order = np.argsort(times_s, kind="stable")
    flags = scores.anomaly[order]
    hits = np.flatnonzero(flags)
    if hits.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(hits) > gap + 1)
    firsts = np.r_[hits[0], hits[breaks + 1]]
    lasts = np.r_[hits[breaks], hits[-1]]
    t, s, v = times_s[order], scores.score[order], values[order]
    found = []
    for a, b in zip(firsts.tolist(), lasts.tolist(), strict=True):
        span = slice(a, b + 1)
        peak = a + int(np.argmax(s[span]))
        found.append(
            Event(float(t[a]), float(t[b]), int(flags[span].sum()), float(s[peak]), float(v[peak]))
        )
    return found


def anomaly_rate(flags: Sequence[Bools]) -> float:
    """Share of anomalous samples across a device's series (0 when it has none)."""
    total = sum(int(f.size) for f in flags)
    return sum(int(f.sum()) for f in flags) / total if total else 0.0


class _OnlineSeason:
    """One seasonal model's state for :class:`OnlineScorer`: the expected row of the
    current period (recomputed when a new period starts) and the window of remainders."""

    def __init__(self, period_s: float, offset_s: float, periods: int, p: Params) -> None:
        self.period_s, self.offset_s, self.periods, self.p = period_s, offset_s, periods, p
        self.period: int | None = None
        self.row = np.full((1, _slots(period_s, p)), np.nan)
        self.remainders: deque[float] = deque(maxlen=p.window)

    def expected(self, at: float, history: Callable[[], tuple[Floats, Floats]]) -> float:
        """What the slot of ``at`` held on the previous periods (NaN: not ready); the
        history is asked for only when a new period starts."""
        period, position = _place(np.array([at]), self.period_s, self.offset_s, self.p)
        if int(period[0]) != self.period:
            self.period = int(period[0])
            self.row = self._row(self.period, *history())
        return float(_interpolated(self.row, np.zeros(1, dtype=np.int64), position)[0])

    def _row(self, period: int, hist_t: Floats, hist_v: Floats) -> Floats:
        """The expected row of ``period`` from the history's previous ``periods`` periods
        (as ``_previous_periods`` computes it for the whole series)."""
        slots = self.row.shape[1]
        row = np.full((1, slots), np.nan)
        periods, position = _place(hist_t, self.period_s, self.offset_s, self.p)
        keep = (periods >= period - self.periods) & (periods < period)
        if not keep.any():
            return row
        uniq, idx = np.unique(periods[keep], return_inverse=True)
        slot = np.minimum(position[keep].astype(np.int64), slots - 1)
        bucket = _bucket_medians(idx * slots + slot, hist_v[keep], uniq.size * slots)
        grid = bucket.reshape(uniq.size, slots)
        enough = np.sum(~np.isnan(grid), axis=0) >= self.p.min_periods
        if enough.any():
            row[0, enough] = np.nanmedian(grid[:, enough], axis=0)
        return row


class OnlineScorer:
    """One series scored a sample at a time as samples arrive (the alert engine's way),
    giving exactly the scores :func:`score_series` gives the same sequence. Samples must
    come in time order; one not after the newest is ignored (None)."""

    def __init__(self, params: Params = DEFAULTS) -> None:
        self.p = params
        # 8 bytes a sample (a list of floats takes 32): five weeks of a series is kept
        self._t = array("d")
        self._v = array("d")
        self._raw: deque[float] = deque(maxlen=params.window)
        self._seasons = (
            _OnlineSeason(DAY_S, 0.0, params.daily_periods, params),
            _OnlineSeason(WEEK_S, MONDAY_OFFSET_S, params.weekly_periods, params),
        )
        self._keep_s = max(params.daily_periods * DAY_S, (params.weekly_periods + 1) * WEEK_S)

    @classmethod
    def from_history(
        cls, times_s: Floats, values: Floats, params: Params = DEFAULTS
    ) -> OnlineScorer:
        """A scorer that has seen ``times_s``/``values`` (any order): its windows are
        filled in one batch pass rather than a sample at a time."""
        order = np.argsort(times_s, kind="stable")
        t, v = times_s[order], values[order]
        scorer = cls(params)
        scorer._raw.extend(v[-params.window :].tolist())
        for season in scorer._seasons:
            expected = _seasonal(t, v, season.period_s, season.offset_s, season.periods, params)
            have = ~np.isnan(expected)
            season.remainders.extend((v[have] - expected[have])[-params.window :].tolist())
        recent = t >= (t[-1] - scorer._keep_s if t.size else 0.0)
        scorer._t.frombytes(t[recent].astype(np.float64).tobytes())
        scorer._v.frombytes(v[recent].astype(np.float64).tobytes())
        return scorer

    @property
    def newest(self) -> float | None:
        """Epoch seconds of the newest sample seen."""
        return self._t[-1] if self._t else None

    def _history(self) -> tuple[Floats, Floats]:
        return np.array(self._t, dtype=np.float64), np.array(self._v, dtype=np.float64)

    def score(self, at: float, value: float) -> float | None:
        """The score of a new sample (and it joins the history)."""
        if self._t and at <= self._t[-1]:
            return None
        zs = []
        for season in self._seasons:
            expected = season.expected(at, self._history)
            if math.isnan(expected):
                continue
            rest = value - expected
            if len(season.remainders) >= self.p.min_history:
                zs.append(_window_z(rest, np.array(season.remainders), expected, self.p))
            season.remainders.append(rest)
        if zs:
            z = min(zs)
        elif len(self._raw) >= self.p.min_history:
            z = _window_z(value, np.array(self._raw), None, self.p)
        else:
            z = 0.0
        self._raw.append(value)
        self._t.append(at)
        self._v.append(value)
        if self._t[0] < at - self._keep_s - DAY_S:  # trimmed once a day, not every sample
            cut = bisect.bisect_left(self._t, at - self._keep_s)
            del self._t[:cut], self._v[:cut]
        capped = min(z, 1e12)
        return capped**2 / (capped**2 + self.p.threshold_z**2)


def _window_z(value: float, window: Floats, around: float | None, p: Params) -> float:
    """The robust z of one value against a window (as ``_rolling`` + ``_robust_z``)."""
    med = np.median(window)
    scale = MAD_TO_SIGMA * np.median(np.abs(window - med))
    level = med if around is None else around
    floor = max(p.rel_floor * abs(level), 1e-9)
    return float(abs(value - med) / max(scale, floor))
