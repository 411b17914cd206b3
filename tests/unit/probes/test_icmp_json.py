"""``probe icmp --json`` rows are written by hand for speed: byte for byte what
``json.dumps(row, separators=(",", ":"))`` gives for the documented row."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from netgauge.cli.probe_icmp import _render_json
from netgauge.models import ProbeResult, ProbeStatus, Target
from netgauge.probes.icmp_stats import DETAIL_RTTS, rtt_distribution, summarize

KEYS = (
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


def reference(target: Target, result: ProbeResult) -> str:
    """The row as the generic encoder writes it (the format's definition)."""
    metrics = result.metrics
    row: dict[str, Any] = {"target": target.name, "address": target.address}
    row["status"] = result.status.value
    row["sent"] = int(metrics.get("sent") or 0)
    row["received"] = int(metrics.get("received") or 0)
    row["loss_pct"] = metrics.get("loss_pct")
    row.update({name: metrics.get(name) for name in KEYS})
    row["rtts_ms"] = list(result.details.get(DETAIL_RTTS, []))
    row["error"] = result.error
    return json.dumps(row, separators=(",", ":"))


def result_of(sent: int, rtts: list[float], error: str | None = None) -> ProbeResult:
    status = ProbeStatus.OK if rtts else ProbeStatus.TIMEOUT
    details = {DETAIL_RTTS: rtt_distribution(rtts)}
    return ProbeResult("t", "icmp", 0, status, summarize(sent, rtts), error, details)


CASES = [
    (Target("198.18.0.1", "198.18.0.1"), result_of(1, [0.031857])),
    (Target("a.example", "192.0.2.7"), result_of(5, [0.1, 0.25, 1e-05, 12.5])),
    (Target("b.example", "2001:db8::1"), result_of(3, [], 'no "echo"\\ reply\n within 1 s')),
    (Target("bücher.example", "192.0.2.8"), result_of(0, [], "résolution ☹ failed")),
    (Target("z", "192.0.2.9"), result_of(2, [1e100, 123456789.0])),
]


@pytest.mark.parametrize(("target", "result"), CASES)
def test_a_row_is_what_the_generic_encoder_writes(target: Target, result: ProbeResult) -> None:
    line = _render_json([target], [result])
    assert line == reference(target, result)
    assert json.loads(line)["target"] == target.name


def test_unusual_numbers_fall_back_to_the_encoder() -> None:
    metrics: dict[str, float | None] = dict(summarize(1, [0.5]))
    # Not produced by the probe today; written exactly as json.dumps would all the same.
    metrics.update(rtt_min_ms=-0.0, rtt_avg_ms=math.inf, rtt_max_ms=math.nan, jitter_ms=0.0)
    metrics["sent"] = 1  # an int where a float is usual
    result = ProbeResult("t", "icmp", 0, ProbeStatus.OK, metrics, None, {DETAIL_RTTS: [0.5]})
    target = Target("t", "192.0.2.1")
    assert _render_json([target], [result]) == reference(target, result)


def test_rows_are_one_per_line_in_order() -> None:
    targets, results = zip(*CASES, strict=True)
    lines = _render_json(targets, results).split("\n")
    assert lines == [reference(t, r) for t, r in CASES]
