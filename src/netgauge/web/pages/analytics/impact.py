"""Console view of configuration impact: the newest changes to targets, jobs, sites and
schedules, each with what happened to the targets it touched in the hours after it
compared with the hours before (``service.impact``; the formula in
``netgauge.analytics.impact``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from netgauge.analytics.impact import WORSE_IF
from netgauge.service import Service
from netgauge.web.pages.analytics import View
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
VIEW = View(
    "/analytics/impact",
    "Configuration impact",
    "Did a change to a target, job, site or schedule make things worse?",
)
BADGE = {"worse": "down", "better": "ok", "no change": "none", "no data": "unknown"}
SPANS = (6, 24, 72)


@router.get("/analytics/impact")
async def impact_page(
    request: Request, hours: Annotated[int, Query(ge=1, le=168)] = 24
) -> HTMLResponse:
    """The newest 50 changes with their verdicts."""
    service: Service = request.app.state.service
    changes = await service.impact.recent(float(hours), 50)
    return render(
        request,
        "analytics_impact.html",
        title="Configuration impact",
        page_name="analytics-impact",
        changes=changes,
        hours=hours,
        spans=SPANS,
        badge=BADGE,
        rules=WORSE_IF,
    )
