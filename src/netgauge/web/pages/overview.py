"""Console page(s): overview (being built)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from netgauge.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def overview(request: Request) -> HTMLResponse:
    """The overview."""
    return render(request, "error.html", title="Overview", message="(being built)")
