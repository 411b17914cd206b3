"""Counters into rates: growth, 32-bit wrap, resets (64-bit decrease, uptime going down)."""

from __future__ import annotations

import pytest

from netgauge.pollers.rates import CounterReading, RateTracker, counter_delta, counter_rate

S = 1_000_000_000


def test_growth_over_time_is_a_rate() -> None:
    assert counter_rate(CounterReading(1000, 0), CounterReading(3000, 2 * S)) == 1000.0


def test_a_32_bit_counter_that_goes_down_wrapped_once() -> None:
    before, after = CounterReading(2**32 - 100, 0, bits=32), CounterReading(50, S, bits=32)
    assert counter_delta(before, after) == 150
    assert counter_rate(before, after) == 150.0


def test_a_64_bit_counter_that_goes_down_was_reset() -> None:
    assert counter_rate(CounterReading(10**12, 0), CounterReading(5, S)) is None


def test_switching_width_between_readings_is_not_taken_for_a_wrap() -> None:
    # e.g. the device stopped serving ifHCInOctets and we fell back to ifInOctets
    assert counter_delta(CounterReading(2**40, 0, 64), CounterReading(5, S, 32)) is None


@pytest.mark.parametrize("elapsed", [0, -S])
def test_no_time_passed_or_out_of_order_gives_no_rate(elapsed: int) -> None:
    assert counter_rate(CounterReading(1, S), CounterReading(2, S + elapsed)) is None


def test_the_tracker_needs_two_readings_then_gives_rates() -> None:
    tracker = RateTracker()
    assert tracker.rate("sw1", "if.1.in", CounterReading(100, 0)) is None
    assert tracker.rate("sw1", "if.1.in", CounterReading(300, 2 * S)) == 100.0
    assert tracker.rate("sw2", "if.1.in", CounterReading(300, 2 * S)) is None  # per device


def test_a_reboot_forgets_the_devices_counters_only() -> None:
    tracker = RateTracker()
    assert not tracker.device_restarted("sw1", 1000.0)
    tracker.rate("sw1", "if.1.in", CounterReading(5_000_000, 0))
    tracker.rate("sw2", "if.1.in", CounterReading(7, 0))
    assert not tracker.device_restarted("sw1", 1060.0)
    assert tracker.device_restarted("sw1", 3.0)  # uptime went down: rebooted
    # counters restarted near 0 but this is a new baseline, not a rate across the reboot
    assert tracker.rate("sw1", "if.1.in", CounterReading(900, 60 * S)) is None
    assert tracker.rate("sw1", "if.1.in", CounterReading(1900, 70 * S)) == 100.0
    assert tracker.rate("sw2", "if.1.in", CounterReading(17, 10 * S)) == 1.0
