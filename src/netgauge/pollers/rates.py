"""Counters into rates: interface octets (and CPU jiffies) become per-second values.

A device reports ever-growing counters; a rate needs two readings. Three things go wrong
in the field and each is handled here rather than in every protocol module:

* **wrap**: a 32-bit counter (ifInOctets) passes 2**32 - 1 and starts again near 0. A
  10 Gbit/s link wraps one every 3.4 s, so a 32-bit counter is only used when the device
  has no 64-bit one (ifHCInOctets). A decrease of a 32-bit counter is taken as one wrap.
* **reset**: the device rebooted (its uptime went down) or the agent restarted; every
  counter starts again from 0. The reading after a reset gives no rate (it would be
  either negative or a huge bogus spike); the one after it does. A 64-bit counter that
  goes down is a reset too: it cannot wrap in the lifetime of the hardware.
* **time**: two readings at the same instant, or out of order, give no rate.

No rate is ever negative: when in doubt, there is no sample (absent, not 0).
"""

from __future__ import annotations

from dataclasses import dataclass

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class CounterReading:
    """One reading of one counter: its value, its width in bits, and when it was taken."""

    value: int
    ts_ns: int
    bits: int = 64


def counter_delta(previous: CounterReading, current: CounterReading) -> int | None:
    """How much the counter grew between two readings; None when it was reset.

    A 32-bit counter that went down wrapped once; a 64-bit one that went down was reset.
    """
    if current.value >= previous.value:
        return current.value - previous.value
    if current.bits == 32 and previous.bits == 32:
        return current.value + (1 << 32) - previous.value
    return None


def counter_rate(previous: CounterReading, current: CounterReading) -> float | None:
    """Per-second growth between two readings, or None (reset, or no time passed)."""
    elapsed_ns = current.ts_ns - previous.ts_ns
    if elapsed_ns <= 0:
        return None
    delta = counter_delta(previous, current)
    if delta is None:
        return None
    return delta * NS_PER_S / elapsed_ns


class RateTracker:
    """Previous readings of every counter of every device, to turn the next into rates.

    ``device_restarted`` is called with each poll's uptime first: when it went down, every
    counter of that device is forgotten, so the first readings after a reboot set a new
    baseline instead of producing a rate across the reboot.
    """

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], CounterReading] = {}
        self._uptime: dict[str, float] = {}

    def device_restarted(self, device: str, uptime_s: float) -> bool:
        """Record ``device``'s uptime; True (and its counters forgotten) when it went down."""
        previous = self._uptime.get(device)
        self._uptime[device] = uptime_s
        if previous is None or uptime_s >= previous:
            return False
        self.forget(device)
        return True

    def rate(self, device: str, counter: str, current: CounterReading) -> float | None:
        """The rate of ``counter`` since its last reading on ``device`` (None the first time,
        after a reset, or when no time passed); ``current`` becomes the last reading."""
        key = (device, counter)
        previous = self._counters.get(key)
        self._counters[key] = current
        return None if previous is None else counter_rate(previous, current)

    def forget(self, device: str) -> None:
        """Drop every counter of ``device`` (rebooted, or removed from the inventory)."""
        for key in [key for key in self._counters if key[0] == device]:
            del self._counters[key]

    def __len__(self) -> int:
        return len(self._counters)
