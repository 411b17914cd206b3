"""Console pages for alerting: alerts and silences, incidents and their timelines,
notifiers and deliveries, and the sites' calendars (a 14-day grid in each site's zone).

The pages read the alerting service and the inventory; what they change (a silence, an
acknowledgement, a test notification) goes through /api/v1 from static/js/alerts.js and the
shared ``data-call`` buttons, so the API's checks are the only ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from netgauge.errors import NotFoundError
from netgauge.inventory.repository import schedule_config
from netgauge.schedules import Calendar, Segment
from netgauge.service import Service
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
GRID_DAYS = 14


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request) -> HTMLResponse:
    """Alerts pending and firing, silences (and the form to add one)."""
    service = _service(request)
    views = service.alerting.alerts()
    silences = await service.alerting.silences()
    return render(
        request,
        "alerts.html",
        title="Alerts",
        alerts=views,
        silences=[s for s in silences if s.state != "expired"][:50],
        expired=[s for s in silences if s.state == "expired"][:20],
    )


@router.get("/incidents", response_class=HTMLResponse)
async def incidents_page(
    request: Request,
    state: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
) -> HTMLResponse:
    """Incidents, newest first."""
    rows, total = await _service(request).alerting.incidents(state, 100, 0)
    return render(
        request, "incidents.html", title="Incidents", incidents=rows, total=total, state=state
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(request: Request, incident_id: int) -> HTMLResponse:
    """One incident with its timeline."""
    try:
        row = await _service(request).alerting.incident(incident_id)
    except NotFoundError:
        raise HTTPException(404, f"No incident {incident_id}.") from None
    return render(request, "incident.html", title=f"Incident {row.id}", incident=row)


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request) -> HTMLResponse:
    """Notifiers (with a test button) and every notification's delivery."""
    alerting = _service(request).alerting
    rows, total = await alerting.notifications(100, 0)
    return render(
        request,
        "notifications.html",
        title="Notifications",
        notifiers=list(alerting.notifiers.values()),
        notifications=rows,
        total=total,
    )


@dataclass(frozen=True)
class Bar:
    """One segment of a day's strip: its place in minutes from the day's start."""

    x: float
    width: float
    state: str
    title: str


@dataclass(frozen=True)
class DayRow:
    label: str
    minutes: float  # the day's length (1380 or 1500 on DST change days)
    bars: list[Bar]


def day_rows(cal: Calendar, segments: list[Segment]) -> list[DayRow]:
    """The segments cut at each local midnight into one strip per day."""
    rows: list[DayRow] = []
    if not segments:
        return rows
    day_start = segments[0].start
    while day_start < segments[-1].end:
        local = day_start.astimezone(cal.zone)
        next_local = (local + timedelta(days=1)).replace(hour=0, minute=0)
        day_end = next_local.replace(tzinfo=cal.zone).astimezone(UTC)
        bars = []
        for seg in segments:
            a, b = max(seg.start, day_start), min(seg.end, day_end)
            if a >= b:
                continue
            detail = seg.state.maintenance.name if seg.state.maintenance else seg.state.holiday
            span = f"{a.astimezone(cal.zone):%H:%M}–{b.astimezone(cal.zone):%H:%M}"
            title = f"{span} {seg.state.label}" + (f": {detail}" if detail else "")
            bars.append(
                Bar(
                    (a - day_start).total_seconds() / 60,
                    (b - a).total_seconds() / 60,
                    seg.state.label,
                    title,
                )
            )
        minutes = (day_end - day_start).total_seconds() / 60
        rows.append(DayRow(local.strftime("%a %d %b"), minutes, bars))
        day_start = day_end
    return rows


@router.get("/calendar", response_class=HTMLResponse)
async def calendar_page(
    request: Request, site: Annotated[str | None, Query(max_length=128)] = None
) -> HTMLResponse:
    """Each site's next 14 days: open, peak, maintenance, holiday, in the site's zone."""
    service = _service(request)
    inv = service.inventory
    sites = await asyncio.to_thread(inv.list_sites)
    chosen = next((s for s in sites if s.name == site), None) or next(
        (s for s in sites if s.schedule), sites[0] if sites else None
    )
    rows: list[DayRow] = []
    zone = schedule_name = None
    if chosen is not None:
        cal, schedule_name = await service.calendar_of(chosen.name)
        segments = await asyncio.to_thread(cal.timeline, datetime.now(UTC), GRID_DAYS)
        rows, zone = day_rows(cal, segments), cal.zone_name
    schedules = await asyncio.to_thread(inv.list_schedules)
    return render(
        request,
        "calendar.html",
        title="Calendar",
        sites=sites,
        site=chosen,
        schedule=schedule_name,
        schedules=[schedule_config(s) for s in schedules],
        zone=zone,
        rows=rows,
        hours=list(range(0, 25, 3)),
    )
