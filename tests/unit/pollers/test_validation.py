"""Samples are checked before storage: refused ones are reported and counted by reason."""

from __future__ import annotations

import math

import pytest

from netgauge.pollers.readings import DeviceReading, DeviceState, Metric
from netgauge.pollers.validation import Rejections, refusal


@pytest.mark.parametrize(
    "metric",
    [
        Metric("cpu_percent", 0.0),
        Metric("cpu_percent", 100.0),
        Metric("memory_percent", 42.5),
        Metric("disk_percent", 99.9, {"mount": "/"}),
        Metric("temperature_celsius", -20.0, {"sensor": "cpu0"}),
        Metric("net_in_bytes_per_sec", 0.0, {"interface": "eth0"}),
        Metric("net_out_bytes_per_sec", 1.25e9, {"interface": "eth0"}),
        Metric("uptime_seconds", 12.0),
    ],
)
def test_plausible_samples_pass(metric: Metric) -> None:
    assert refusal(metric) is None


@pytest.mark.parametrize(
    ("metric", "reason"),
    [
        (Metric("cpu_percent", 250.0), "cpu_percent out of range 0..100"),
        (Metric("memory_percent", -1.0), "memory_percent out of range 0..100"),
        (Metric("temperature_celsius", -273.0, {"sensor": "t"}), "out of range -60..200"),
        (Metric("temperature_celsius", 32767.0, {"sensor": "t"}), "out of range -60..200"),
        (Metric("net_in_bytes_per_sec", -5.0, {"interface": "e"}), "out of range 0.."),
        (Metric("cpu_percent", math.nan), "not a finite number"),
        (Metric("disk_percent", 5.0), "disk_percent without its mount label"),
        (Metric("fan_rpm", 5.0), "unknown metric name"),
        (Metric("cpu_percent", 5.0, {"core": "0"}), "cpu_percent with labels other than none"),
        (Metric("disk_percent", 5.0, {"mount": "/", "x": "y"}), "labels other than mount"),
    ],
)
def test_implausible_samples_are_refused_with_a_reason(metric: Metric, reason: str) -> None:
    found = refusal(metric)
    assert found is not None and reason in found


def test_rejections_keep_the_good_report_the_bad_and_count_by_reason() -> None:
    rejections = Rejections()
    good = Metric("cpu_percent", 50.0)
    kept, errors = rejections.screen([good, Metric("cpu_percent", 101.0)])
    rejections.screen([Metric("cpu_percent", 300.0)])
    assert kept == [good]
    assert errors == ["refused cpu_percent = 101.0: cpu_percent out of range 0..100"]
    assert rejections.counts() == {"cpu_percent out of range 0..100": 2}
    assert rejections.total == 2


def test_the_json_shape_of_a_reading() -> None:
    reading = DeviceReading(
        "sw1",
        "snmp",
        0,
        DeviceState.ONLINE,
        (Metric("disk_percent", 12.5, {"mount": "/var"}),),
        ("no temperature sensor",),
        sources={"uptime_seconds": "hrSystemUptime"},
    )
    assert reading.to_json() == {
        "device": "sw1",
        "status": "online",
        "metrics": [{"name": "disk_percent", "value": 12.5, "labels": {"mount": "/var"}}],
        "errors": ["no temperature sensor"],
        "sources": {"uptime_seconds": "hrSystemUptime"},
    }
    assert reading.metrics[0].series() == 'disk_percent{mount="/var"}'
