"""Console view: the best windows to run a job, or a maintenance task of some duration at
a site, in the next 14 days (the same answer as ``/api/v1/analytics/windows``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from netgauge.analytics.windows_public import WindowsOut, answer_out, duration_of
from netgauge.analytics.windows_service import recommend
from netgauge.errors import NetgaugeError
from netgauge.schedules.sites import RUN_WHEN
from netgauge.service import Service
from netgauge.web.pages.analytics import View
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
VIEW = View(
    "/analytics/windows",
    "Best windows",
    "When, in the next 14 days, should this job or this maintenance run at its site?",
)
FIELD_MAX = 128


@router.get("/analytics/windows")
async def windows_page(request: Request) -> HTMLResponse:
    """The form (a job, or a site and a duration) and, once asked, the ranked windows."""
    service: Service = request.app.state.service
    query = request.query_params
    job = (query.get("job") or "").strip()[:FIELD_MAX] or None
    site = (query.get("site") or "").strip()[:FIELD_MAX] or None
    duration = (query.get("duration") or "").strip()[:32] or None
    run_when = query.get("run_when") or None
    if run_when not in (None, *RUN_WHEN):
        run_when = None
    answer: WindowsOut | None = None
    problem = None
    if job or site:
        try:
            if job is None and duration is None:
                raise ValueError("duration: a maintenance task at a site needs one, e.g. 2h")
            found = await recommend(
                service, job=job, site=site, duration=duration_of(duration), run_when=run_when
            )
            answer = answer_out(found)
        except (ValueError, NetgaugeError) as exc:  # bad input or unknown name: said on the page
            problem = str(exc)
    jobs = await asyncio.to_thread(service.inventory.list_jobs)
    sites = await asyncio.to_thread(service.inventory.list_sites)
    return render(
        request,
        "analytics_windows.html",
        title="Best windows",
        page_name="analytics",
        jobs=[j.name for j in jobs],
        sites=[s.name for s in sites],
        run_whens=RUN_WHEN,
        asked={"job": job, "site": site, "duration": duration, "run_when": run_when},
        answer=answer,
        problem=problem,
    )
