"""The configuration-impact rule on hand-built records: counts by hand, and Fisher's exact
p-value computed here from the hypergeometric distribution (math.comb), not by scipy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from math import comb

import pytest

from netgauge.analytics.impact import History, Outcome, Transition, compare, impact

AT = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
NOW = AT + timedelta(days=1)


def checks(
    start: datetime, results: str, every: timedelta = timedelta(minutes=10)
) -> list[Outcome]:
    """Outcomes from a string: '.' passed, 'x' failed, one per ``every`` from ``start``."""
    return [Outcome(start + i * every, c == ".") for i, c in enumerate(results)]


def fisher_two_sided(a: int, b: int, c: int, d: int) -> float:
    """Fisher's exact test of [[a, b], [c, d]], two-sided: the sum of the probabilities of
    every table with the same margins that is no more likely than the one seen."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def p(x: int) -> float:
        return comb(col1, x) * comb(n - col1, row1 - x) / comb(n, row1)

    seen = p(a)
    lo, hi = max(0, row1 + col1 - n), min(row1, col1)
    return sum(p(x) for x in range(lo, hi + 1) if p(x) <= seen * (1 + 1e-7))


def test_a_change_that_broke_a_check_is_worse() -> None:
    before = checks(AT - timedelta(hours=5), "." * 30)
    after = checks(AT + timedelta(minutes=1), "x" * 12 + "." * 18)
    result = impact(AT, [History("web", before + after)], hours=6, now=NOW)
    assert (result.before.checks, result.before.failed) == (30, 0)
    assert (result.after.checks, result.after.failed) == (30, 12)
    assert result.after.state_changes == 1  # failing → passing once
    assert result.verdict == "worse" and not result.partial
    assert result.p_value == pytest.approx(fisher_two_sided(0, 30, 12, 18), rel=1e-9)
    assert "30 checks, 0.0 % failed" in result.reason and "40.0 % failed" in result.reason


def test_a_fix_is_better_and_noise_is_no_change() -> None:
    fixed = checks(AT - timedelta(hours=5), "x." * 15) + checks(AT, "." * 30)
    assert impact(AT, [History("a", fixed)], 6, NOW).verdict == "better"
    same = checks(AT - timedelta(hours=5), "...x" * 5) + checks(AT, "..x." * 5)
    result = impact(AT, [History("a", same)], 6, NOW)
    assert result.verdict == "no change"
    assert result.p_value == pytest.approx(fisher_two_sided(5, 15, 5, 15))


def test_too_few_checks_get_no_verdict_and_outside_the_window_is_ignored() -> None:
    sparse = checks(AT - timedelta(hours=1), "..") + checks(AT, "xxxxxxxx")
    old = checks(AT - timedelta(hours=30), "x" * 50)  # a day earlier: not in the 6 h window
    result = impact(AT, [History("a", sparse + old)], 6, NOW)
    assert result.verdict == "not enough data" and result.p_value is None
    assert result.before.checks == 2 and "fewer than 5 checks" in result.reason


def test_device_transitions_and_a_window_still_open() -> None:
    moves = [
        Transition(AT - timedelta(hours=2), "online"),
        Transition(AT + timedelta(hours=1), "offline"),
        Transition(AT + timedelta(hours=2), "online"),
        Transition(AT + timedelta(hours=3), "offline"),
    ]
    device = History("sw1", checks(AT - timedelta(hours=5), "." * 10), moves)
    result = impact(AT, [device], hours=6, now=AT + timedelta(hours=4))
    assert result.partial
    assert (result.before.state_changes, result.before.offline) == (1, 0)
    assert (result.after.state_changes, result.after.offline) == (3, 2)


def test_targets_are_summed() -> None:
    a = History("a", checks(AT - timedelta(hours=3), "." * 10) + checks(AT, "x" * 10))
    b = History("b", checks(AT - timedelta(hours=3), "." * 10) + checks(AT, "." * 10))
    result = impact(AT, [a, b], 6, NOW)
    assert [t.verdict for t in result.targets] == ["worse", "no change"]
    assert (result.after.checks, result.after.failed) == (20, 10)
    verdict, p = compare(result.before, result.after)
    assert verdict == "worse" and p == pytest.approx(fisher_two_sided(0, 20, 10, 10))
