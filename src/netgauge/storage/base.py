"""The storage seams: a Sink takes batches of samples, a Query reads series back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from netgauge.models import Sample

Aggregation = Literal["avg", "min", "max", "count", "p95"]


class Point(NamedTuple):
    """One point of a series: raw (count 1) or a step bucket with its summary.

    A named tuple, not a dataclass: a fleet query builds a million of these, and a tuple
    is made from a database row in C (``Point._make``)."""

    ts_ns: int
    value: float
    min: float
    max: float
    count: int  # type: ignore[assignment]  # shadows tuple.count, on purpose


@dataclass(frozen=True, slots=True)
class LatestValue:
    """The newest value of one series."""

    device_id: str
    metric_name: str
    ts_ns: int
    value: float


@dataclass(frozen=True)
class SinkHealth:
    """What a sink reports about itself for /api/v1/health."""

    name: str
    reachable: bool
    samples_written: int
    last_write_ns: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A sample a store cannot take, and why (a tag value its line protocol cannot carry).
    ``sample`` is None when the store said how many it dropped but not which (InfluxDB's
    partial write)."""

    sample: Sample | None
    reason: str


@runtime_checkable
class Sink(Protocol):
    """A place samples are written to. I/O only: batching and retries live in the writer."""

    name: str

    async def write(self, batch: Sequence[Sample]) -> list[Refusal]:
        """Store ``batch`` but for the samples it returns, each refused with why (one bad
        sample never costs the others); raise RetryableStorageError when nothing could be
        written and later may work, PermanentStorageError when the store refused the batch."""
        ...

    async def health(self) -> SinkHealth:
        """Reachability and counters."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


@runtime_checkable
class Query(Protocol):
    """Reads series back in one shape whichever backend answers."""

    async def points(
        self,
        device_id: str,
        metric_name: str,
        start_ns: int,
        end_ns: int,
        step_s: float | None = None,
        agg: Aggregation = "avg",
    ) -> list[Point]:
        """Samples of one series in [start, end); with ``step_s``, one aggregated point per step."""
        ...

    async def latest(self, measurement: str, device_id: str | None = None) -> list[LatestValue]:
        """The newest value of every series of ``measurement`` (optionally of one device)."""
        ...

    async def series(self, device_id: str | None = None) -> list[tuple[str, str, str]]:
        """(measurement, device_id, metric_name) of every known series."""
        ...

    async def rounds(
        self, device_id: str, kind: str, start_ns: int, end_ns: int, limit: int
    ) -> list[tuple[int, dict[str, float]]]:
        """Per instant, every ``<kind>.*`` metric of one device (one probe round each)."""
        ...
