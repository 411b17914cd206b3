"""Which reported metric is a target's latency, and which its loss: one rule for the
overview, the lists, the exports and reports.

Latency is, by probe kind, the first of these a result has: ICMP's median round trip
(SmokePing's line: one slow reply out of twenty does not move it), else its average (older
data, agents); TCP's connect time; HTTP's total time, else time to first byte; DNS's query
time; a traceroute's round trip to the destination. Loss is ``loss_pct`` of ICMP or a
traceroute. Where several jobs check one target, the worst of them counts.
"""

from __future__ import annotations

from collections.abc import Iterable

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


__all__ = ["LATENCY_BY_KIND", "LATENCY_SERIES", "LOSS_SERIES", "latency_and_loss"]
