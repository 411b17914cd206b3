"""Console view: configuration impact, each change of the change log with what followed it
(the same rule and record as ``/api/v1/analytics/impact``)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from netgauge.analytics.impact import MIN_CHECKS, MIN_RATE_CHANGE, P_VALUE
from netgauge.auth.roles import Role
from netgauge.inventory import history
from netgauge.service import Service
from netgauge.web.pages.analytics import View
from netgauge.web.render import principal_of, render

router = APIRouter(include_in_schema=False)
VIEW = View(
    "/analytics/impact",
    "Configuration impact",
    "Did a change make things worse? Failures and state changes before and after each change.",
)


@router.get("/analytics/impact")
async def impact_page(
    request: Request,
    hours: Annotated[float, Query(gt=0, le=168)] = 6,
    days: Annotated[float, Query(gt=0, le=90)] = 7,
) -> HTMLResponse:
    """The last ``days`` of changes, newest first, each with its verdict and numbers."""
    service: Service = request.app.state.service
    principal = principal_of(request)
    admin = principal is not None and principal.role.allows(Role.ADMIN)
    types = history.ADMIN_TYPES if admin else history.INVENTORY_TYPES
    found = await asyncio.to_thread(
        history.change_impacts, service.inventory, service.clock.now(), days, hours, 200, types
    )
    return render(
        request,
        "analytics_impact.html",
        title="Configuration impact",
        page_name="analytics",
        found=found,
        hours=hours,
        days=days,
        min_checks=MIN_CHECKS,
        min_rate_change=MIN_RATE_CHANGE,
        p_value=P_VALUE,
    )
