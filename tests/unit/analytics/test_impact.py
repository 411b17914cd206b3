"""Configuration impact's verdict on hand-built windows: every expected figure is worked out
here from the rules in netgauge.analytics.impact's docstring."""

from __future__ import annotations

import pytest

from netgauge.analytics.impact import WindowStats, verdict


def test_window_stats_from_raw_samples() -> None:
    w = WindowStats.of([1.0, 1.0, 0.0, 1.0], failures=2, health=[80.0, 90.0])
    assert w == WindowStats(availability=75.0, state_changes=2, failures=2, health=85.0)
    assert WindowStats.of([], 1, []) == WindowStats(None, None, 1, None)


def test_an_outage_after_the_change_is_worse() -> None:
    before = WindowStats(100.0, 0, 0, 95.0)
    after = WindowStats(40.0, 1, 6, 30.0)
    impact = verdict({"web": (before, after), "db": (before, before)})
    assert impact.verdict == "worse"
    # means over the two targets: (100 + 100) / 2 → (40 + 100) / 2
    assert (impact.availability.before, impact.availability.after) == (100.0, 70.0)
    assert impact.health.delta == pytest.approx((30 + 95) / 2 - 95)
    assert (impact.failures.before, impact.failures.after) == (0.0, 6.0)
    assert (impact.targets, impact.compared) == (2, 2)
    assert "availability 100 % → 70 %" in impact.reasons


def test_small_moves_are_no_change() -> None:
    before = WindowStats(99.5, 1, 2, 90.0)
    after = WindowStats(99.0, 2, 4, 87.0)  # -0.5 pt, +1 change, +2 failures, -3 health
    impact = verdict({"a": (before, after)})
    assert impact.verdict == "no change"
    assert impact.reasons == ("no number moved past its threshold",)


def test_failures_must_rise_by_three_and_double() -> None:
    ten, thirteen = WindowStats(100.0, 0, 10, None), WindowStats(100.0, 0, 13, None)
    assert verdict({"a": (ten, thirteen)}).verdict == "no change"  # +3 but not doubled
    one, four = WindowStats(100.0, 0, 1, None), WindowStats(100.0, 0, 4, None)
    assert verdict({"a": (one, four)}).verdict == "worse"  # +3 and 4 ≥ 2 × 1
    assert verdict({"a": (four, one)}).verdict == "better"


def test_a_fix_is_better_and_no_data_says_so() -> None:
    flapping, steady = WindowStats(90.0, 6, 0, 60.0), WindowStats(100.0, 0, 0, 99.0)
    fixed = verdict({"a": (flapping, steady)})
    assert fixed.verdict == "better"
    assert set(fixed.reasons) == {
        "availability 90 % → 100 %",
        "health 60 → 99",
        "state changes 6 → 0",
    }
    none = verdict({"new": (WindowStats(), WindowStats(100.0, 0, 0, None))})
    assert none.verdict == "no data" and none.compared == 0
    assert verdict({}).verdict == "no data"
