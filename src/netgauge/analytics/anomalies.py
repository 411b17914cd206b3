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

from collections.abc import Sequence
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
    shifted = t - offset_s
    period = np.floor(shifted / period_s).astype(np.int64)
    slots = max(1, round(period_s / p.slot_s))
    uniq, period_idx = np.unique(period, return_inverse=True)
    if uniq.size <= min(periods, p.min_periods):  # too short a history: never ready
        return np.full(v.size, np.nan)
    position = np.mod(shifted, period_s) / p.slot_s  # in slots, 0 .. slots
    slot = np.minimum(position.astype(np.int64), slots - 1)
    bucket = _bucket_medians(period_idx * slots + slot, v, uniq.size * slots)
    grid = _previous_periods(uniq, bucket.reshape(uniq.size, slots), periods, p.min_periods)
    left_pos = position - 0.5  # slot centres lie at k + 0.5
    left = np.floor(left_pos).astype(np.int64)
    frac = left_pos - left
    lo = grid[period_idx, np.mod(left, slots)]
    hi = grid[period_idx, np.mod(left + 1, slots)]
    mixed = (1 - frac) * lo + frac * hi
    return np.where(np.isnan(lo), hi, np.where(np.isnan(hi), lo, mixed))


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
