"""Console view: devices by failure risk, with the reasons and the model that answered
(server-rendered from the same service as ``/api/v1/analytics/risk``; no script)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from netgauge.analytics.risk_service import HORIZONS, RiskAnswer
from netgauge.service import Service
from netgauge.web.pages.analytics import View
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
VIEW = View(
    "/analytics/risk", "Failure risk", "Which devices are likely to go offline soon, and why?"
)


@router.get("/analytics/risk")
async def risk_page(request: Request, horizon: str = "24h") -> HTMLResponse:
    """Devices by risk within the horizon (an unknown horizon reads as 24 h)."""
    chosen = horizon if horizon in HORIZONS else "24h"
    service: Service = request.app.state.service
    answer = await service.risk.answer(HORIZONS[chosen])
    return render(
        request,
        "analytics_risk.html",
        title="Failure risk",
        page_name="analytics",
        horizon=chosen,
        horizons=list(HORIZONS),
        answer=answer,
        rows=_rows(answer),
    )


def _rows(answer: RiskAnswer) -> list[dict[str, object]]:
    """Devices, highest risk first, with their reasons in words."""
    risks = sorted(answer.devices, key=lambda r: (-r.probability, r.device))
    return [
        {
            "device": r.device,
            "percent": f"{100 * r.probability:.1f} %",
            "reasons": [
                f"{x.feature} = {'unknown' if x.value is None else f'{x.value:g}'} "
                f"(+{x.contribution:g})"
                for x in r.reasons
            ],
        }
        for r in risks
    ]
