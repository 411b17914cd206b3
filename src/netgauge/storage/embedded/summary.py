"""The summary a rollup keeps of a bucket (count, sum, min, max, p95) and how they combine.

p95 is the nearest rank, rounded as InfluxQL's ``percentile()`` does, so the embedded store
and InfluxDB agree. A bucket built from several rollup rows reports the largest of their
p95s: an upper bound, exact whenever a step holds one rollup bucket (step = resolution).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from netgauge.storage.base import Aggregation, Point


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (InfluxQL's rounding)."""
    ordered = sorted(values)
    return ordered[max(0, math.floor(len(ordered) * 0.95 + 0.5) - 1)]


@dataclass(frozen=True, slots=True)
class Summary:
    """A rollup row."""

    n: int
    sum: float
    min: float
    max: float
    p95: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """The exact summary of raw values (at least one)."""
        # a plain sum in time order, as InfluxDB and VictoriaMetrics add: the same last bit
        return cls(len(values), sum(values), min(values), max(values), p95(values))


@dataclass(slots=True)
class Bucket:
    """A step bucket being filled from raw values and rollup rows."""

    values: list[float] = field(default_factory=list)
    rows: list[Summary] = field(default_factory=list)

    def point(self, ts: int, agg: Aggregation) -> Point:
        """The bucket as an API point; ``value`` is the aggregation asked for."""
        parts = list(self.rows)
        if self.values:
            parts.append(Summary.of(self.values))
        n = sum(p.n for p in parts)
        lo, hi = min(p.min for p in parts), max(p.max for p in parts)
        if agg == "avg":
            value = sum(p.sum for p in parts) / n
        elif agg == "p95":
            value = parts[0].p95 if len(parts) == 1 else max(p.p95 for p in parts)
        else:
            value = {"min": lo, "max": hi, "count": float(n)}[agg]
        return Point(ts, value, lo, hi, n)


def bucketed(
    samples: Iterable[tuple[int, float]], origin: int, step: int, agg: Aggregation
) -> list[Point]:
    """Time-ordered (ts, value) samples as step buckets from ``origin``, as the embedded
    store sums them up (every backend that buckets raw samples itself uses this)."""
    buckets: dict[int, Bucket] = {}
    for ts, value in samples:
        buckets.setdefault(origin + (ts - origin) // step * step, Bucket()).values.append(value)
    return [buckets[b].point(b, agg) for b in sorted(buckets)]
