"""Console view of error patterns: the stored error texts of the last day (or hour, week)
clustered into templates, busiest first, with the window before, trend, targets and the new
patterns; computed by the same code as ``/api/v1/analytics/patterns``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from netgauge.analytics.patterns_service import error_patterns
from netgauge.auth.roles import Role
from netgauge.service import Service
from netgauge.web.pages.analytics import View
from netgauge.web.render import principal_of, render

router = APIRouter(include_in_schema=False)
VIEW = View(
    "/analytics/patterns",
    "Error patterns",
    "Which kinds of error keep coming back, which are new, and which targets do they hit?",
)
SPANS_H = {"1h": 1.0, "1d": 24.0, "7d": 168.0}
HISTORY_DAYS = 14.0  # a template not seen in these days before the window is new
SHOWN = 100
_BARS = "▁▂▃▄▅▆▇█"


@router.get("/analytics/patterns")
async def patterns_page(
    request: Request, span: Annotated[Literal["1h", "1d", "7d"], Query()] = "1d"
) -> HTMLResponse:
    """Templates by messages in the span, with the span before and the new ones."""
    service: Service = request.app.state.service
    principal = principal_of(request)
    with_log = principal is not None and principal.role is Role.ADMIN
    found = await error_patterns(
        service.inventory, service.clock.now(), SPANS_H[span], HISTORY_DAYS, with_log
    )
    rows = [p for p in found.report.patterns if p.count or p.previous][:SHOWN]
    return render(
        request,
        "analytics_patterns.html",
        title="Error patterns",
        page_name="analytics",
        found=found,
        rows=rows,
        sparks={p.id: spark(p.buckets) for p in rows},
        span=span,
        spans=list(SPANS_H),
    )


def spark(counts: list[int]) -> str:
    """Counts as a line of block characters (no script, no style: the CSP allows it)."""
    top = max(counts, default=0)
    if top == 0:
        return _BARS[0] * len(counts)
    return "".join(_BARS[min(len(_BARS) - 1, c * len(_BARS) // (top + 1))] for c in counts)
