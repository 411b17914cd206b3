"""Login throttling: after ``max_failures`` failed logins within ``window_s`` for one user
name, or from one address, further attempts are refused for ``lockout_s`` without checking
the password (so guessing costs the attacker time, not our CPU)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    """Failure counts per user and per client address (in memory: a restart resets them)."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 900.0,
        lockout_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures, self.window_s, self.lockout_s = max_failures, window_s, lockout_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until ``user`` from ``address`` may try again (0: now)."""
        now = self._clock()
        waits = [self._locked_until.get(k, 0.0) - now for k in _keys(user, address)]
        return max(0.0, *waits)

    def failed(self, user: str, address: str) -> None:
        """Count a failed login; lock the user or address out at the limit."""
        now = self._clock()
        for key in _keys(user, address):
            times = self._failures.setdefault(key, deque())
            times.append(now)
            while times and times[0] < now - self.window_s:
                times.popleft()
            if len(times) >= self.max_failures:
                self._locked_until[key] = now + self.lockout_s
                times.clear()

    def succeeded(self, user: str, address: str) -> None:
        """A good login clears the user's count (not the address's: one good account must
        not reset guessing at others from the same place)."""
        self._failures.pop(f"user:{user.lower()}", None)


def _keys(user: str, address: str) -> tuple[str, str]:
    return f"user:{user.lower()}", f"addr:{address}"
