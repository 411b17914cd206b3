"""The risk service's keeping and retraining, on a generated fleet served by fake sources
and a fake clock: an answer is kept a minute, the model six hours, the fallback ten minutes
(the history grows), and a retrain asked for twice in a minute trains once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.fleet import Fleet, generate

from netgauge.analytics.risk_service import RiskService
from netgauge.storage.base import Aggregation
from tests.fakes import FakeClock


class FleetSources:
    """The generator's devices as the service would read them; counts the readings."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet, self.reads = fleet, 0

    async def devices(self) -> list[str]:
        self.reads += 1
        return sorted(self.fleet.devices)

    async def series(self, device: str) -> list[str]:
        return sorted(self.fleet.devices[device].metrics)

    async def points(
        self, device: str, metric: str, start_ns: int, end_ns: int, agg: Aggregation
    ) -> list[tuple[float, float]]:
        return [
            (t, v)
            for t, v in self.fleet.devices[device].metrics[metric]
            if start_ns <= t * 1e9 < end_ns
        ]

    async def transitions(self, device: str) -> list[tuple[float, str]]:
        return list(self.fleet.devices[device].transitions)

    async def changes(self, device: str) -> list[float]:
        return list(self.fleet.devices[device].changes)


def at_end(fleet: Fleet) -> FakeClock:
    return FakeClock(datetime.fromtimestamp(fleet.end, UTC))


async def test_answers_are_kept_a_minute_and_the_model_six_hours() -> None:
    fleet = generate(devices=12, days=20, seed=2)
    clock, sources = at_end(fleet), FleetSources(fleet)
    risk = RiskService(sources, clock)
    first = await risk.answer(86400.0)
    assert first.predictor.info.kind == "logistic_regression"
    assert (await risk.answer(86400.0)) is first and sources.reads == 1
    await clock.advance(61)
    second = await risk.answer(86400.0)
    assert second is not first and second.trained_at == first.trained_at  # same model
    await clock.advance(6 * 3600)
    assert (await risk.answer(86400.0)).trained_at == clock.now()


async def test_a_retrain_asked_twice_in_a_minute_trains_once() -> None:
    fleet = generate(devices=12, days=20, seed=2)
    clock = at_end(fleet)
    risk = RiskService(FleetSources(fleet), clock)
    trained = (await risk.answer(86400.0)).trained_at
    await clock.advance(30)
    assert (await risk.answer(86400.0, retrain=True)).trained_at == trained
    await clock.advance(31)
    assert (await risk.answer(86400.0, retrain=True)).trained_at == clock.now()


async def test_the_fallback_is_checked_again_as_history_grows() -> None:
    fleet = generate(devices=12, days=20, seed=2)
    clock = at_end(fleet)
    young = FakeClock(datetime.fromtimestamp(fleet.start, UTC) + timedelta(days=2))
    sources = FleetSources(fleet)
    risk = RiskService(sources, young)
    assert (await risk.answer(86400.0)).predictor.info.kind == "fallback"
    young.set_now(clock.now())  # 18 days later: enough outages
    assert (await risk.answer(86400.0)).predictor.info.kind == "logistic_regression"
