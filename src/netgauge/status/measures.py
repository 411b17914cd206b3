"""Which reported metric is a target's latency, and which its loss: one rule for the
overview, the lists, the exports and reports.

Latency is, by probe kind, the first of these a result has: ICMP's median round trip
(SmokePing's line: one slow reply out of twenty does not move it), else its average (older
data, agents); TCP's connect time; HTTP's total time, else time to first byte; DNS's query
time; a traceroute's round trip to the destination. Loss is ``loss_pct`` of ICMP or a
traceroute. Where several jobs check one target, the worst of them counts.

How bad a loss is reads on SmokePing's scale (:data:`LOSS_SCALE`): the smoke charts' dots,
their legend and the lists' loss column all take their bands and colours from it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netgauge.models import ProbeResult

LATENCY_BY_KIND: dict[str, tuple[str, ...]] = {
    "icmp": ("rtt_median_ms", "rtt_avg_ms"),
    "tcp": ("connect_ms",),
    "http": ("total_ms", "ttfb_ms"),
    "dns": ("query_ms",),
    "traceroute": ("rtt_ms",),
}
# the same as stored series names, in that order (a report takes the first a target has)
LATENCY_SERIES: tuple[str, ...] = tuple(
    f"{kind}.{name}" for kind, names in LATENCY_BY_KIND.items() for name in names
)
LOSS_SERIES: tuple[str, ...] = ("icmp.loss_pct", "traceroute.loss_pct")
# a device's traffic: the metric of each direction (per interface label), in bytes/s;
# charts and the billing sheet show bits/s
TRAFFIC_DIRECTIONS: dict[str, str] = {"net_in_bytes_per_sec": "in", "net_out_bytes_per_sec": "out"}


def billing_p95(values: Sequence[float]) -> float | None:
    """The 95th percentile as transit is billed: sort the 5-minute samples, drop the top
    5 %, the highest left (the ⌈0.95·n⌉-th smallest); None without samples. The XLSX's
    "traffic 95th" sheet and the traffic charts' dashed line (charts.js ``p95``, the same
    arithmetic) use it. The stores' ``p95`` aggregation is InfluxQL's nearest rank instead
    (⌊0.95·n + 0.5⌋-th), so that netgauge and InfluxDB agree; the two differ by one rank
    only where 5 % of the samples is not a whole number (never for a 30-day month)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class LossBand:
    """Losses below ``below`` percent (None: the rest) that are not in an earlier band."""

    below: float | None
    label: str
    colour: str


# SmokePing's loss colours: none, then < 5, < 10, < 25, < 50, >= 50 %
LOSS_SCALE: tuple[LossBand, ...] = (
    LossBand(0.0, "0 %", "#26ff00"),  # below 0 never: 0 % is its own band (see loss_band)
    LossBand(5.0, "< 5 %", "#00b8ff"),
    LossBand(10.0, "< 10 %", "#0059ff"),
    LossBand(25.0, "< 25 %", "#7e00ff"),
    LossBand(50.0, "< 50 %", "#ff00ea"),
    LossBand(None, "≥ 50 %", "#ff0000"),
)


def loss_band(loss: float | None) -> int:
    """The index in :data:`LOSS_SCALE` of a loss in percent (none or 0: the first)."""
    if loss is None or loss <= 0:
        return 0
    for index, band in enumerate(LOSS_SCALE[1:], start=1):
        if band.below is None or loss < band.below:
            return index
    return len(LOSS_SCALE) - 1


def loss_scale_json() -> str:
    """The scale for the browser's charts (``charts.js`` colours dots by it)."""
    return json.dumps(
        [{"below": b.below, "label": b.label, "colour": b.colour} for b in LOSS_SCALE]
    )


def latency_and_loss(results: Iterable[ProbeResult]) -> tuple[float | None, float | None]:
    """The current latency (ms) and loss (%) of a target from its newest results (the
    worst of its jobs); None where none says."""
    latency = loss = None
    for result in results:
        metrics = result.metrics
        value = metrics.get("loss_pct")
        if value is not None and (loss is None or value > loss):
            loss = value
        for key in LATENCY_BY_KIND.get(result.kind, ()):
            value = metrics.get(key)
            if value is not None:
                if latency is None or value > latency:
                    latency = value
                break
    return latency, loss


__all__ = [
    "LATENCY_BY_KIND",
    "LATENCY_SERIES",
    "LOSS_SCALE",
    "LOSS_SERIES",
    "TRAFFIC_DIRECTIONS",
    "billing_p95",
    "LossBand",
    "latency_and_loss",
    "loss_band",
    "loss_scale_json",
]
