"""Console view of anomalies: devices by anomaly rate over the last day (or week), each with
its newest events; computed by the same code as ``/api/v1/analytics/anomalies/devices``."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from netgauge.analytics.anomalies_service import fleet_anomalies
from netgauge.service import Service
from netgauge.timerange import NS_PER_S, ns_to_dt
from netgauge.web.pages.analytics import View
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
VIEW = View(
    "/analytics/anomalies",
    "Anomalies",
    "Which devices behave unlike their own usual hour of day and day of week, and when?",
)
SPANS_S = {"1d": 86_400, "7d": 7 * 86_400}
HISTORY_S = 28 * 86_400
RECENT_EVENTS = 5


@router.get("/analytics/anomalies")
async def anomalies_page(
    request: Request, span: Annotated[Literal["1d", "7d"], Query()] = "1d"
) -> HTMLResponse:
    """Devices by anomaly rate in the chosen span, highest first, with their newest events."""
    service: Service = request.app.state.service
    end_ns = time.time_ns()
    start_ns = end_ns - SPANS_S[span] * NS_PER_S
    found = await fleet_anomalies(
        service.points, service.series, start_ns, end_ns, HISTORY_S * NS_PER_S
    )
    rows = [
        {
            "device": f.target,
            "samples": f.samples,
            "anomalous": f.anomalous,
            "rate": f.rate,
            "events": [
                {
                    "metric": m,
                    "start": ns_to_dt(int(e.start * NS_PER_S)),
                    "end": ns_to_dt(int(e.end * NS_PER_S)),
                    "samples": e.samples,
                    "peak_score": e.peak_score,
                    "peak_value": e.peak_value,
                }
                for m, e in f.events()[:RECENT_EVENTS]
            ],
        }
        for f in found
    ]
    return render(
        request,
        "analytics_anomalies.html",
        title="Anomalies",
        page_name="analytics",
        rows=rows,
        span=span,
        spans=list(SPANS_S),
    )
