"""Console pages for jobs: the list, one job's details and runs, and the create/edit form.

The pages read the inventory and the service; what they change goes through /api/v1/jobs
from static/js/jobs.js (the form's "next run at" comes from POST /api/v1/jobs/preview, the
scheduler's own arithmetic).
"""

from __future__ import annotations

import asyncio
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from netgauge.errors import NotFoundError
from netgauge.inventory import queries
from netgauge.inventory.tables import JobRow
from netgauge.inventory.views import JobPublic, job_public
from netgauge.scheduler.window import parse_days
from netgauge.service import Service
from netgauge.timerange import ns_to_dt
from netgauge.web.params_form import kind_forms
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
RUNS_PER_PAGE = 25
RUN_STATUSES = ("running", "ok", "partial", "failed", "skipped")
DAYS: tuple[tuple[str, str], ...] = tuple(
    (label.lower(), label) for label in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
)


@dataclass(frozen=True)
class TargetOutcome:
    """The newest result of this job on one target (the status tracker keeps only that)."""

    target: str
    status: str
    time: datetime
    error: str | None


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def get_job(service: Service, name: str) -> JobRow:
    """The stored job, or the console's 404 page (not the API's JSON)."""
    try:
        return await asyncio.to_thread(service.inventory.get_job, name)
    except NotFoundError:
        raise HTTPException(404, f"No job named {name!r}.") from None


def targets_text(job: JobPublic) -> str:
    """Explicit targets and/or the selector, short."""
    parts = []
    if job.targets:
        shown = ", ".join(job.targets[:3])
        more = len(job.targets) - 3
        parts.append(shown + (f" +{more} more" if more > 0 else ""))
    if job.selector:
        sel = job.selector
        bits = [f"tag:{t}" for t in sel.get("tags") or []]
        bits += [f"{k}:{sel[k]}" for k in ("site", "type") if sel.get(k)]
        parts.append("selector " + " ".join(bits))
    return "; ".join(parts) or "—"


def window_text(window: dict[str, Any] | None) -> str:
    """ "09:00–17:00 Mon–Fri Europe/Berlin", or "any time"."""
    if not window:
        return "any time"
    start = (window.get("start_time") or "00:00")[:5]
    end = (window.get("end_time") or "24:00")[:5]
    return f"{start}–{end} {days_text(window.get('days'))} {window.get('timezone', 'UTC')}"


def days_text(days: Any) -> str:
    """A window's days in words."""
    chosen = selected_days(days)
    if chosen == frozenset(range(7)):
        return "every day"
    if chosen == frozenset(range(5)):
        return "Mon–Fri"
    if chosen == frozenset({5, 6}):
        return "Sat–Sun"
    return ",".join(DAYS[d][1] for d in sorted(chosen))


def selected_days(days: Any) -> frozenset[int]:
    """A stored window's days as 0..6 (None: every day)."""
    if days is None:
        return frozenset(range(7))
    try:
        return parse_days(days)
    except ValueError:  # stored jobs are validated; never fail a page on one
        return frozenset()


def target_outcomes(service: Service, job: str) -> list[TargetOutcome]:
    """The newest outcome of ``job`` per target, from the live status tracker."""
    found = []
    for state in service.all_checked():
        result = state.checks.get(job)
        if result is not None:
            found.append(
                TargetOutcome(
                    state.target, result.status.value, ns_to_dt(result.ts_ns), result.error
                )
            )
    return sorted(found, key=lambda o: o.target)


@cache
def zone_names() -> tuple[str, ...]:
    """The IANA zones this server knows (for the timezone input's suggestions)."""
    return tuple(sorted(zoneinfo.available_timezones()))


@router.get("/jobs")
async def jobs_list(request: Request) -> HTMLResponse:
    """Every job with its schedule, state and newest run."""
    service = _service(request)
    rows = await asyncio.to_thread(service.inventory.list_jobs)
    runs = await asyncio.to_thread(queries.last_runs, service.inventory)
    next_runs = service.next_runs()
    jobs = [job_public(r, next_runs) for r in rows]
    return render(
        request,
        "jobs_list.html",
        title="Jobs",
        page_name="jobs",
        jobs=jobs,
        runs=runs,
        targets_text=targets_text,
        window_text=window_text,
    )


async def _form(request: Request, job: JobPublic | None) -> HTMLResponse:
    service = _service(request)
    sites = [s.name for s in await asyncio.to_thread(service.inventory.list_sites)]
    window = job.window if job else None
    return render(
        request,
        "job_form.html",
        title=f"Edit {job.name}" if job else "New job",
        page_name="job-form",
        job=job,
        kind_forms=kind_forms(),
        sites=sites,
        zones=zone_names(),
        window=window or {},
        days=DAYS,
        chosen_days=selected_days(window.get("days")) if window else frozenset(range(5)),
    )


@router.get("/jobs/new")
async def job_new(request: Request) -> HTMLResponse:
    """The empty job form (operators and admins)."""
    return await _form(request, None)


@router.get("/jobs/{name}/edit")
async def job_edit(request: Request, name: str) -> HTMLResponse:
    """The form for an existing job (404 for an unknown name)."""
    service = _service(request)
    return await _form(request, job_public(await get_job(service, name), service.next_runs()))


@router.get("/jobs/{name}")
async def job_detail(
    request: Request,
    name: str,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """One job: settings, runs (paged), newest outcome per target, configuration history."""
    service = _service(request)
    inv = service.inventory
    job = job_public(await get_job(service, name), service.next_runs())
    status = status if status in RUN_STATUSES else None
    page = await asyncio.to_thread(inv.list_runs, name, status, RUNS_PER_PAGE, offset)
    changes = await asyncio.to_thread(inv.list_changes, "job", name, 50)
    per_run = await asyncio.to_thread(inv.runs_targets, [r.id for r in page.items])
    return render(
        request,
        "job_detail.html",
        title=f"Job {name}",
        page_name="job-detail",
        job=job,
        runs=page.items,
        per_run=per_run,
        total=page.total,
        offset=offset,
        per_page=RUNS_PER_PAGE,
        status=status,
        statuses=RUN_STATUSES,
        outcomes=target_outcomes(service, name),
        changes=changes,
        targets_text=targets_text,
        window_text=window_text,
    )
