"""Console view: the data lake export. Where it goes, when it last ran and what it holds per
table, server-rendered from the same status as ``GET /api/v1/analytics/lake``; admins get
an "Export now" button (``static/js/analytics_lake.js``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from netgauge.service import Service
from netgauge.web.pages.analytics import View
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
VIEW = View(
    "/analytics/lake",
    "Data lake export",
    "Is everything exported to Parquet for training, and up to which day?",
)


@router.get("/analytics/lake")
async def lake_page(request: Request) -> HTMLResponse:
    """The export's settings, last run and tables."""
    service: Service = request.app.state.service
    return render(
        request,
        "analytics_lake.html",
        title="Data lake export",
        page_name="analytics",
        lake=service.lake.status(),
    )
