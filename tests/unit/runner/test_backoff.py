"""Offline devices are polled on runs 1, 2, 4, 8, then every 16th; at once when back."""

from __future__ import annotations

from netgauge.runner.backoff import PollBackoff


def tries(backoff: PollBackoff, runs: int, *, offline: bool = True) -> list[int]:
    return [run for run in range(1, runs + 1) if backoff.due("j", "d", offline=offline)]


def test_an_offline_device_is_tried_less_and_less_often() -> None:
    assert tries(PollBackoff(), 64) == [1, 3, 7, 15, 31, 47, 63]


def test_a_device_back_online_is_polled_every_run_and_the_backoff_restarts() -> None:
    backoff = PollBackoff()
    tries(backoff, 20)
    assert tries(backoff, 3, offline=False) == [1, 2, 3]
    assert tries(backoff, 4) == [1, 3]


def test_pairs_are_independent() -> None:
    backoff = PollBackoff(max_gap=4)
    assert backoff.due("a", "d", offline=True) and backoff.due("b", "d", offline=True)
    assert not backoff.due("a", "d", offline=True)


def test_a_device_that_answers_a_poll_is_polled_every_run_until_it_is_online() -> None:
    backoff = PollBackoff()
    assert tries(backoff, 20) == [1, 3, 7, 15]
    backoff.record("j", "d", answered=True)  # the last try answered: still "offline" for now
    assert tries(backoff, 3) == [1, 2, 3]  # recover_after needs the next polls, at once
    backoff.record("j", "d", answered=False)
    assert tries(backoff, 4) == [1, 3]
