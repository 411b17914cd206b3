"""Login throttling, per (user name, address) and per address, with exponential backoff.

* A key's failures count while they keep coming: ``window_s`` after its last failure, a
  key starts from zero again.
* From its ``max_failures``-th failure on, a key is locked out: 1 s, then twice as long
  at each further failure, at most ``lockout_s``. A locked key's attempts are refused
  without looking at the password, so guessing costs the guesser time, not our CPU.
* The lock is per (user, address), never per user alone: a client elsewhere cannot lock
  anybody out of their account. Per address too (``address_max_failures``, by default
  the same limit), so one client guessing across many accounts is slowed as well.
* Check and count are one step: an attempt is counted as a failure *before* its password
  is hashed (:meth:`LoginThrottle.begin`) and only taken back when it succeeds. Parallel
  guesses cannot all pass a check that the first of them has not yet failed: at most
  ``max_failures`` minus the key's failures may be in flight, one once it is at the limit.

In memory: a restart forgets it (the lockouts are minutes long, the argon2 cost stays);
keys quiet for a window are pruned once there are more than ``MAX_KEYS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

FIRST_LOCK_S = 1.0
MAX_KEYS = 100_000  # beyond this many keys, quiet ones are pruned (memory stays bounded)


@dataclass
class _Key:
    failures: int = 0
    last_failure: float = float("-inf")
    locked_until: float = float("-inf")
    in_flight: int = 0


@dataclass(frozen=True)
class Attempt:
    """One login being checked: the keys it holds a place in."""

    keys: tuple[str, ...]
    finished: list[bool] = field(default_factory=lambda: [False])


class Throttled(Exception):
    """Refused without checking: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after


class LoginThrottle:
    """Failure counts per (user, address) and per address; see the module docstring."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 900.0,
        lockout_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        address_max_failures: int | None = None,
    ) -> None:
        self.max_failures, self.window_s, self.lockout_s = max_failures, window_s, lockout_s
        self.address_max_failures = address_max_failures or max_failures
        self._clock = clock
        self._keys: dict[str, _Key] = {}

    def begin(self, user: str, address: str) -> Attempt:
        """Take a place for one attempt of ``user`` from ``address`` (counted as failed until
        :meth:`succeeded`), or raise :class:`Throttled` with the wait."""
        now = self._clock()
        if len(self._keys) > MAX_KEYS:
            self._prune(now)
        names = _names(user, address)
        limits = (self.max_failures, self.address_max_failures)
        keys = [self._fresh(name, now) for name in names]
        wait = max(key.locked_until - now for key in keys)
        if wait > 0:
            raise Throttled(wait)
        for key, limit in zip(keys, limits, strict=True):
            if key.in_flight >= max(1, limit - key.failures):
                raise Throttled(FIRST_LOCK_S)  # as many guesses in flight as may fail
        for key in keys:
            key.in_flight += 1
        return Attempt(names)

    def failed(self, attempt: Attempt) -> None:
        """The attempt's password was wrong: count it; lock a key at its limit."""
        if not self._finish(attempt):
            return
        now = self._clock()
        limits = (self.max_failures, self.address_max_failures)
        for name, limit in zip(attempt.keys, limits, strict=True):
            key = self._keys[name]
            key.failures += 1
            key.last_failure = now
            if key.failures >= limit:
                doubling = min(key.failures - limit, 30)
                key.locked_until = now + min(self.lockout_s, FIRST_LOCK_S * 2**doubling)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the (user, address) pair starts afresh (not the address:
        one good account must not reset guessing at others from the same place)."""
        if not self._finish(attempt):
            return
        key = self._keys.get(attempt.keys[0])
        if key is None:
            return
        if key.in_flight == 0:
            del self._keys[attempt.keys[0]]
        else:  # another attempt of the pair is in flight and will finish on this key
            key.failures, key.locked_until = 0, 0.0

    def abandoned(self, attempt: Attempt) -> None:
        """The attempt was not decided (the server was too busy): its place is given back."""
        self._finish(attempt)

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until ``user`` from ``address`` may try again (0: now)."""
        now = self._clock()
        found = [self._keys.get(name) for name in _names(user, address)]
        return max([0.0, *(key.locked_until - now for key in found if key is not None)])

    def _prune(self, now: float) -> None:
        quiet = [
            name
            for name, key in self._keys.items()
            if key.in_flight == 0
            and now >= key.locked_until
            and now - key.last_failure > self.window_s
        ]
        for name in quiet:
            del self._keys[name]

    def _finish(self, attempt: Attempt) -> bool:
        if attempt.finished[0]:
            return False
        attempt.finished[0] = True
        for name in attempt.keys:
            self._keys[name].in_flight -= 1
        return True

    def _fresh(self, name: str, now: float) -> _Key:
        key = self._keys.setdefault(name, _Key())
        quiet = now - key.last_failure > self.window_s and now >= key.locked_until
        if quiet and key.in_flight == 0 and key.failures:
            key.failures = 0  # quiet for a window: forgotten
        return key


def _names(user: str, address: str) -> tuple[str, str]:
    return f"pair:{user.lower()}\0{address}", f"addr:{address}"
