"""Every device sample is checked before it is stored; a refused one is counted, never lost
silently and never stored.

A device that reports 250 % CPU, a temperature of -273 °C (an unplugged sensor's sentinel)
or a negative rate has a bug or a broken sensor: storing the value would draw a lie on
the charts. Each refusal has a reason (``cpu_percent out of range 0..100``) that is kept
in the reading's errors and counted per reason in :class:`Rejections`, which the API shows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from netgauge.pollers.readings import (
    CPU_PERCENT,
    DISK_PERCENT,
    MEMORY_PERCENT,
    METRIC_LABEL,
    NET_IN_BYTES_PER_SEC,
    NET_OUT_BYTES_PER_SEC,
    TEMPERATURE_CELSIUS,
    UPTIME_SECONDS,
    Metric,
)


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds of a plausible value (None: unbounded on that side)."""

    low: float | None
    high: float | None

    def __str__(self) -> str:
        low = "" if self.low is None else f"{self.low:g}"
        high = "" if self.high is None else f"{self.high:g}"
        return f"{low}..{high}"

    def __contains__(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


REFUSED = "refused "
"""How an error line about a refused sample starts (``refused cpu_percent = 260.0: ...``)."""

PLAUSIBLE: dict[str, Range] = {
    CPU_PERCENT: Range(0.0, 100.0),
    MEMORY_PERCENT: Range(0.0, 100.0),
    DISK_PERCENT: Range(0.0, 100.0),
    # Silicon is specified from about -55 °C to 150 °C; outside -60..200 a sensor is broken
    # or reports a sentinel (-273, 255, 32767...).
    TEMPERATURE_CELSIUS: Range(-60.0, 200.0),
    NET_IN_BYTES_PER_SEC: Range(0.0, None),
    NET_OUT_BYTES_PER_SEC: Range(0.0, None),
    UPTIME_SECONDS: Range(0.0, None),
}


def refusal(metric: Metric) -> str | None:
    """Why ``metric`` must not be stored, or None when it may."""
    if metric.name not in PLAUSIBLE:
        return "unknown metric name"  # (the name is in the error line; counts stay bounded)
    if not math.isfinite(metric.value):
        return f"{metric.name} is not a finite number"
    plausible = PLAUSIBLE[metric.name]
    if metric.value not in plausible:
        return f"{metric.name} out of range {plausible}"
    label = METRIC_LABEL[metric.name]
    if label is not None and not metric.labels.get(label):
        return f"{metric.name} without its {label} label"
    if set(metric.labels) - {label}:
        return f"{metric.name} with labels other than {label or 'none'}"
    return None


class Rejections:
    """How many samples were refused, per reason (for the API and ``/metrics``)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def screen(self, metrics: Iterable[Metric]) -> tuple[list[Metric], list[str]]:
        """The metrics that may be stored, and one error line per refused one (counted)."""
        kept: list[Metric] = []
        errors: list[str] = []
        for metric in metrics:
            reason = refusal(metric)
            if reason is None:
                kept.append(metric)
                continue
            self._counts[reason] += 1  # reasons name the rule, not the value: they group
            errors.append(f"{REFUSED}{metric.series()} = {metric.value!r}: {reason}")
        return kept, errors

    def add(self, reason: str, count: int = 1) -> None:
        """Count ``count`` samples refused for ``reason`` outside :meth:`screen`."""
        self._counts[reason] += count

    def counts(self) -> dict[str, int]:
        """Refusals so far, by reason."""
        return dict(self._counts)

    @property
    def total(self) -> int:
        return sum(self._counts.values())
