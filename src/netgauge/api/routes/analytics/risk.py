"""/api/v1/analytics/risk: each device's probability of going offline within a horizon,
with its reasons, which model answered and how well it did on the newest part of the
history it was trained on (see netgauge.analytics.risk)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from netgauge.analytics.risk_service import HORIZONS, RiskAnswer
from netgauge.api.deps import ServiceDep

router = APIRouter(prefix="/risk")


class Horizon(StrEnum):
    """The horizons a model is kept for (each is trained once per 6 h at most)."""

    H6 = "6h"
    H12 = "12h"
    H24 = "24h"
    H48 = "48h"
    D7 = "7d"


class ReasonPublic(BaseModel):
    """One feature behind a probability."""

    feature: str = Field(description="the feature's name (docs/analytics/risk.md lists them)")
    value: float | None = Field(description="its value now (null: unknown)")
    contribution: float = Field(
        description="what it adds, in log-odds: coefficient x standardized value (model) or "
        "the rule's points (fallback)"
    )


class DeviceRiskPublic(BaseModel):
    """One device's risk."""

    device: str
    probability: float = Field(ge=0, le=1)
    reasons: list[ReasonPublic]


class ModelPublic(BaseModel):
    """Which model answered, and what it was trained on."""

    kind: Literal["logistic_regression", "fallback"]
    why: str
    samples: int
    positives: int
    outages: int
    calibration: str | None
    trained_at: datetime


class QualityPublic(BaseModel):
    """The model on the newest quarter of its history, trained on the older three."""

    roc_auc: float
    pr_auc: float
    base_rate: float
    calibration_error: float
    samples: int
    positives: int


class RiskPublic(BaseModel):
    """Every device's risk at ``at`` for ``horizon``, highest first."""

    at: datetime
    horizon: str
    model: ModelPublic
    quality: QualityPublic | None = Field(
        description="null while the fallback answers or the history is too short to test"
    )
    devices: list[DeviceRiskPublic]


def public(answer: RiskAnswer, horizon: str, device: str | None) -> RiskPublic:
    """The service's answer in the API's shape."""
    info, quality = answer.predictor.info, answer.quality
    risks = sorted(answer.devices, key=lambda r: (-r.probability, r.device))
    return RiskPublic(
        at=answer.at,
        horizon=horizon,
        model=ModelPublic(
            kind=info.kind,
            why=info.why,
            samples=info.samples,
            positives=info.positives,
            outages=info.outages,
            calibration=info.calibration,
            trained_at=answer.trained_at,
        ),
        quality=None
        if quality is None
        else QualityPublic(
            roc_auc=quality.roc_auc,
            pr_auc=quality.pr_auc,
            base_rate=quality.base_rate,
            calibration_error=quality.calibration_error,
            samples=quality.samples,
            positives=quality.positives,
        ),
        devices=[
            DeviceRiskPublic(
                device=r.device,
                probability=r.probability,
                reasons=[
                    ReasonPublic(feature=x.feature, value=x.value, contribution=x.contribution)
                    for x in r.reasons
                ],
            )
            for r in risks
            if device is None or r.device == device
        ],
    )


@router.get("")
async def device_risks(
    service: ServiceDep,
    horizon: Annotated[Horizon, Query(description="how far ahead")] = Horizon.H24,
    device: Annotated[str | None, Query(max_length=128, description="only this device")] = None,
) -> RiskPublic:
    """Each device's probability of going offline within ``horizon``, highest first, with
    the top three reasons; the model is retrained when older than 6 h (the fallback rules
    answer while the history holds fewer than 10 outages), the answer kept for a minute."""
    answer = await service.risk.answer(HORIZONS[horizon.value])
    return public(answer, horizon.value, device)


@router.post("/retrain")
async def retrain(
    service: ServiceDep,
    horizon: Annotated[Horizon, Query(description="how far ahead")] = Horizon.H24,
) -> RiskPublic:
    """Retrain the model on the history as it is now, and answer with it (operators)."""
    answer = await service.risk.answer(HORIZONS[horizon.value], retrain=True)
    return public(answer, horizon.value, None)
