"""Device polls back off while the device is offline: the status job keeps watching it,
the heavier metric polls (SNMP walks, SSH logins, WinRM queries) stop hammering it.

While a device's decided state is offline, a poll job tries it on the first run, then
after skipping 1, 3, 7 and 15 runs, then every 16th run (by default: ``max_gap``); once the
device is anything but offline, every run polls it again. Pure book-keeping: the caller
says what the device's state is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Skips:
    skipped: int = 0  # runs skipped since the last try
    gap: int = 1  # runs to skip before the next try


class PollBackoff:
    """Which (job, device) pairs are due, given whether the device is offline."""

    def __init__(self, max_gap: int = 16) -> None:
        if max_gap < 1:
            raise ValueError("max_gap must be at least 1")
        self.max_gap = max_gap
        self._pairs: dict[tuple[str, str], _Skips] = {}
        # pairs whose last poll answered: polled every run even while the device is still
        # offline, so that recover_after good polls come one run after another
        self._answered: set[tuple[str, str]] = set()

    def due(self, job: str, device: str, *, offline: bool) -> bool:
        """Whether this run of ``job`` should poll ``device``."""
        key = (job, device)
        if not offline or key in self._answered:
            self._pairs.pop(key, None)
            return True
        skips = self._pairs.setdefault(key, _Skips())
        if skips.skipped + 1 >= skips.gap:
            skips.skipped, skips.gap = 0, min(skips.gap * 2, self.max_gap)
            return True
        skips.skipped += 1
        return False

    def record(self, job: str, device: str, *, answered: bool) -> None:
        """What this run's poll of ``device`` got: an answer ends the back-off."""
        key = (job, device)
        if answered:
            self._answered.add(key)
            self._pairs.pop(key, None)
        else:
            self._answered.discard(key)
