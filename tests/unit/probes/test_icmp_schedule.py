"""The send plan: steps from the planned time so coarse timers do not stretch the pace."""

from __future__ import annotations

from netgauge.probes.icmp_engine import next_on_timeline

MS = 1_000_000


def test_on_time_sends_step_from_the_plan() -> None:
    assert next_on_timeline(100 * MS, 100 * MS, 10 * MS) == 110 * MS


def test_a_late_wake_up_is_caught_up_on_the_next_send() -> None:
    # Woke 1 ms late: the next send stays on the plan (9 ms later), not 10 ms after waking.
    assert next_on_timeline(100 * MS, 101 * MS, 10 * MS) == 110 * MS


def test_sub_millisecond_pace_keeps_its_average_rate() -> None:
    clock = planned = sends = 0
    while clock < 100 * MS:  # bounded: the clock advances at least every 10 sends
        if planned > clock:
            clock = planned + MS  # a sleep until the planned time wakes 1 ms late
        planned = next_on_timeline(planned, clock, MS // 10)
        sends += 1
    assert 950 <= sends <= 1020  # about 100 ms / 0.1 ms, not 100 ms / 1.1 ms


def test_a_long_stall_restarts_the_plan_instead_of_bursting() -> None:
    # 500 ms stall: the next send is due one step after (now - 2 ms), never 50 at once.
    assert next_on_timeline(100 * MS, 600 * MS, 10 * MS) == 608 * MS
