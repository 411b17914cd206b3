"""Failure risk for the running service: each device's history read from the stores (metrics
through ``Service.points``, state transitions and configuration changes from the
inventory), the model trained on it and kept.

The model is retrained when the service's hourly housekeeping or a request finds it older
than ``retrain_s`` (6 h; the fallback is checked again after 10 minutes, as the history
grows), or on request (``POST /api/v1/analytics/risk/retrain``, once a minute at most); an
answer is kept ``fresh_s`` (60 s) so
that a console refreshing every few seconds costs one assessment a minute. Training runs
in a thread, one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import structlog

from netgauge.analytics.risk.features import DeviceHistory, history_of
from netgauge.analytics.risk.model import (
    DeviceRisk,
    Fallback,
    Predictor,
    Quality,
    assess,
    backtest,
    fit,
    training_set,
)
from netgauge.clock import Clock
from netgauge.models import TargetType
from netgauge.pollers.readings import METRIC_LABEL, UPTIME_SECONDS
from netgauge.series import split_series
from netgauge.storage.base import Aggregation

if TYPE_CHECKING:
    from netgauge.service import Service

log = structlog.get_logger(__name__)
DEVICE = TargetType.DEVICE.value
LOOKBACK_S = 30 * 86400.0  # the history read: 30 days
STEP_S = 900.0  # metrics read as 15-minute aggregates
MAX_TRANSITIONS = 2000  # per device, newest first
MAX_CHANGES = 500
MIN_RETRAIN_S = 60.0
FALLBACK_RECHECK_S = 600.0
HORIZONS = {"6h": 6 * 3600.0, "12h": 12 * 3600.0, "24h": 86400.0, "48h": 172800.0, "7d": 604800.0}
"""The horizons the API and the console offer (a model is kept per horizon: a fixed few, so
that no reader can make the service train one per request)."""


class PointLike(Protocol):
    """A stored point as the query layer returns it."""

    @property
    def ts_ns(self) -> int: ...
    @property
    def value(self) -> float: ...


class Sources(Protocol):
    """What the risk reads (Service and its inventory provide it)."""

    async def devices(self) -> list[str]: ...
    async def series(self, device: str) -> list[str]: ...
    async def points(
        self, device: str, metric: str, start_ns: int, end_ns: int, agg: Aggregation
    ) -> list[tuple[float, float]]: ...
    async def transitions(self, device: str) -> list[tuple[float, str]]: ...
    async def changes(self, device: str) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class RiskAnswer:
    """Every device's risk at ``at``, which model answered, and how good it was."""

    at: datetime
    horizon_s: float
    predictor: Predictor
    trained_at: datetime
    quality: Quality | None
    devices: list[DeviceRisk]


@dataclass
class _Kept:
    predictor: Predictor
    quality: Quality | None
    trained_at: datetime


class RiskService:
    """Trains, keeps and answers (see the module's doc)."""

    def __init__(
        self,
        sources: Sources,
        clock: Clock,
        retrain_s: float = 6 * 3600.0,
        fresh_s: float = 60.0,
    ) -> None:
        self.sources, self.clock = sources, clock
        self.retrain_s, self.fresh_s = retrain_s, fresh_s
        self._models: dict[float, _Kept] = {}
        self._answers: dict[float, RiskAnswer] = {}
        self._lock = asyncio.Lock()

    async def answer(self, horizon_s: float, retrain: bool = False) -> RiskAnswer:
        """Every device's risk now; trains first when the model is missing or old."""
        async with self._lock:
            now = self.clock.now()
            kept = self._answers.get(horizon_s)
            if not retrain and kept is not None and _age(now, kept.at) < self.fresh_s:
                return kept
            histories = await self._histories(now)
            model = self._models.get(horizon_s)
            # a retrain asked for within a minute of the last is that one (no CPU on demand)
            wanted = retrain and (model is None or _age(now, model.trained_at) >= MIN_RETRAIN_S)
            if wanted or model is None or self._stale(model, now):
                model = await asyncio.to_thread(_train, histories, now, horizon_s)
                self._models[horizon_s] = model
            risks = await asyncio.to_thread(
                assess, model.predictor, histories, now.timestamp(), horizon_s
            )
            answer = RiskAnswer(
                now, horizon_s, model.predictor, model.trained_at, model.quality, risks
            )
            self._answers[horizon_s] = answer
            return answer

    def _stale(self, model: _Kept, now: datetime) -> bool:
        """Time to train again: the model after ``retrain_s``; the fallback after 10 minutes
        (the history may have grown enough, and checking a short one is cheap)."""
        limit = FALLBACK_RECHECK_S if isinstance(model.predictor, Fallback) else self.retrain_s
        return _age(now, model.trained_at) >= limit

    async def refresh(self) -> None:
        """The schedule's call (hourly): retrain the default horizon's model when stale.
        A failure is logged, never raised (housekeeping goes on)."""
        try:
            await self.answer(HORIZONS["24h"])
        except Exception:
            log.exception("risk.retrain_failed")

    async def _histories(self, now: datetime) -> dict[str, DeviceHistory]:
        end_ns = int(now.timestamp() * 1e9)
        # buckets start at whole steps (a bucket's time is its start): a sample polled at
        # 10:00 reads as 10:00, not as the step it shares with 09:52
        step_ns = int(STEP_S * 1e9)
        start_ns = (end_ns - int(LOOKBACK_S * 1e9)) // step_ns * step_ns
        found = {}
        for device in await self.sources.devices():
            metrics = {}
            for name in await self.sources.series(device):
                agg: Aggregation = "min" if split_series(name)[0] == UPTIME_SECONDS else "avg"
                metrics[name] = await self.sources.points(device, name, start_ns, end_ns, agg)
            transitions = await self.sources.transitions(device)
            changes = await self.sources.changes(device)
            found[device] = history_of(metrics, transitions, changes)
        return found


