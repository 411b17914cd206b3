"""Console view: capacity forecasts, the soonest first across every device (the same
computation and cache as ``/api/v1/analytics/forecasts``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from netgauge.analytics.forecast_service import (
    DEFAULT_WINDOW_S,
    SeriesForecast,
    question,
    shared,
)
from netgauge.errors import InventoryError
from netgauge.service import Service
from netgauge.web.pages.analytics import View
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
VIEW = View(
    "/analytics/forecasts",
    "Capacity forecasts",
    "Which disk fills first, and when (with an 80 % interval)?",
)
SHOWN = 200  # rows: the soonest; the API lists them all


def rows(found: list[SeriesForecast], now: datetime) -> list[dict[str, object]]:
    """What the table shows of each forecast (the partial is shared with the device page)."""
    out: list[dict[str, object]] = []
    for item in found:
        f = item.forecast
        left = None if f.reaches_at is None else (f.reaches_at - now).total_seconds()
        out.append(
            {
                "target": item.target,
                "labels": ", ".join(f"{k}={v}" for k, v in sorted(item.labels.items())),
                "forecast": f,
                "left": _left(left, f.reached),
                "soon": left is not None and left <= 7 * 86400,
            }
        )
    return out


def _left(seconds: float | None, reached: bool) -> str:
    if reached:
        return "reached"
    if seconds is None:
        return "never"
    days = seconds / 86400
    return f"in {seconds / 3600:.0f} h" if days < 2 else f"in {days:.0f} days"


@router.get("/analytics/forecasts")
async def forecasts_page(
    request: Request,
    metric: Annotated[str, Query(max_length=256)] = "disk_percent",
    limit: Annotated[str, Query(max_length=32)] = "95",
    window: Annotated[str, Query(max_length=16)] = f"{int(DEFAULT_WINDOW_S // 86400)}d",
) -> HTMLResponse:
    """Every series of the metric across the fleet, soonest to reach the limit first."""
    service: Service = request.app.state.service
    error, found = None, []
    try:
        asked = question(metric, _number(limit), False, window)
        found = await shared(request.app.state, service).of(asked)
    except InventoryError as exc:
        error = str(exc)
    now = service.clock.now()
    return render(
        request,
        "analytics_forecasts.html",
        title="Capacity forecasts",
        page_name="analytics",
        metric=metric,
        limit=limit,
        window=window,
        error=error,
        rows=rows(found[:SHOWN], now),
        total=len(found),
        shown=SHOWN,
    )


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InventoryError(f"limit: {text!r} is not a number") from None
