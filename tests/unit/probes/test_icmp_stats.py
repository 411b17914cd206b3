"""Statistics of echo replies: loss (late = lost), min/avg/max, mdev as ping, jitter."""

from __future__ import annotations

import math
import statistics

import pytest

from netgauge.probes.icmp_stats import (
    METRIC_NAMES,
    jitter,
    loss_pct,
    mdev,
    on_time_rtts,
    percentile,
    rtt_distribution,
    summarize,
)


def test_mdev_is_the_population_standard_deviation_like_linux_ping() -> None:
    rtts = [1.0, 2.0, 3.0, 4.0]
    # sqrt(mean(x^2) - mean(x)^2) = sqrt(7.5 - 6.25)
    assert mdev(rtts) == pytest.approx(math.sqrt(1.25))
    assert mdev(rtts) == pytest.approx(statistics.pstdev(rtts))


def test_mdev_matches_pings_formula_on_realistic_rtts() -> None:
    rtts = [0.041, 0.063, 0.052, 0.118, 0.047]
    mean = sum(rtts) / len(rtts)
    ping_formula = math.sqrt(sum(r * r for r in rtts) / len(rtts) - mean * mean)
    assert mdev(rtts) == pytest.approx(ping_formula, rel=1e-9)


def test_mdev_of_identical_samples_is_zero_not_a_math_error() -> None:
    assert mdev([0.1] * 7) == pytest.approx(0.0, abs=1e-12)  # ping's form gives ~1e-9


def test_mdev_without_replies_is_absent() -> None:
    assert mdev([]) is None


def test_jitter_is_the_mean_absolute_difference_of_consecutive_rtts() -> None:
    assert jitter([1.0, 3.0, 2.0, 2.0]) == pytest.approx((2.0 + 1.0 + 0.0) / 3)


def test_jitter_needs_two_replies() -> None:
    assert jitter([]) is None
    assert jitter([5.0]) is None


def test_late_replies_are_lost_and_lost_ones_are_skipped_in_send_order() -> None:
    timeout_ns = 1_000_000
    rtts_ns = [500_000, None, 2_000_000, 1_000_000, 250_000]
    assert on_time_rtts(rtts_ns, timeout_ns) == [0.5, 1.0, 0.25]  # exactly the timeout counts


def test_loss_counts_late_replies_as_lost() -> None:
    rtts = on_time_rtts([100, 5_000_000, None, 200], timeout_ns=1_000_000)
    metrics = summarize(4, rtts)
    assert metrics["received"] == 2
    assert metrics["loss_pct"] == 50.0


def test_loss_of_nothing_sent_is_total() -> None:
    assert loss_pct(0, 0) == 100.0
    assert loss_pct(3, 3) == 0.0
    assert loss_pct(3, 1) == pytest.approx(200 / 3)


def test_summary_of_replies() -> None:
    metrics = summarize(5, [1.0, 3.0, 2.0])
    assert list(metrics) == list(METRIC_NAMES)
    assert metrics["sent"] == 5
    assert metrics["received"] == 3
    assert metrics["loss_pct"] == 40.0
    assert (metrics["rtt_min_ms"], metrics["rtt_avg_ms"], metrics["rtt_max_ms"]) == (1, 2, 3)
    assert metrics["rtt_mdev_ms"] == pytest.approx(statistics.pstdev([1.0, 3.0, 2.0]))
    assert metrics["jitter_ms"] == pytest.approx(1.5)


def test_summary_without_replies_has_no_rtt_metrics() -> None:
    metrics = summarize(4, [])
    assert metrics["loss_pct"] == 100.0
    assert all(metrics[name] is None for name in METRIC_NAMES if "ms" in name)


def test_percentiles_interpolate_linearly_like_numpys_default() -> None:
    ordered = [1.0, 2.0, 3.0, 4.0]
    # (n - 1) * p / 100: p90 -> rank 2.7 -> 3 + 0.7 * (4 - 3)
    assert percentile(ordered, 90) == pytest.approx(3.7)
    assert percentile(ordered, 50) == pytest.approx(2.5)
    assert percentile(ordered, 0) == 1.0 and percentile(ordered, 100) == 4.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_percentiles_match_the_statistics_module_inclusive_method() -> None:
    rtts = [0.3, 9.1, 1.7, 4.4, 2.2, 8.0, 5.5, 0.9, 3.3, 6.6, 7.1]
    ordered = sorted(rtts)
    # statistics.quantiles(method="inclusive") is the same linear rule as numpy's default.
    cuts = statistics.quantiles(rtts, n=100, method="inclusive")
    for p in (50, 90, 95, 99):
        assert percentile(ordered, p) == pytest.approx(cuts[p - 1])


def test_summary_has_median_and_percentiles() -> None:
    metrics = summarize(6, [4.0, 1.0, 3.0, 2.0])
    assert metrics["rtt_median_ms"] == pytest.approx(2.5)
    assert metrics["rtt_p50_ms"] == pytest.approx(2.5)
    assert metrics["rtt_p90_ms"] == pytest.approx(3.7)
    assert metrics["rtt_p95_ms"] == pytest.approx(3.85)
    assert metrics["rtt_p99_ms"] == pytest.approx(3.97)


def test_rtt_distribution_is_sorted_received_rtts() -> None:
    assert rtt_distribution([3.0, 1.0004, 2.0]) == [1.0, 2.0, 3.0]
    assert rtt_distribution([]) == []