def _age(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds()


def _train(histories: dict[str, DeviceHistory], now: datetime, horizon_s: float) -> _Kept:
    """(In a thread.) Fit on samples up to one horizon ago, and backtest on the newest part."""
    firsts = [f for h in histories.values() if (f := h.first_time()) is not None]
    end = now.timestamp() - horizon_s
    data = training_set(histories, min(firsts) if firsts else end, end, horizon_s)
    predictor = fit(data, end)
    quality = backtest(data) if predictor.info.kind != "fallback" else None
    return _Kept(predictor, quality, now)


@dataclass(frozen=True)
class ServiceSources:
    """:class:`Sources` over the service's public reads (points, series) and the inventory's
    device history and change log."""

    points_of: Callable[..., Awaitable[Sequence[PointLike]]]
    series_of: Callable[[str], Awaitable[list[tuple[str, str, str]]]]
    devices_of: Callable[[], list[str]]
    history_of: Callable[[str, int], list[tuple[datetime, str]]]
    changes_of: Callable[[str, int], list[datetime]]

    async def devices(self) -> list[str]:
        """The inventory's devices."""
        return await asyncio.to_thread(self.devices_of)

    async def series(self, device: str) -> list[str]:
        """The device's stored series of the device metric table."""
        return sorted(
            {m for _, _, m in await self.series_of(device) if split_series(m)[0] in METRIC_LABEL}
        )

    async def points(
        self, device: str, metric: str, start_ns: int, end_ns: int, agg: Aggregation
    ) -> list[tuple[float, float]]:
        """One series as 15-minute aggregates, (epoch s, value)."""
        rows = await self.points_of(device, metric, start_ns, end_ns, STEP_S, agg)
        return [(p.ts_ns / 1e9, p.value) for p in rows]

    async def transitions(self, device: str) -> list[tuple[float, str]]:
        """The device's state transitions, oldest first."""
        rows = await asyncio.to_thread(self.history_of, device, MAX_TRANSITIONS)
        return sorted((at.astimezone(UTC).timestamp(), state) for at, state in rows)

    async def changes(self, device: str) -> list[float]:
        """When the change log updated the device."""
        rows = await asyncio.to_thread(self.changes_of, device, MAX_CHANGES)
        return sorted(at.astimezone(UTC).timestamp() for at in rows)


def risk_for(service: Service) -> RiskService:
    """The risk service over ``service``'s public reads and its inventory."""
    inventory = service.inventory

    def devices() -> list[str]:
        return [n for n, kind, *_ in inventory.target_placements() if kind == DEVICE]

    def transitions(device: str, limit: int) -> list[tuple[datetime, str]]:
        return [(r.at, r.new_state) for r in inventory.device_history(device, limit)]

    def changes(device: str, limit: int) -> list[datetime]:
        rows = inventory.list_changes("target", device, limit)
        return [r.at for r in rows if r.action == "update"]  # its creation is no change

    sources = ServiceSources(service.points, service.series, devices, transitions, changes)
    return RiskService(sources, service.clock)
