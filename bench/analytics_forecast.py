"""Capacity forecasts: disk-full ETA on a labelled synthetic fleet, netgauge next to plain
least squares over the window (Prometheus ``predict_linear``, Zabbix ``timeleft``).

    PYTHONPATH=src .venv/bin/python bench/analytics_forecast.py [--series 2000] [--seed 16]

The fleet (every label from the generator, never from the code under test):

* ``linear``: disk_percent rising in a straight line from 5 to 60 % at the window's start,
  its limit 95 % reached 1 to 60 days after the last sample;
* ``curved``: the same, bending (a parabola): the slope changes by up to ±30 % between the
  window's first sample and the day the disk fills;
* ``cleanup``: linear with one or two cleanups (the level drops 10 to 35 points at once),
  the last one at least 5 days before the last sample;
* ``flat``: no trend, level 20 to 94.5 % (some just under the limit): never full;
* ``falling``: shrinking usage: never full.

Each series is 30 days of hourly samples or 7 days of 5-minute samples, noise with sd 0.05
to 1.5 points, AR(1) (ρ 0 to 0.6; disks are not white noise) and 0.5 % spikes of 5 to 20
points. The truth is the generator's own ETA: when its noise-free curve reaches 95.

Figures: median relative ETA error (|ETA - truth| / (truth - last sample), on series that
do fill), 80 % interval coverage (the truth inside [low, high]; no answer counts as a
miss), how often no date is given for a filling disk, false "full within 24 h" and any
date on flat/falling series, and series per second. Least squares gets its own textbook
80 % inverse-regression interval (iid noise assumed), as a statistician would add to it.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from netgauge.analytics.forecast import Forecast, forecast, t_quantile  # noqa: E402

LIMIT = 95.0
DAY = 86400.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Case:
    """One labelled series."""

    kind: str
    times: list[datetime]
    values: np.ndarray
    truth: float | None  # seconds after the last sample when the curve reaches 95; None: never


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    sd, rho = rng.uniform(0.05, 1.5), rng.uniform(0.0, 0.6)
    e = rng.normal(0.0, sd * math.sqrt(1 - rho**2), n)
    out = np.empty(n)
    out[0] = rng.normal(0.0, sd)
    for i in range(1, n):
        out[i] = rho * out[i - 1] + e[i]
    spikes = rng.random(n) < 0.005
    out[spikes] += rng.uniform(5, 20, int(spikes.sum())) * rng.choice([-1, 1], int(spikes.sum()))
    return out


def _grid(rng: np.random.Generator) -> tuple[np.ndarray, list[datetime]]:
    days, step = (30.0, 3600.0) if rng.random() < 0.5 else (7.0, 300.0)
    secs = np.arange(0.0, days * DAY, step)
    return secs - secs[-1], [T0 + timedelta(seconds=float(s)) for s in secs]  # 0 = last


def make_case(kind: str, rng: np.random.Generator) -> Case:
    """One series of ``kind`` with its true ETA."""
    t, times = _grid(rng)
    span = -t[0]
    truth: float | None = None
    if kind in ("linear", "cleanup", "curved"):
        truth = rng.uniform(1, 60) * DAY
        start, h = rng.uniform(5, 60), span + truth  # the level at the window's start
        if kind == "curved":
            # the slope changes by a fraction g (-0.3 to 0.3) between the window's start
            # and the day the disk fills: slope(x) = s (1 + g x / h), x from the start
            g = rng.uniform(-0.3, 0.3)
            s = (LIMIT - start) / (h + g * h / 2)
            x = t + span
            curve = start + s * x + s * g / (2 * h) * x**2
        else:
            curve = start + (LIMIT - start) / h * (t + span)
        if kind == "cleanup":
            for _ in range(rng.integers(1, 3)):
                at = rng.uniform(-span * 0.9, -5 * DAY if span > 10 * DAY else -span * 0.3)
                curve = np.where(t < at, curve + rng.uniform(10, 35), curve)
    elif kind == "flat":
        curve = np.full(len(t), rng.uniform(20, 94.5 if rng.random() < 0.7 else 93))
    else:  # falling
        curve = rng.uniform(50, 94) + rng.uniform(0.05, 2.0) / DAY * t * -1
    values = np.clip(curve + _noise(rng, len(t)), 0, 100)
    return Case(kind, times, values, truth)


def least_squares(times: list[datetime], values: np.ndarray, limit: float) -> Forecast:
    """predict_linear / timeleft: OLS over the whole window, the date where it meets the
    limit, with the textbook 80 % inverse-regression interval."""
    t = np.array([x.timestamp() for x in times]) - times[-1].timestamp()
    slope, intercept = np.polyfit(t, values, 1)
    if values[-1] >= limit:
        return Forecast(times[-1], times[-1], times[-1], "reached", reached=True)
    if slope <= 0:
        return Forecast(None, None, None, "not rising")
    n = len(t)
    resid = values - (intercept + slope * t)
    s = math.sqrt(float(np.sum(resid**2)) / (n - 2))
    mt = float(np.mean(t))
    sxx = float(np.sum((t - mt) ** 2))
    q = t_quantile(0.9, n - 2)
    k = (q * s) ** 2
    c0 = intercept - limit
    a = slope**2 - k / sxx
    b = 2 * slope * c0 + 2 * k * mt / sxx
    c = c0**2 - k / n - k * mt**2 / sxx
    end = times[-1]
    eta = end + timedelta(seconds=min(-c0 / slope, 1e10))
    if a <= 0:
        return Forecast(eta, None, None, "rising")
    root = math.sqrt(max(b * b - 4 * a * c, 0.0))
    lo, hi = sorted(((-b - root) / (2 * a), (-b + root) / (2 * a)))
    return Forecast(
        eta,
        end + timedelta(seconds=min(lo, 1e10)),
        end + timedelta(seconds=min(hi, 1e10)),
        "rising",
    )


def score(
    cases: list[Case], method: Callable[[list[datetime], np.ndarray, float], Forecast]
) -> dict[str, float]:
    """The figures of one method over the fleet."""
    errors, covered, filling, no_date = [], 0, 0, 0
    false_24h, any_date, never = 0, 0, 0
    started = time.process_time()
    answers = [method(c.times, c.values, LIMIT) for c in cases]
    cpu = time.process_time() - started
    for case, got in zip(cases, answers, strict=True):
        end = case.times[-1]
        if case.truth is None:
            never += 1
            if got.reaches_at is not None:
                any_date += 1
                false_24h += (got.reaches_at - end).total_seconds() <= DAY
            continue
        filling += 1
        truth_at = end + timedelta(seconds=case.truth)
        if got.reaches_at is None:
            no_date += 1
            errors.append(1.0)
            continue
        errors.append(abs((got.reaches_at - truth_at).total_seconds()) / case.truth)
        if got.low is not None and got.high is not None and got.low <= truth_at <= got.high:
            covered += 1
    return {
        "median_rel_error": statistics.median(errors),
        "p90_rel_error": float(np.quantile(errors, 0.9)),
        "coverage": covered / filling,
        "no_date": no_date / filling,
        "false_24h": false_24h,
        "dates_on_never": any_date / never,
        "never": never,
        "series_per_s": len(cases) / cpu if cpu > 0 else float("inf"),
    }


def ours(times: list[datetime], values: np.ndarray, limit: float) -> Forecast:
    return forecast(times, values.tolist(), limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    kinds = ["linear", "curved", "cleanup", "flat", "falling"]
    weights = [0.3, 0.2, 0.2, 0.2, 0.1]
    cases = [make_case(str(rng.choice(kinds, p=weights)), rng) for _ in range(args.series)]
    never = [c for c in cases if c.truth is None]
    print(f"{len(cases)} series (seed {args.seed}), limit {LIMIT:g}; {len(never)} never fill")
    methods = [
        ("netgauge: Theil-Sen after the last level change", ours),
        ("least squares over the window (predict_linear)", least_squares),
    ]
    for name, method in methods:
        print(f"\n== {name}")
        for label in ["all", "linear", "curved", "cleanup"]:
            subset = [c for c in cases if label == "all" or c.kind == label or c.truth is None]
            r = score(subset, method)
            print(
                f"  {label:8s} ({int(len(subset) - r['never']):4d} filling) median rel err "
                f"{r['median_rel_error']:6.1%}  p90 {r['p90_rel_error']:6.1%}  "
                f"80% coverage {r['coverage']:6.1%}  no date {r['no_date']:5.1%}"
            )
        r = score(cases, method)
        print(
            f"  never-full series: false 'full within 24 h' {int(r['false_24h'])} of "
            f"{int(r['never'])}, any date {r['dates_on_never']:.1%};  {r['series_per_s']:.0f} "
            "series/s (one core, CPU time)"
        )


if __name__ == "__main__":
    main()
