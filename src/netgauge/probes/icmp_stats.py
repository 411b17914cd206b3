"""Pure statistics of one target's echo replies: loss, RTT summary, jitter, percentiles.

One probe run is one *round* (``count`` packets per target); every metric is over that round.

Definitions (the metric names in ``ProbeResult.metrics`` are stable):

* ``sent``: echo requests the probe tried to send, *including* those the kernel refused
  (e.g. EHOSTUNREACH): like ping's "errors", a refused request is a lost one. The result's
  ``error`` says how many were refused and why.
* ``received``: replies that arrived within the per-packet timeout. A reply that arrives
  after its timeout is *lost* (as with ping -W), so it never counts here.
* ``loss_pct``: ``100 * (sent - received) / sent``; 100.0 when nothing could be sent.
* ``rtt_min_ms`` / ``rtt_avg_ms`` / ``rtt_max_ms``: over the received replies.
* ``rtt_median_ms``: the middle received RTT (mean of the two middle ones for an even count).
* ``rtt_p50_ms`` / ``rtt_p90_ms`` / ``rtt_p95_ms`` / ``rtt_p99_ms``: percentiles by *linear
  interpolation between closest ranks*, numpy's default (``method="linear"``): for sorted
  RTTs x[0..n-1], p-th percentile = x[i] + (x[i+1] - x[i]) * f where i + f = (n - 1) * p / 100.
  So p50 equals the median, p0 the minimum, p100 the maximum; with one reply all are that RTT.
* ``rtt_mdev_ms``: population standard deviation as Linux ``ping`` reports it,
  ``sqrt(mean(rtt^2) - mean(rtt)^2)`` (computed in the numerically stable equivalent form).
* ``jitter_ms``: mean absolute difference of consecutive *received* RTTs taken in send
  order (lost packets are skipped, not counted as zero); None with fewer than 2 replies.

Every RTT metric is None when no reply arrived: absent, never zero.

The round's RTT distribution (sorted received RTTs in ms, for smoke charts) is not a metric:
``rtt_distribution`` gives it for ``ProbeResult.details["rtts_ms"]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

METRIC_NAMES = (
    "sent",
    "received",
    "loss_pct",
    "rtt_min_ms",
    "rtt_avg_ms",
    "rtt_max_ms",
    "rtt_mdev_ms",
    "jitter_ms",
    "rtt_median_ms",
    "rtt_p50_ms",
    "rtt_p90_ms",
    "rtt_p95_ms",
    "rtt_p99_ms",
)
PERCENTILES = (50, 90, 95, 99)
DETAIL_RTTS = "rtts_ms"
"""Key of ``ProbeResult.details`` holding the round's sorted received RTTs (ms)."""


def on_time_rtts(rtts_ns: Sequence[int | None], timeout_ns: int) -> list[float]:
    """RTTs in ms of replies that arrived within ``timeout_ns``, in send order (late = lost)."""
    return [rtt / 1e6 for rtt in rtts_ns if rtt is not None and rtt <= timeout_ns]


def loss_pct(sent: int, received: int) -> float:
    """Percentage of sent packets without an on-time reply; 100.0 when nothing was sent."""
    if sent <= 0:
        return 100.0
    return 100.0 * (sent - received) / sent


def mdev(rtts: Sequence[float]) -> float | None:
    """Population standard deviation as Linux ping: sqrt(mean(x^2) - mean(x)^2).

    Computed as sqrt(mean((x - mean)^2)), the same quantity, because the textbook form
    loses every significant digit to cancellation when the RTTs are nearly equal.
    """
    if not rtts:
        return None
    mean = sum(rtts) / len(rtts)
    return math.sqrt(sum((r - mean) ** 2 for r in rtts) / len(rtts))


def jitter(rtts: Sequence[float]) -> float | None:
    """Mean absolute difference of consecutive received RTTs; None for fewer than 2."""
    if len(rtts) < 2:
        return None
    diffs = [abs(b - a) for a, b in zip(rtts, rtts[1:], strict=False)]
    return sum(diffs) / len(diffs)


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0..100) of sorted values, linear like numpy's default."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * p / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rtt_distribution(rtts: Sequence[float]) -> list[float]:
    """The round's received RTTs (ms) sorted ascending, rounded to the microsecond."""
    if len(rtts) < 2:  # the common one-packet round: nothing to sort
        return [round(rtt, 3) for rtt in rtts]
    return sorted([round(rtt, 3) for rtt in rtts])


_NO_RTT: dict[str, float | None] = dict.fromkeys(METRIC_NAMES[3:])
_PERCENTILE_KEYS = tuple((f"rtt_p{p}_ms", p) for p in PERCENTILES)


def summarize(sent: int, rtts: Sequence[float]) -> dict[str, float | None]:
    """All metrics of one target from the count sent and the on-time RTTs (ms, send order).

    Called once per target of a round (10,000 at a time from the CLI), so it sorts once and
    gives one reply its exact values without the general arithmetic (same results: with
    one value every spread is 0 and every percentile is that value).
    """
    received = len(rtts)
    if received == 1:
        return _summarize_one(sent, rtts[0])
    metrics: dict[str, float | None] = {
        "sent": float(sent),
        "received": float(received),
        "loss_pct": loss_pct(sent, received),
    }
    if received == 0:
        metrics.update(_NO_RTT)
    else:
        _summarize_many(metrics, rtts)
    return metrics


def _summarize_one(sent: int, rtt: float) -> dict[str, float | None]:
    """The metrics of a single reply: no spread, and every percentile is that RTT."""
    return {
        "sent": float(sent),
        "received": 1.0,
        "loss_pct": loss_pct(sent, 1),
        "rtt_min_ms": rtt,
        "rtt_avg_ms": rtt,
        "rtt_max_ms": rtt,
        "rtt_mdev_ms": 0.0,
        "jitter_ms": None,
        "rtt_median_ms": rtt,
        "rtt_p50_ms": rtt,
        "rtt_p90_ms": rtt,
        "rtt_p95_ms": rtt,
        "rtt_p99_ms": rtt,
    }


def _summarize_many(metrics: dict[str, float | None], rtts: Sequence[float]) -> None:
    """Fill the RTT metrics of two or more replies into ``metrics`` (in METRIC_NAMES order)."""
    ordered = sorted(rtts)
    metrics["rtt_min_ms"] = ordered[0]
    metrics["rtt_avg_ms"] = sum(rtts) / len(rtts)
    metrics["rtt_max_ms"] = ordered[-1]
    metrics["rtt_mdev_ms"] = mdev(rtts)
    metrics["jitter_ms"] = jitter(rtts)
    metrics["rtt_median_ms"] = percentile(ordered, 50)
    for name, p in _PERCENTILE_KEYS:
        metrics[name] = percentile(ordered, p)
