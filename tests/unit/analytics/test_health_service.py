"""The health score's service side with a fake store: which stored series feed which
component (labels to mounts and sensors, the first latency series of status.measures), the
windows it asks for, and the samples it writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from netgauge.analytics.health_service import HealthScores
from netgauge.config.model import SiteConfig, TargetConfig
from netgauge.inventory.repository import Inventory
from netgauge.models import DEVICE_METRICS, Sample, TargetType
from netgauge.storage.base import Aggregation, Point

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
END = int(NOW.timestamp() * 1e9)
H = 3600 * 10**9
HOUR0 = END // H * H  # the current (partial) hour


class Clock:
    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def hourly(values: list[float], count: int = 60) -> list[Point]:
    """Hourly points ending with the current hour."""
    start = HOUR0 - (len(values) - 1) * H
    return [Point(start + i * H, v, v, v, count) for i, v in enumerate(values)]


class Store:
    def __init__(self, series: dict[str, list[Point]]) -> None:
        self.data = series
        self.asked: list[tuple[str, int, float | None]] = []
        self.listed = 0

    async def points(
        self, target: str, metric: str, start: int, end: int, step: float | None, agg: Aggregation
    ) -> list[Point]:
        assert target == "sw1" and end == END and agg == "avg"
        self.asked.append((metric, start, step))
        return [p for p in self.data.get(metric, []) if start <= p.ts_ns < end]

    async def series(self, target: str | None) -> list[tuple[str, str, str]]:
        self.listed += 1
        return [(DEVICE_METRICS, "sw1", metric) for metric in self.data]


def test_a_device_is_read_from_its_series(inventory: Inventory) -> None:
    inventory.put_site(SiteConfig(name="s1"), "test")
    device = TargetConfig(name="sw1", address="127.0.0.1", type=TargetType.DEVICE, site="s1")
    inventory.put_target(device, "test", admin=True)
    store = Store({
        "status": hourly([1.0] * 30),  # 30 hours: 25 fall in the 24 h window
        "cpu_percent": hourly([85.0] * 3),
        "memory_percent": hourly([50.0] * 3),
        'disk_percent{mount="/"}': hourly([84.0] * 3),
        'temperature_celsius{sensor="cpu"}': hourly([70.0, 60.0]),
        "tcp.connect_ms": hourly([99.0] * 26),  # after icmp in status.measures' order
        "icmp.rtt_median_ms": hourly([10.0] * 24 + [20.0]),
    })  # fmt: skip
    written: list[Sample] = []
    scores = HealthScores(store.points, store.series, inventory, written.extend, Clock())
    board = asyncio.run(scores.recompute())
    health = board.targets["sw1"].health
    data = {c.name: dict(c.data) for c in health.components}
    assert data["availability_24h"]["samples"] == 25 * 60
    assert data["availability_7d"]["samples"] == 30 * 60
    assert data["flapping"] == {"changes": 0}  # a device: no transition recorded
    assert data["resources"] == {"cpu_mean_percent": 85.0, "memory_mean_percent": 50.0}
    assert data["disk"]["mount"] == "/" and data["disk"]["slope_per_day"] == 0
    assert data["temperature"] == {"sensor": "cpu", "celsius": 70.0}
    assert data["latency_loss"]["latency_ratio"] == 2.0  # icmp's, not tcp's
    assert data["error_rate"] == {"errors": 0}  # checked (status in 24 h), no entry
    # windows on whole hours: 24 h and 7 days back from the hour of now - 24 h / - 7 d
    starts = {metric: start for metric, start, _ in store.asked}
    assert starts["cpu_percent"] == (END - 24 * H) // H * H
    assert starts["status"] == (END - 7 * 24 * H) // H * H
    assert all(step == 3600 for _, _, step in store.asked)
    assert health.score is not None
    assert written == [
        Sample(DEVICE_METRICS, "sw1", "health_score", health.score, END),
        Sample(DEVICE_METRICS, "s1", "site_health_score", health.score, END),
    ]
    assert board.sites["s1"].health.worst == "sw1"


def test_a_target_without_data_writes_nothing(inventory: Inventory) -> None:
    inventory.put_target(TargetConfig(name="sw1", address="127.0.0.1"), "test", admin=True)
    written: list[Sample] = []
    store = Store({})
    board = asyncio.run(HealthScores(store.points, store.series, inventory, written.extend,
                                     Clock()).recompute())  # fmt: skip
    assert board.targets["sw1"].health.score is None and written == []


def test_concurrent_first_requests_compute_once(inventory: Inventory) -> None:
    store = Store({})
    scores = HealthScores(store.points, store.series, inventory, lambda s: None, Clock())

    async def three() -> None:
        await asyncio.gather(*(scores.current() for _ in range(3)))

    asyncio.run(three())
    assert store.listed == 1  # one recompute reads the series list once
