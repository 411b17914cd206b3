"""The login throttle's arithmetic, on a fake clock: counted before the check, per (user,
address) and per address, exponential backoff up to the lockout, forgotten after a quiet
window."""

from __future__ import annotations

import pytest

from netgauge.auth.throttle import LoginThrottle, Throttled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, user: str = "alice", address: str = "10.0.0.1") -> None:
    throttle.failed(throttle.begin(user, address))


def test_attempts_in_flight_count_before_their_password_is_checked() -> None:
    throttle = LoginThrottle(max_failures=5, clock=Clock())
    attempts = [throttle.begin("alice", "10.0.0.1") for _ in range(5)]
    with pytest.raises(Throttled):
        throttle.begin("alice", "10.0.0.1")  # five are being checked: a sixth waits
    throttle.succeeded(attempts[0])  # a right password gives its place back
    throttle.begin("alice", "10.0.0.1")


def test_the_wait_doubles_from_the_limit_up_to_the_lockout() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, lockout_s=10.0, clock=clock)
    waits = []
    for _ in range(8):
        fail(throttle)
        waits.append(throttle.retry_after("alice", "10.0.0.1"))
        clock.now += waits[-1]  # wait it out, then guess again
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_lock_holds_for_its_pair_and_address_only() -> None:
    throttle = LoginThrottle(max_failures=3, clock=Clock())
    for _ in range(3):
        fail(throttle, address="10.0.0.1")
    with pytest.raises(Throttled):
        throttle.begin("alice", "10.0.0.1")
    with pytest.raises(Throttled):
        throttle.begin("bob", "10.0.0.1")  # that address guesses at other users too
    throttle.succeeded(throttle.begin("alice", "10.0.0.2"))  # alice, elsewhere, is not


def test_a_quiet_window_forgets_failures_and_success_clears_the_pair() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, window_s=60.0, clock=clock)
    fail(throttle)
    fail(throttle)
    clock.now += 61
    fail(throttle)
    fail(throttle)
    assert throttle.retry_after("alice", "10.0.0.1") == 0.0  # 2 + 2, never 3 in a window
    # a right password clears the pair (alice may fail twice more), not the address's
    # count: one good account does not reset guessing at others from the same place
    throttle.succeeded(throttle.begin("alice", "10.0.0.1"))
    fail(throttle, user="bob")
    assert throttle.retry_after("carol", "10.0.0.1") == 1.0
    assert throttle.retry_after("alice", "10.0.0.2") == 0.0


def test_an_abandoned_attempt_counts_for_nothing() -> None:
    throttle = LoginThrottle(max_failures=1, clock=Clock())
    throttle.abandoned(throttle.begin("alice", "10.0.0.1"))
    fail(throttle)
    assert throttle.retry_after("alice", "10.0.0.1") == 1.0


@pytest.mark.parametrize("second", ["succeeded", "failed", "abandoned"])
def test_two_logins_of_one_pair_at_once_both_finish(second: str) -> None:
    """Two right passwords of one user from one address at once (two tabs; a standby
    forwarding to its leader): the first to finish must not take the second's key away
    (it did: a KeyError, a 500, found by the HA test)."""
    throttle = LoginThrottle(max_failures=5, clock=Clock())
    fail(throttle)
    first, other = throttle.begin("alice", "10.0.0.1"), throttle.begin("alice", "10.0.0.1")
    throttle.succeeded(first)
    getattr(throttle, second)(other)
    assert throttle.retry_after("alice", "10.0.0.1") == 0
    throttle.succeeded(throttle.begin("alice", "10.0.0.1"))  # and the next one is let in
