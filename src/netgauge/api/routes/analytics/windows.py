"""/api/v1/analytics/windows: the best time windows in the next 14 days to run a job, or a
maintenance task of a given duration, at a site (analytics/windows.py says how they are
ranked)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from netgauge.analytics.windows_public import WindowsOut, answer_out, duration_of
from netgauge.analytics.windows_service import recommend
from netgauge.api.deps import ServiceDep

router = APIRouter()


@router.get("/windows")
async def best_windows(
    service: ServiceDep,
    job: Annotated[str | None, Query(max_length=128, description="a job's name")] = None,
    site: Annotated[
        str | None,
        Query(max_length=128, description="the site (a maintenance task; or a job's site)"),
    ] = None,
    duration: Annotated[
        str | None,
        Query(max_length=32, description="how long it runs: 2h, 90m (a job: its runs' p90)"),
    ] = None,
    run_when: Annotated[
        str | None,
        Query(
            pattern="^(always|open|closed|peak|off_peak)$",
            description="when it may run by the site's calendar (a job: its own run_when; "
            "a maintenance task: off_peak)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> WindowsOut:
    """The ranked windows of the next 14 days to run ``job`` (or a maintenance task of
    ``duration`` at ``site``): only inside what the site's calendar and the job allow,
    cheapest first by the site's load (interface traffic, else CPU) and the past failure
    rate of runs by hour of the week; each with its confidence and its reason in words."""
    if job is None and site is None:
        raise ValueError("job: give a job, or a site and a duration")
    if job is None and (duration is None or not duration.strip()):
        raise ValueError("duration: a maintenance task at a site needs one, e.g. 2h")
    answer = await recommend(
        service, job=job, site=site, duration=duration_of(duration), run_when=run_when, limit=limit
    )
    return answer_out(answer)
