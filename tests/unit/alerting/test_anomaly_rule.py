"""The ``anomaly`` alert condition: a series' new values scored on its own stored history
(the same-hour baselines of netgauge.analytics.anomalies), loaded in the background. The
history is a generated daily wave, so what is usual at each moment is known from the
generator's formula, not from the code under test."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from netgauge.alerting.anomaly import HISTORY_S, AnomalyScores
from netgauge.models import ProbeResult, ProbeStatus
from netgauge.storage.base import Point
from tests.unit.alerting.test_engine import T0, Harness, rule

STEP_S = 300
NOISE = 0.3


def usual(epoch_s: float) -> float:
    """The generator's level: 20 ms with a daily wave of 5 ms."""
    return 20.0 + 5.0 * math.sin(2 * math.pi * epoch_s / 86_400)


def history() -> tuple[list[tuple[str, str, int, int, float | None]], Any]:
    asked: list[tuple[str, str, int, int, float | None]] = []
    rng = np.random.default_rng(5)

    async def points(
        target: str, series: str, start: int, end: int, step: float | None
    ) -> list[Point]:
        asked.append((target, series, start, end, step))
        out = []
        for ts in range(start // 10**9 // STEP_S * STEP_S, end // 10**9, STEP_S):
            if ts * 10**9 >= start:
                v = usual(ts) + float(rng.normal(0, NOISE))
                out.append(Point(ts * 10**9, v, v, v, 1))
        return out

    return asked, points


def harness(*rules: Any) -> tuple[Harness, list[Any]]:
    asked, points = history()
    h = Harness(*rules)
    h.engine.anomalies = AnomalyScores(points)
    return h, asked


def ping(h: Harness, minutes: float, ms: float) -> None:
    h.clock.set_now(T0 + timedelta(minutes=minutes))
    h.engine.observe("ping", ProbeResult("gw", "icmp", 1, ProbeStatus.OK, {"rtt_avg_ms": ms}), "up")


def at(minutes: float) -> float:
    return (T0 + timedelta(minutes=minutes)).timestamp()


async def test_a_value_unlike_its_hour_fires_and_a_usual_one_resolves() -> None:
    h, asked = harness(rule(name="odd", condition={"anomaly": "icmp.rtt_avg_ms"}))
    ping(h, 0, 90.0)  # no scorer yet: nothing is said, a load is queued
    assert h.state() == {}
    assert await h.engine.anomalies.load_wanted(T0) == 1  # type: ignore[union-attr]
    end_ns = int(T0.timestamp()) * 10**9
    assert asked == [("gw", "icmp.rtt_avg_ms", end_ns - HISTORY_S * 10**9, end_ns, None)]
    for k in range(1, 13):  # an hour of usual values, wave and all
        ping(h, 5 * k, usual(at(5 * k)))
    assert h.state() == {}
    ping(h, 65, usual(at(65)) + 6.0)  # 20 sigma above its hour
    assert h.state() == {"gw": "firing"}
    ping(h, 70, usual(at(70)))
    assert h.state() == {}


async def test_the_score_threshold_and_two_rules_on_one_series() -> None:
    h, _ = harness(
        rule(name="odd", condition={"anomaly": "icmp.rtt_avg_ms"}),
        rule(name="very-odd", condition={"anomaly": "icmp.rtt_avg_ms", "score": 0.95}),
    )
    ping(h, 0, 20.0)
    await h.engine.anomalies.load_wanted(T0)  # type: ignore[union-attr]
    for k in range(1, 13):
        ping(h, 5 * k, usual(at(5 * k)))
    # 3 ms (about 10 robust sigma of noise 0.3): score near 0.8, past 0.5, short of 0.95
    ping(h, 65, usual(at(65)) + 3.0)
    firing = {a.rule for a in h.engine.alerts.values()}
    assert firing == {"odd"}
    ping(h, 70, usual(at(70)) + 30.0)  # far out: both
    assert {a.rule for a in h.engine.alerts.values()} == {"odd", "very-odd"}


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ({"metric": "cpu_percent", "op": ">", "value": 1, "score": 0.5}, "score goes with anomaly"),
        ({"anomaly": "cpu percent"}, "is not a metric name"),
        ({"anomaly": "cpu_percent", "score": 1.5}, "score"),
        ({"anomaly": "cpu_percent", "gap": "5m"}, "exactly one of"),
    ],
)
def test_bad_anomaly_conditions_are_refused_in_words(
    condition: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        rule(name="r", condition=condition)


def test_the_condition_is_its_own_kind() -> None:
    assert rule(name="r", condition={"anomaly": "cpu_percent"}).condition.kind == "anomaly"
