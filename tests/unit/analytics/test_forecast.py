"""Capacity forecasts against series whose ETA is known from their generator: straight
lines with noise and spikes, cleanups, flat and falling series (no date), limits already
reached, falling limits; and the file command through a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from netgauge.analytics.forecast import forecast

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def hourly(days: float) -> tuple[list[datetime], np.ndarray]:
    """Hourly times over ``days`` and their offsets in days from the first one."""
    n = int(days * 24)
    return [T0 + i * HOUR for i in range(n)], np.arange(n) / 24.0


def line_eta(start: float, per_day: float, limit: float) -> datetime:
    """When ``start + per_day * day`` meets ``limit`` (the generator's own answer)."""
    return T0 + timedelta(days=(limit - start) / per_day)


def test_a_clean_line_is_met_to_the_minute() -> None:
    times, days = hourly(20)
    got = forecast(times, list(10 + 2.0 * days), 95)
    truth = line_eta(10, 2.0, 95)  # 42.5 days after the start
    assert got.reaches_at is not None and got.low is not None and got.high is not None
    assert abs((got.reaches_at - truth).total_seconds()) <= 60
    assert got.low <= truth <= got.high and got.slope_per_day == pytest.approx(2.0)
    assert not got.reached


@pytest.mark.parametrize("seed", range(6))
def test_a_noisy_line_with_spikes_is_close_and_inside_its_interval(seed: int) -> None:
    rng = np.random.default_rng(seed)
    times, days = hourly(30)
    per_day = rng.uniform(0.5, 2.0)
    start = rng.uniform(5, 40)
    noise = rng.normal(0, 1.0, len(days))
    noise[rng.random(len(days)) < 0.02] += 30  # a few wild samples: tmp files, bad reads
    got = forecast(times, list(start + per_day * days + noise), 95)
    truth = line_eta(start, per_day, 95)
    lead = (truth - times[-1]).total_seconds()
    assert got.reaches_at is not None and got.low is not None and got.high is not None
    assert abs((got.reaches_at - truth).total_seconds()) <= 0.05 * lead
    assert got.low <= truth <= got.high
    # least squares over the same samples is pulled by the spikes (what the robust fit avoids)
    ls_slope = np.polyfit(days, start + per_day * days + noise, 1)[0]
    assert abs(got.slope_per_day - per_day) < abs(ls_slope - per_day)  # type: ignore[operator]


def test_after_a_cleanup_only_the_new_level_counts() -> None:
    rng = np.random.default_rng(7)
    times, days = hourly(30)
    level = 40 + 1.5 * days
    cleaned_at = 18.0  # days: 30 points removed at once
    level = np.where(days >= cleaned_at, level - 30, level)
    got = forecast(times, list(level + rng.normal(0, 0.5, len(days))), 95)
    truth = line_eta(40 - 30, 1.5, 95)  # the line after the cleanup
    lead = (truth - times[-1]).total_seconds()
    assert got.reaches_at is not None and got.low is not None and got.high is not None
    assert abs((got.reaches_at - truth).total_seconds()) <= 0.05 * lead
    assert got.low <= truth <= got.high
    assert got.since is not None
    assert abs((got.since - (T0 + timedelta(days=cleaned_at))).total_seconds()) <= 4 * 3600
    # the whole window's least squares line says far later (the cleanup flattens it)
    ls_slope, ls_icept = np.polyfit(days, level, 1)
    ls_eta = T0 + timedelta(days=(95 - ls_icept) / ls_slope)
    assert ls_eta - truth > timedelta(days=10)


@pytest.mark.parametrize("level", [30.0, 80.0, 93.0, 94.5])
def test_flat_noisy_series_get_no_date(level: float) -> None:
    times, days = hourly(14)
    soon = 0
    for seed in range(25):
        rng = np.random.default_rng(seed)
        # AR(1) noise, as a real disk wanders
        e = rng.normal(0, 0.5, len(days))
        for i in range(1, len(e)):
            e[i] += 0.5 * e[i - 1]
        got = forecast(times, list(np.minimum(level + e, 94.99)), 95)
        assert got.reaches_at is None or got.reaches_at - times[-1] > timedelta(days=1)
        soon += got.reaches_at is not None
    assert soon <= 1  # at most one of 25 gets any date at all


def test_falling_series_never_reach_and_say_so() -> None:
    rng = np.random.default_rng(3)
    times, days = hourly(10)
    got = forecast(times, list(80 - 0.8 * days + rng.normal(0, 0.3, len(days))), 95)
    assert got.reaches_at is None and got.low is None and got.high is None
    assert "falling" in got.reason and got.slope_per_day is not None and got.slope_per_day < 0


def test_a_limit_reached_from_above() -> None:
    times, days = hourly(10)
    free_gb = 200 - 12.0 * days  # free space shrinking 12 GB a day
    got = forecast(times, list(free_gb), 20, rising=False)
    truth = T0 + timedelta(days=180 / 12)
    assert got.reaches_at is not None and abs((got.reaches_at - truth).total_seconds()) <= 60
    assert got.slope_per_day == pytest.approx(-12.0)


def test_already_past_the_limit() -> None:
    times, days = hourly(10)
    flat_full = forecast(times, [97.0] * len(times), 95)  # full for the whole window
    assert flat_full.reached and flat_full.reaches_at == flat_full.low == flat_full.high
    assert flat_full.reaches_at == times[0]
    # a rising line that crossed 95 at day 5: the crossing, in the past
    crossed = forecast(times, list(85 + 2.0 * days), 95)
    assert crossed.reached and crossed.reaches_at == line_eta(85, 2.0, 95)
    # a rising line above the limit from its first sample: not a crossing before the data
    above = forecast(times, list(50 + 2.0 * days), 30)  # the line "met" 30 on day -10
    assert above.reached and above.reaches_at == above.low == above.high == times[0]
    # too few samples for a trend: the first sample of the run at or past the limit
    few = forecast(times[:4], [50.0, 96.0, 94.0, 96.5], 95)
    assert few.reached and few.reaches_at == times[3]


def test_order_of_the_samples_does_not_matter() -> None:
    rng = np.random.default_rng(11)
    times, days = hourly(7)
    values = list(20 + 3 * days + rng.normal(0, 0.4, len(days)))
    order = rng.permutation(len(times))
    shuffled = forecast([times[i] for i in order], [values[i] for i in order], 95)
    assert shuffled == forecast(times, values, 95)


def test_too_little_to_see_a_trend() -> None:
    times, _ = hourly(1)
    got = forecast(times[:5], [1.0, 2.0, 3.0, 4.0, 5.0], 95)
    assert got.reaches_at is None and "too few" in got.reason
    assert forecast([], [], 95).reason == "no samples"
    assert forecast([T0] * 500, [float(i % 50) for i in range(500)], 95).reaches_at is None


# -- the file command, as users run it ---------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netgauge", "analytics", "forecast", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(path: Path, times: list[datetime], values: list[float]) -> Path:
    rows = "".join(
        f"{t:%Y-%m-%d %H:%M:%S},{float(v)!r}\n" for t, v in zip(times, values, strict=True)
    )
    path.write_text("timestamp,value\n" + rows)
    return path


def iso_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_file_command_prints_the_contract(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    times, days = hourly(14)
    values = list(30 + 1.8 * days + rng.normal(0, 0.5, len(days)))
    out = run(str(write(tmp_path / "disk.csv", times, values)), "--limit", "95", "--json")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1
    body = json.loads(lines[0])
    assert list(body) == ["reaches_at", "low", "high"]
    assert all(v.endswith("Z") for v in body.values())
    truth = line_eta(30, 1.8, 95)
    lead = (truth - times[-1]).total_seconds()
    assert abs((iso_time(body["reaches_at"]) - truth).total_seconds()) <= 0.05 * lead
    assert iso_time(body["low"]) <= truth <= iso_time(body["high"])
    words = run(str(tmp_path / "disk.csv"), "--limit", "95")
    assert words.returncode == 0 and words.stdout.startswith(f"reaches 95 at {body['reaches_at']}")


def test_file_command_flat_gives_nulls(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    times, days = hourly(7)
    f = write(tmp_path / "flat.csv", times, list(60 + rng.normal(0, 1.0, len(days))))
    out = run(str(f), "--limit", "95", "--json")
    assert out.returncode == 0
    assert json.loads(out.stdout) == {"reaches_at": None, "low": None, "high": None}
    assert run(str(f), "--limit", "95").stdout.startswith("never reaches 95: no trend")


@pytest.mark.parametrize(
    "body, args, said",
    [
        ("timestamp,value\n2026-01-01,1\n2026-01-02,x\n", [], "bad.csv:3: 'x' is not a number"),
        ("time,value\n", [], "bad.csv:1: the header line must name timestamp, value"),
        ("timestamp,value\n", [], "bad.csv: no samples after the header line"),
        ("timestamp,value\n2026-01-01,1\n", ["--limit", "nan"], "--limit nan is not a finite"),
    ],
)
def test_file_command_bad_input_is_one_line_exit_2(
    tmp_path: Path, body: str, args: list[str], said: str
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(body)
    out = run(str(f), *(args or ["--limit", "95"]), "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.splitlines()) == 1 and said in out.stderr
    assert out.stderr.startswith("netgauge analytics forecast: error: ")
