"""/api/v1/sites and /api/v1/schedules: places, their calendars, and what a calendar says.

A change to a site or a schedule takes effect at once: the service reads the calendars
again (jobs' ``run_when``, maintenance muting and pausing).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from netgauge.api.deps import InventoryDep, ServiceDep
from netgauge.api.security import current_actor
from netgauge.config.model import SiteConfig
from netgauge.config.schedules import ScheduleConfig
from netgauge.errors import InventoryError
from netgauge.inventory.repository import schedule_config
from netgauge.inventory.tables import Site

router = APIRouter(tags=["sites"])


def _site(row: Site) -> SiteConfig:
    return SiteConfig(
        name=row.name, description=row.description, timezone=row.timezone, schedule=row.schedule
    )


@router.get("/sites")
async def list_sites(inv: InventoryDep) -> list[SiteConfig]:
    """All sites."""
    rows = await asyncio.to_thread(inv.list_sites)
    return [_site(r) for r in rows]


@router.get("/sites/{name}")
async def get_site(name: str, inv: InventoryDep) -> SiteConfig:
    """One site."""
    return _site(await asyncio.to_thread(inv.get_site, name))


@router.put("/sites/{name}")
async def put_site(name: str, body: SiteConfig, service: ServiceDep) -> SiteConfig:
    """Create or update a site (``schedule`` names its calendar)."""
    if body.name != name:
        raise InventoryError(f"name: body name {body.name!r} differs from the path {name!r}")
    await asyncio.to_thread(service.inventory.put_site, body, current_actor())
    await service.reload_calendars()
    return body


@router.delete("/sites/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_site(name: str, service: ServiceDep) -> Response:
    """Delete a site no target uses."""
    await asyncio.to_thread(service.inventory.delete_site, name, current_actor())
    await service.reload_calendars()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class SegmentOut(BaseModel):
    """A stretch of time in one state."""

    start: datetime
    end: datetime
    state: str = Field(description="open, closed, peak, holiday or maintenance")
    detail: str | None = Field(description="the holiday's or the maintenance window's name")


class CalendarOut(BaseModel):
    """What a site's calendar says for the coming days, in the site's zone."""

    site: str
    schedule: str | None
    timezone: str
    segments: list[SegmentOut]


@router.get("/sites/{name}/calendar")
async def site_calendar(
    name: str,
    service: ServiceDep,
    days: Annotated[int, Query(ge=1, le=62)] = 14,
    start: datetime | None = None,
) -> CalendarOut:
    """Open, peak, holiday and maintenance for ``days`` days from ``start``'s local day
    (default today), in the site's time zone. A site without a schedule is open."""
    at = start or datetime.now(UTC)
    if at.tzinfo is None:
        raise InventoryError("start: needs a time zone, e.g. 2026-12-07T00:00:00Z")
    cal, schedule = await service.calendar_of(name)
    segments = await asyncio.to_thread(cal.timeline, at, days)
    return CalendarOut(
        site=name,
        schedule=schedule,
        timezone=cal.zone_name,
        segments=[
            SegmentOut(
                start=seg.start.astimezone(cal.zone),
                end=seg.end.astimezone(cal.zone),
                state=seg.state.label,
                detail=seg.state.maintenance.name if seg.state.maintenance else seg.state.holiday,
            )
            for seg in segments
        ],
    )


@router.get("/schedules")
async def list_schedules(inv: InventoryDep) -> list[ScheduleConfig]:
    """All schedules (site calendars)."""
    rows = await asyncio.to_thread(inv.list_schedules)
    return [schedule_config(r) for r in rows]


@router.get("/schedules/{name}")
async def get_schedule(name: str, inv: InventoryDep) -> ScheduleConfig:
    """One schedule."""
    return schedule_config(await asyncio.to_thread(inv.get_schedule, name))


@router.put("/schedules/{name}")
async def put_schedule(name: str, body: ScheduleConfig, service: ServiceDep) -> ScheduleConfig:
    """Create or update a schedule: opening and peak hours, maintenance windows (RRULE +
    duration, or one-off), holidays."""
    if body.name != name:
        raise InventoryError(f"name: body name {body.name!r} differs from the path {name!r}")
    await asyncio.to_thread(service.inventory.put_schedule, body, current_actor())
    await service.reload_calendars()
    return body


@router.delete("/schedules/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(name: str, service: ServiceDep) -> Response:
    """Delete a schedule no site uses."""
    await asyncio.to_thread(service.inventory.delete_schedule, name, current_actor())
    await service.reload_calendars()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
