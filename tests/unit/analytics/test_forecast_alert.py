"""The alert condition ``{forecast: disk_percent, reaches: 95, within: 7d}`` in the rule
engine: a mount whose line (known from its generator) meets 95 within 7 days fires, with
the hours left; one that meets it later, or a flat one, does not; nothing is said before
the forecast is computed; the config refuses half conditions in words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from netgauge.alerting.forecasts import ForecastWatch
from netgauge.analytics.forecast_service import Question
from netgauge.storage.base import Point
from tests.unit.alerting.test_engine import T0, Harness, rule

HOUR_NS = 3600 * 10**9
# per mount: the value at T0 and the rise per day (the ETA is (95 - now) / rise days)
LINES = {"/": (90.0, 2.0), "/var": (55.0, 2.0), "/data": (50.0, 0.0)}


async def points(target: str, series: str, start: int, end: int, step: float) -> list[Point]:
    mount = series.split('"')[1]
    now_value, per_day = LINES[mount]
    out = []
    for ts in range(start, min(end, int(T0.timestamp() * 1e9) + 1), int(step * 1e9)):
        days = (ts / 1e9 - T0.timestamp()) / 86400
        value = now_value + per_day * days + (0.3 if (ts // HOUR_NS) % 2 else -0.3)
        out.append(Point(ts, value, value, value, 1))
    return out


async def test_a_disk_that_fills_within_7_days_fires_with_its_hours_left() -> None:
    h = Harness(
        rule(
            name="disk-full-soon",
            condition={"forecast": "disk_percent", "reaches": 95, "within": "7d"},
        )
    )
    h.engine.forecasts = ForecastWatch(points)
    disks = {f'disk_percent{{mount="{m}"}}': v for m, (v, _) in LINES.items()}
    h.result("srv", labelled=disks)
    assert h.state() == {}  # not computed yet: nothing said
    assert await h.engine.forecasts.load_wanted(T0) == 3
    h.result("srv", labelled=disks)
    firing = list(h.engine.alerts.values())
    assert [a.labels["mount"] for a in firing] == ["/"]
    assert firing[0].state.value == "firing"
    # 90 + 2/day meets 95 in 2.5 days = 60 h (/var: 20 days, past 7; /data: never)
    assert firing[0].value == pytest.approx(60, abs=1.5)
    summary = h.engine.rules["disk-full-soon"].summary("srv", firing[0].value)
    assert summary == "srv: disk_percent reaches 95 in 60 h"


@pytest.mark.parametrize(
    "condition, problem",
    [
        ({"forecast": "disk_percent", "reaches": 95}, "forecast, reaches and within go together"),
        ({"forecast": "disk_percent", "reaches": 95, "within": "10m"}, "between 1h and 365d"),
        ({"forecast": "disk percent", "reaches": 95, "within": "7d"}, "is not a metric name"),
        ({"metric": "cpu_percent", "op": ">", "value": 1, "within": "7d"}, "go together"),
    ],
)
def test_half_forecast_conditions_are_refused_in_words(
    condition: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        rule(name="r", condition=condition)


async def test_the_watch_computes_each_series_once_per_5_minutes() -> None:
    watch = ForecastWatch(points)
    asked, name = Question("disk_percent", 95.0), 'disk_percent{mount="/"}'
    assert watch.value("srv", name, asked, T0) is None
    assert watch.value("srv", name, asked, T0) is None  # asked twice, queued once
    assert await watch.load_wanted(T0) == 1
    found = watch.value("srv", name, asked, T0 + timedelta(minutes=4))
    assert found is not None and found.reaches_at is not None
    assert await watch.load_wanted(T0) == 0  # fresh: nothing queued
    assert watch.value("srv", name, asked, T0 + timedelta(minutes=6)) is found  # stale kept
    assert await watch.load_wanted(T0) == 1  # and computed again
