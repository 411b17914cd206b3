"""When a series reaches a limit (disk full), with an 80 % interval.

The method, step by step (``docs/analytics/forecast.md`` has the measured figures):

1. **Buckets.** The samples are cut into at most ``MAX_BUCKETS`` equal time bins; each
   bin is its median time and median value. Medians shrug off single spikes, and the
   pairwise step below stays cheap on 90 days of 1-minute samples.
2. **The last level change.** A cleanup (or a disk grown, a big copy) moves the level at
   once. At each bin boundary the median of the ``STEP_WINDOW`` bins after it is compared
   with the median of the bins before it, the trend's own rise taken out; a change bigger
   than ``STEP_SIGMAS`` times what noise gives such a difference is a level change. Only
   the bins after the last one are fitted (the regime now).
3. **The trend.** Theil–Sen on the regime: the median of all pairwise slopes, the level
   at the last bin being the median of ``value - slope * time`` (plus the slope times the
   last bin's time). A few wild samples cannot tilt it (29 % breakdown point).
4. **No trend, no date.** The slope's standard error is the least-squares one computed
   from the robust residual scale (1.4826 × MAD), inflated for the residuals' lag-1
   autocorrelation ((1 + ρ)/(1 − ρ), which also widens it when a curve is fitted by a
   line) and for Theil–Sen's efficiency. A slope below ``MIN_T`` standard errors above
   zero is no trend: the answer is "never" (null), not a date centuries away, and a flat
   noisy series never gets a "full in 24 h".
5. **The date and its interval.** ``reaches_at`` is where the trend line meets the limit.
   The 80 % interval starts from the inverse-regression (Fieller) interval: the times at
   which the trend's two-sided 80 % confidence band (Student t, n − 2 degrees of freedom)
   meets the limit — ``low`` where the band's top does, ``high`` where its bottom does.
   A straight line is a model, and growth rates drift: each side is then widened, in
   quadrature, by ``RATE_DRIFT`` / 2 × ahead² / (span + ahead) (ahead: from the newest bin
   to ``reaches_at``; span: the fitted regime's length), the ETA error a rate drifting by
   ``RATE_DRIFT`` between the regime's start and the fill date makes. ``RATE_DRIFT`` = 0.2
   was calibrated on the bench's synthetic fleet (seed 1) for 80 % coverage over all of
   it; the figures reported are from another seed.

**Already there.** When the trend's level at the newest bin is at or past the limit the
series has reached it (``reached``): with a trend, ``reaches_at`` is when the trend line
crossed the limit (in the past, with its interval), never earlier than the fitted regime's
start: a line that crosses before the data begins says the series was past the limit all
along, and answers that start as all three times; without a trend, the start of the fitted
regime (the last level change, or the first sample), as all three times. With too few
samples for a trend, a newest sample at or past the limit says it: the first sample of the
run at or past the limit the series ends in (not an earlier crossing a cleanup undid).
The dates are for the trend's crossing: with noise, one sample may touch the limit first.

Falling limits ("free space reaching 5 GB") are the same question on ``-value`` and
``-limit`` (``rising=False``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

MAX_BUCKETS = 240
STEP_WINDOW = 4  # bins on each side of a candidate level change
STEP_SIGMAS = 6.0  # how far past noise a level change must be
MIN_POINTS = 8  # bins needed after the last level change to fit a trend
MIN_T = 2.0  # slope / standard error below this: no trend
COVERAGE = 0.80
RATE_DRIFT = 0.2  # how much a growth rate may change, window start to fill date (a prior)
THEIL_SEN_EFFICIENCY = 0.91  # vs least squares on normal noise (variance ratio)
_MAD_TO_SD = 1.4826

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Forecast:
    """When a series reaches ``limit``: a date with an 80 % interval, or None (never).

    ``reason`` says why in words (for the API and the sentence of the file command);
    ``slope_per_day`` and ``level`` describe the fitted trend (None without a fit);
    ``since`` is when the fitted regime starts (after the last level change)."""

    reaches_at: datetime | None
    low: datetime | None
    high: datetime | None
    reason: str
    reached: bool = False  # already at or above the limit
    slope_per_day: float | None = None  # in the caller's direction (negative when falling)
    level: float | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Fit:
    slope: float  # per second
    level: float  # the trend's value at the newest bin
    t_end: float  # the newest bin's time, seconds
    se_slope: float
    n: int
    mean_t: float
    sxx: float
    scale: float  # residual sd, inflated


def forecast(
    times: Sequence[datetime],
    values: Sequence[float],
    limit: float,
    *,
    rising: bool = True,
) -> Forecast:
    """When the series ``(times, values)`` reaches ``limit`` (see the module's method);
    ``rising=False`` for a limit reached from above. Times need not be sorted."""
    if len(times) != len(values):
        raise ValueError("times and values differ in length")
    if not times:
        return Forecast(None, None, None, "no samples")
    epoch = np.array([t.timestamp() for t in times], dtype=np.float64)
    sign = 1.0 if rising else -1.0
    vals = sign * np.asarray(values, dtype=np.float64)
    order = np.argsort(epoch, kind="stable")
    epoch, vals = epoch[order], vals[order]
    return _forecast(epoch, vals, sign * limit, sign)


def _forecast(epoch: FloatArray, vals: FloatArray, limit: float, sign: float) -> Forecast:
    bt, bv = _buckets(epoch, vals)
    start = _last_level_change(bt, bv)
    since = _when(bt[start])
    bt, bv = bt[start:], bv[start:]
    if len(bt) < MIN_POINTS or bt[-1] <= bt[0]:
        if vals[-1] >= limit:  # too little to fit: the newest sample says it
            at = _when(_start_of_last_run(epoch, vals >= limit))
            return Forecast(at, at, at, "at or past the limit now", reached=True, since=since)
        why = "too few samples" + (" since the last level change" if start else "")
        return Forecast(None, None, None, f"{why} to see a trend", since=since)
    fit = _theil_sen(bt, bv)

    def answer(at: float | None, band: tuple[float, float] | None, why: str) -> Forecast:
        low, high = (None, None) if band is None else (_when(band[0]), _when(band[1]))
        return Forecast(
            None if at is None else _when(at), low, high, why, fit.level >= limit,
            sign * fit.slope * 86400, sign * fit.level, since,
        )  # fmt: skip

    rising = fit.slope > 0 and fit.slope >= MIN_T * fit.se_slope
    if fit.level >= limit and not rising:  # at the limit, not by a trend: since this level
        return answer(bt[0], (bt[0], bt[0]), "at or past the limit now")
    if not rising:
        word = "falling" if fit.slope < -MIN_T * fit.se_slope else "flat within its noise"
        return answer(None, None, f"no trend toward the limit ({word})")
    eta = fit.t_end + (limit - fit.level) / fit.slope
    if eta <= bt[0]:  # the line crosses before the data begins: past it all along
        return answer(bt[0], (bt[0], bt[0]), "at or past the limit since its first sample")
    band = _widen(eta - fit.t_end, _fieller(fit, limit), fit.t_end, float(bt[-1] - bt[0]))
    return answer(eta, band, "past the limit" if fit.level >= limit else "trend toward the limit")


def _when(epoch: float) -> datetime:
    # whole seconds (the data says no more); far futures (a slope of 1e-12 per second)
    # clamped to what datetime holds
    return datetime.fromtimestamp(round(min(epoch, 253_402_300_000.0 - 1)), UTC)


def _start_of_last_run(epoch: FloatArray, above: NDArray[np.bool_]) -> float:
    """The time of the first sample of the run of ``above`` samples the series ends in."""
    below = np.flatnonzero(~above)
    return float(epoch[below[-1] + 1] if below.size else epoch[0])


def _buckets(epoch: FloatArray, vals: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Median time and median value per equal time bin (at most ``MAX_BUCKETS``)."""
    span = epoch[-1] - epoch[0]
    if len(epoch) <= MAX_BUCKETS:
        return epoch, vals
    if span <= 0:  # every sample at one time: one bin
        return epoch[:1], np.array([np.median(vals)])
    index = np.minimum(((epoch - epoch[0]) / span * MAX_BUCKETS).astype(np.int64), MAX_BUCKETS - 1)
    starts = np.flatnonzero(np.r_[True, np.diff(index) > 0])
    counts = np.diff(np.r_[starts, len(index)])
    return _group_medians(epoch, starts, counts), _group_medians(
        vals[np.lexsort((vals, index))], starts, counts
    )


def _group_medians(
    ordered: FloatArray, starts: NDArray[np.int64], counts: NDArray[np.int64]
) -> FloatArray:
    """The median of each contiguous group of ``ordered`` (sorted within each group)."""
    lower = ordered[starts + (counts - 1) // 2]
    upper = ordered[starts + counts // 2]
    return np.asarray((lower + upper) / 2, dtype=np.float64)


def _last_level_change(bt: FloatArray, bv: FloatArray) -> int:
    """The index of the first bin after the last level change (0: none found)."""
    w, n = STEP_WINDOW, len(bv)
    if n < 4 * w:
        return 0
    rate = _pairwise_slope(bt, bv)  # the trend's rise per second, cleanups and all
    detrended = bv - rate * (bt - bt[0])
    windows = np.lib.stride_tricks.sliding_window_view(detrended, w)
    medians = np.median(windows, axis=1)
    jumps = medians[w:] - medians[:-w]  # at the boundary before bin i = w ... n - w
    # what noise gives such a jump: the jumps' own robust spread (most boundaries being no
    # level change; it counts autocorrelated noise in), and at least what independent noise
    # of the bins' own spread gives a difference of two medians of w (1.2533 σ √(2 / w)):
    # a jump spread near zero (quantized or patterned data) makes no step of a wiggle
    bins_sd = _MAD_TO_SD * _mad(np.diff(detrended)) / math.sqrt(2)
    noise = max(
        _MAD_TO_SD * _mad(jumps),
        1.2533 * math.sqrt(2 / w) * bins_sd,
        1e-9 * max(1.0, float(np.max(np.abs(bv)))),
    )
    # (less their median: what is left of the trend when cleanups tilted the slope)
    flagged = np.flatnonzero(np.abs(jumps - np.median(jumps)) > STEP_SIGMAS * noise)
    if flagged.size == 0:
        return 0
    last = w + int(flagged[-1])
    # the boundaries flagged cluster up to w - 1 bins past the true one: take the biggest
    # single move among them
    lo = max(1, last - w + 1)
    moves = np.abs(np.diff(detrended)[lo - 1 : last])
    return lo + int(np.argmax(moves))


def _mad(x: FloatArray) -> float:
    return float(np.median(np.abs(x - np.median(x))))


def _theil_sen(bt: FloatArray, bv: FloatArray) -> _Fit:
    """Theil–Sen slope and level at the newest bin, with an inflated standard error."""
    t = bt - bt[-1]  # seconds before the newest bin: small numbers, level at t = 0
    slope = _pairwise_slope(t, bv)
    level = float(np.median(bv - slope * t))
    resid = bv - (level + slope * t)
    scale = _MAD_TO_SD * _mad(resid)
    rho = float(np.clip(_lag1(resid), 0.0, 0.95))
    scale *= math.sqrt((1 + rho) / (1 - rho) / THEIL_SEN_EFFICIENCY)
    mean_t = float(np.mean(t))
    sxx = float(np.sum((t - mean_t) ** 2))
    se = scale / math.sqrt(sxx)
    return _Fit(slope, level, float(bt[-1]), se, len(t), mean_t, sxx, scale)


def _pairwise_slope(t: FloatArray, v: FloatArray) -> float:
    """Theil–Sen's slope: the median of the slopes between every two points."""
    i, j = _pairs(len(t))
    dt = t[j] - t[i]
    keep = dt > 0
    return float(np.median((v[j] - v[i])[keep] / dt[keep]))


@functools.lru_cache(maxsize=4)
def _pairs(n: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Every (i, j) with i < j < n (most series have MAX_BUCKETS bins: made once)."""
    i, j = np.triu_indices(n, k=1)
    return i, j


def _lag1(x: FloatArray) -> float:
    c = x - np.mean(x)
    den = float(np.dot(c, c))
    return float(np.dot(c[:-1], c[1:]) / den) if den > 0 else 0.0


def _fieller(fit: _Fit, limit: float) -> tuple[float, float]:
    """The times (epoch seconds) where the trend's 80 % band meets ``limit``.

    The band at u seconds after the newest bin is ``level + slope u ± q s sqrt(1/n +
    (u - ū)² / Sxx)``; squaring gives a quadratic in u whose roots are ``low`` and
    ``high`` (two real roots as long as the slope is past q standard errors, which
    ``MIN_T`` > q ensures)."""
    q = t_quantile(0.5 + COVERAGE / 2, fit.n - 2)
    k = (q * fit.scale) ** 2
    c0 = fit.level - limit
    a = fit.slope**2 - k / fit.sxx
    b = 2 * fit.slope * c0 + 2 * k * fit.mean_t / fit.sxx
    c = c0**2 - k / fit.n - k * fit.mean_t**2 / fit.sxx
    root = math.sqrt(max(b * b - 4 * a * c, 0.0))
    u1, u2 = sorted(((-b - root) / (2 * a), (-b + root) / (2 * a)))
    return fit.t_end + u1, fit.t_end + u2


def _widen(
    ahead: float, band: tuple[float, float], t_end: float, span: float
) -> tuple[float, float]:
    """The Fieller interval widened for a growth rate that drifts (a straight line is a
    model): by ``RATE_DRIFT`` / 2 × ``ahead`` × ahead / (span + ahead) on each side, the
    ETA error a rate drifting by ``RATE_DRIFT`` between the window's start and the fill
    date gives, added in quadrature."""
    extra = RATE_DRIFT / 2 * ahead * ahead / (span + ahead) if ahead > 0 else 0.0
    low = t_end + ahead - math.hypot(t_end + ahead - band[0], extra)
    high = t_end + ahead + math.hypot(band[1] - t_end - ahead, extra)
    return low, high


def t_quantile(p: float, dof: int) -> float:
    """Student t's ``p`` quantile (Cornish–Fisher from the normal's; within 0.2 % of the
    exact value from 6 degrees of freedom at p = 0.9)."""
    z = NormalDist().inv_cdf(p)
    v = float(dof)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def horizon(reaches_at: datetime | None, now: datetime) -> timedelta | None:
    """How long from ``now`` until ``reaches_at`` (None: never)."""
    return None if reaches_at is None else reaches_at - now


__all__ = ["COVERAGE", "Forecast", "forecast", "horizon", "t_quantile"]
