"""Configuration impact's reading side with a fake store: which targets a change touches
(target, site, schedule, job, deleted job), the windows it reads, and the bounds on how much
one request may read."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from netgauge.analytics.impact_service import ImpactAnalysis
from netgauge.config.model import JobConfig, SiteConfig, TargetConfig
from netgauge.config.schedules import ScheduleConfig
from netgauge.inventory.repository import Inventory
from netgauge.storage.base import Aggregation, Point


class Clock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class Store:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int, int]] = []

    async def points(
        self, target: str, metric: str, start: int, end: int, step: float | None, agg: Aggregation
    ) -> list[Point]:
        assert step is None  # raw: flips need every sample
        self.asked.append((target, metric, start, end))
        return []


def fill(inv: Inventory) -> None:
    inv.put_schedule(ScheduleConfig(name="office"), "t")
    inv.put_site(SiteConfig(name="hq", schedule="office"), "t")
    inv.put_site(SiteConfig(name="lab"), "t")
    for name, site in (("a", "hq"), ("b", "hq"), ("c", "hq"), ("d", "lab")):
        inv.put_target(TargetConfig(name=name, address="127.0.0.1", site=site), "t", admin=True)
    inv.put_job(JobConfig(name="ping-ab", kind="tcp", targets=["a", "b"], params={"port": 1}),
                "t", admin=True)  # fmt: skip
    inv.put_job(JobConfig(name="gone", kind="tcp", targets=["d"], params={"port": 1}), "t",
                admin=True)  # fmt: skip
    inv.delete_job("gone", "t")


def test_affected_targets_per_kind_of_change(inventory: Inventory) -> None:
    fill(inventory)
    clock = Clock(datetime.now(UTC) + timedelta(hours=3))  # the windows after have elapsed
    store = Store()
    analysis = ImpactAnalysis(store.points, inventory, clock)
    found = asyncio.run(analysis.recent(2.0, 100))
    affected = {(c.entity_type, c.entity_name, c.action): (c.affected, c.note) for c in found}
    assert affected[("schedule", "office", "create")] == (("a", "b", "c"), None)
    assert affected[("site", "hq", "create")] == (("a", "b", "c"), None)
    assert affected[("site", "lab", "create")] == (("d",), None)
    assert affected[("target", "b", "create")] == (("b",), None)
    assert affected[("job", "ping-ab", "create")] == (("a", "b"), None)
    assert affected[("job", "gone", "delete")][0] == ()
    assert "no longer exists" in str(affected[("job", "gone", "delete")][1])
    # nothing stored: every verdict "no data"; each window read raw, two hours each side
    assert {c.impact.verdict for c in found} == {"no data"}
    change = next(c for c in found if c.entity_name == "d")
    reads = [(s, e) for t, m, s, e in store.asked if t == "d" and m == "status"]
    at_ns = int(change.at.timestamp() * 1e9)
    assert (at_ns - 2 * 3600 * 10**9, at_ns) in reads
    assert (at_ns, at_ns + 2 * 3600 * 10**9) in reads  # the whole window after has elapsed
    assert not change.watching


def test_one_request_reads_a_bounded_number_of_targets(inventory: Inventory) -> None:
    fill(inventory)
    store = Store()
    analysis = ImpactAnalysis(store.points, inventory, Clock(datetime.now(UTC)),
                              max_targets=2, page_targets=3)  # fmt: skip
    found = asyncio.run(analysis.recent(1.0, 100))
    measured = sum(len(c.per_target) for c in found)
    assert measured == 3
    assert len({t for t, *_ in store.asked}) <= 3
    capped = [c for c in found if len(c.affected) > len(c.per_target)]
    assert capped and all(c.note for c in capped)
    # a change asked for alone gets its own budget (max_targets)
    site = next(c for c in found if c.entity_name == "hq" and c.entity_type == "site")
    alone = asyncio.run(analysis.one(site.id, 1.0))
    assert len(alone.per_target) == 2 and "first 2 by name" in str(alone.note)
