"""The analytics recorder's bookkeeping: events stored once (found again: nothing added; grown:
updated in place; after a restart: still once), the rate of the last hour and the events cut by
the scored range, the words of each kind, and one failing part not stopping the others."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from netgauge.analytics.anomalies import Event
from netgauge.analytics.anomalies_service import SeriesAnomalies, TargetAnomalies
from netgauge.analytics.recorder import (
    ANOMALY_RATE,
    AnalyticsRecorder,
    anomaly_events,
    describe,
    rate_since,
)
from netgauge.analytics.risk_service import RiskAnswer
from netgauge.inventory.event_log import NewEvent, add_once
from netgauge.inventory.repository import Inventory
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.base import Aggregation, Point

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NS = 1_000_000_000


def _event(key: str, at: datetime = AT, target: str = "d1", end: str = "x") -> NewEvent:
    return NewEvent("anomaly", target, at, {"key": key, "end": end})


def test_an_event_is_stored_once(inventory: Inventory) -> None:
    assert add_once(inventory, [_event("cpu"), _event("cpu")]) == (1, 0)  # twice in one list
    assert add_once(inventory, [_event("cpu")]) == (0, 0)  # the next pass
    restarted = Inventory(inventory.engine)  # a new process over the same database
    assert add_once(restarted, [_event("cpu")]) == (0, 0)
    assert len(inventory.list_events(kind="anomaly")) == 1


def test_what_names_an_event(inventory: Inventory) -> None:
    later = AT + timedelta(minutes=5)
    found = add_once(
        inventory, [_event("cpu"), _event("mem"), _event("cpu", later), _event("cpu", target="d2")]
    )
    assert found == (4, 0)  # another series, start or target: another event
    other_kind = NewEvent("error_pattern", "d1", AT, {"key": "cpu"})
    assert add_once(inventory, [other_kind]) == (1, 0)


def test_an_event_that_grew_is_updated_in_place(inventory: Inventory) -> None:
    add_once(inventory, [_event("cpu", end="12:05")])
    assert add_once(inventory, [_event("cpu", end="12:20")]) == (0, 1)
    (row,) = inventory.list_events(kind="anomaly")
    assert row.data["end"] == "12:20" and row.at == AT


def _series(
    metric: str, ts_s: list[int], flags: list[bool], events: list[Event]
) -> SeriesAnomalies:
    n = len(ts_s)
    return SeriesAnomalies(metric, [t * NS for t in ts_s], [0.0] * n, [0.0] * n, flags, events)


def test_the_rate_of_the_last_hour_and_the_events_past_the_cut() -> None:
    early, late = Event(1000.0, 1000.0, 1, 0.7, 9.0), Event(5000.0, 5300.0, 2, 0.9, 12.0)
    found = TargetAnomalies(
        "d1",
        [
            _series("a", [1000, 4000, 5000, 5300], [True, False, True, True], [early, late]),
            _series("b", [4000, 5000], [False, False], []),
        ],
    )
    assert rate_since(found, 4000 * NS) == pytest.approx(2 / 5)
    assert rate_since(found, 9000 * NS) is None  # no sample: no rate
    (kept,) = anomaly_events(found, since_s=2000.0)  # the early one may be cut: left out
    assert kept.at == datetime.fromtimestamp(5000, UTC) and kept.target == "d1"
    assert kept.data["key"] == "a" and kept.data["samples"] == 2


def test_each_kind_in_words() -> None:
    anomaly = {
        "series": "cpu_percent",
        "samples": 3,
        "start": "2026-03-10T12:00:00+00:00",
        "end": "2026-03-10T12:10:00+00:00",
        "peak_score": 0.91234,
        "peak_value": 97.5,
    }
    assert describe("anomaly", anomaly) == (
        "anomaly in cpu_percent: 3 unusual samples from 2026-03-10 12:00 UTC to "
        "2026-03-10 12:10 UTC, peak score 0.91 at value 97.5"
    )
    pattern = {"template": "connect to <*> refused", "example": "x" * 500}
    words = describe("error_pattern", pattern)
    assert words.startswith("new error pattern: connect to <*> refused (first: xxx")
    assert len(words) < 200  # a long message is cut
    assert describe("path_change", {"old": ["a", None], "new": ["a", "b"]}) == (
        "path changed: a * → a b"
    )
    assert describe("something_else", {}) == "something else"


class _Clock:
    def now(self) -> datetime:
        return AT

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class _Store:
    """Five days of 5-minute samples of one series with a spike 10 minutes before AT."""

    def __init__(self) -> None:
        end = int(AT.timestamp())
        self.ts = [end - 300 * k for k in range(5 * 288, 0, -1)]
        rng = np.random.default_rng(1)
        self.values = (10 + rng.normal(0, 0.2, len(self.ts))).tolist()
        self.values[-2] += 20.0

    async def points(
        self, target: str, metric: str, start: int, end: int, step: float | None, agg: Aggregation
    ) -> list[Point]:
        return [
            Point(t * NS, v, v, v, 1)
            for t, v in zip(self.ts, self.values, strict=True)
            if start <= t * NS < end
        ]

    async def series(self, target: str | None) -> list[tuple[str, str, str]]:
        rows = [(DEVICE_METRICS, "d1", "cpu_percent"), (DEVICE_METRICS, "d1", ANOMALY_RATE)]
        return [r for r in rows if target in (None, r[1])]


class _BrokenRisk:
    async def answer(self, horizon_s: float, retrain: bool = False) -> RiskAnswer:
        raise RuntimeError("a bug in the risk model")


def test_a_failing_part_leaves_the_others(inventory: Inventory) -> None:
    store = _Store()
    written: list[Any] = []
    recorder = AnalyticsRecorder(
        store.points, store.series, inventory, _BrokenRisk(), written.extend, _Clock()
    )
    done = asyncio.run(recorder.record_once())
    assert done.events_added == 1 and done.samples == 1
    (rate,) = written
    assert isinstance(rate, Sample) and (rate.device_id, rate.metric_name) == ("d1", ANOMALY_RATE)
    assert rate.value == pytest.approx(1 / 12)  # one spike among the last hour's 12 samples
    assert asyncio.run(recorder.record_once()).events_added == 0


def test_a_big_fleet_is_scored_in_turns_of_whole_targets() -> None:
    """At most ``anomaly_series_per_pass`` series a pass (a target bigger than that alone),
    whole targets, each pass going on where the last stopped, round and round."""
    recorder = AnalyticsRecorder(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        lambda _: None,
        None,  # type: ignore[arg-type]
        anomaly_series_per_pass=400,
    )
    scored = {name: [f"m{i}" for i in range(150)] for name in "abcde"}
    scored["huge"] = [f"m{i}" for i in range(900)]
    turns = [[name for name, _ in recorder._turn(scored)] for _ in range(5)]
    # 150 + 150 fit in 400, a third would not; "huge" (900) goes alone
    assert turns == [["a", "b"], ["c", "d"], ["e"], ["huge"], ["a", "b"]]
