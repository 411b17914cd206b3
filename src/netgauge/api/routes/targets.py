"""/api/v1/targets: list with search and filters, create, read, replace, patch, delete, and
"test now" (run the target's checks once, without storing anything)."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from netgauge.api.deps import InventoryDep, ServiceDep, query_of, query_parameters
from netgauge.api.schemas import (
    ImportAnswer,
    PageOf,
    TargetCreate,
    TargetPublic,
    TargetUpdate,
    TargetWithChecks,
)
from netgauge.api.security import AuthDep, current_actor, is_admin
from netgauge.config.base import NAME_PATTERN
from netgauge.config.model import TargetConfig
from netgauge.errors import InventoryError
from netgauge.inventory import TargetFilter
from netgauge.inventory.checks import check_job
from netgauge.inventory.importing import import_targets
from netgauge.inventory.repository import (
    TargetSummary,
    summary_of,
    target_fields,
)
from netgauge.inventory.tables import TargetRow
from netgauge.models import TargetType
from netgauge.service import Service
from netgauge.status.live import STATE_PATTERN

router = APIRouter(prefix="/targets", tags=["targets"])


class TargetQuery(BaseModel):
    """The list's search, filters and page, as query parameters (one model: FastAPI checks
    it in one pass, where seven parameters cost seven on every request)."""

    q: str | None = Field(None, max_length=200, description="substring of name/address")
    tag: str | None = Field(None, max_length=128)
    site: str | None = Field(None, max_length=128)
    type: TargetType | None = None
    state: str | None = Field(
        None,
        pattern=STATE_PATTERN,
        description="the live state: up, down, degraded for destinations; online, offline,"
        " degraded, flapping for devices (their decided state); unknown: not checked yet",
    )
    limit: int = Field(100, ge=1, le=1000, description="page size")
    offset: int = Field(0, ge=0, le=100_000_000, description="items to skip")


def public(row: TargetRow | TargetSummary, service: Service) -> TargetPublic:
    """Row → API shape, with the live state (``status.live``: a device's decided one)."""
    t = row if isinstance(row, TargetSummary) else summary_of(row)
    return TargetPublic(
        name=t.name,
        address=t.address,
        type=t.type,
        site=t.site,
        tags=t.tags,
        credentials=t.credentials,
        description=t.description,
        parent=t.parent,
        source=t.source,
        status=service.live.of(t.name, t.type),
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


@router.get("", openapi_extra=query_parameters(TargetQuery))
async def list_targets(request: Request) -> PageOf[TargetPublic]:
    """Targets by name; ``state`` filters on the live state (paged and counted in SQL).
    (Polled all day by dashboards: its parameters are checked as one model, ``query_of``,
    and a page read before is kept until the next change, ``inventory.readcache``.)"""
    service: Service = request.app.state.service
    query = query_of(TargetQuery, request)
    f = TargetFilter(q=query.q, tag=query.tag, site=query.site, type=query.type)
    f = service.live.narrow(f, query.state)
    inv, limit, offset = service.inventory, query.limit, query.offset
    page = inv.peek_target_summaries(f, limit, offset)  # kept: no thread hop
    if page is None:
        page = await asyncio.to_thread(inv.list_target_summaries, f, limit, offset)
    items = [public(r, service) for r in page.items]
    return PageOf[TargetPublic](
        total=page.total, limit=query.limit, offset=query.offset, items=items
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_target(
    body: TargetWithChecks, service: ServiceDep, inv: InventoryDep, who: AuthDep
) -> TargetPublic:
    """Add a target (409 if the name exists; 403 for credentials outside their scope), and
    with ``checks`` the jobs that watch it: one per check, named ``<target>-<kind>``,
    covering this target only (all or nothing; an error names ``checks.N.<field>``)."""
    cfg = TargetConfig.model_validate(body.model_dump(exclude={"checks"}))
    jobs = [check_job(cfg.name, i, check) for i, check in enumerate(body.checks)]
    add = partial(inv.add_target_with_checks, admin=is_admin(who))
    row, _names = await asyncio.to_thread(add, cfg, jobs, current_actor())
    if jobs:
        await service.reload_jobs()
    return public(row, service)


@router.post(
    "/import",
    responses={
        415: {"description": "not text/csv"},
        422: {"description": "a real import with problems: nothing imported, every problem "
              "listed with its line"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "a header line (name,address,type,site,tags,checks,...) then a "
            "target per line; see the README, Import",
        }
    },
)  # fmt: skip
async def import_targets_csv(
    request: Request, inv: InventoryDep, service: ServiceDep, who: AuthDep, dry_run: bool = False
) -> ImportAnswer:
    """Targets and their checks from CSV, all or nothing: every line checked first, each
    problem named with its line and column. ``dry_run``: only say what would be made."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/csv", "text/plain"):
        raise HTTPException(415, "body: send the file as Content-Type: text/csv")
    raw = await request.body()
    if not raw.strip():
        raise InventoryError("body: empty: send the CSV file (a header, then a line per target)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InventoryError("body: the file is not UTF-8 text (save the CSV as UTF-8)") from None
    run = partial(import_targets, admin=is_admin(who), dry_run=dry_run)
    report = await asyncio.to_thread(run, inv, text, current_actor())
    answer = ImportAnswer(**report.as_json())
    header = report.lines[0].errors if report.lines and report.lines[0].line == 1 else []
    if header:  # not a file of targets at all: a bad request, dry run or not
        raise InventoryError(
            f"body: {header[0]}" + (f" (and {len(header) - 1} more)" if len(header) > 1 else "")
        )
    if report.errors and not dry_run:
        problems = [{"field": f"line {x.line}", "msg": e} for x in report.lines for e in x.errors]
        body = {
            "detail": f"{report.errors} problem(s): nothing imported",
            "field": "body",
            "errors": problems[:1000],
            **answer.model_dump(),
        }
        return JSONResponse(body, status_code=422)  # type: ignore[return-value]
    if report.jobs and not dry_run:
        await service.reload_jobs()
    return answer


@router.get("/{name}")
async def get_target(name: str, service: ServiceDep, inv: InventoryDep) -> TargetPublic:
    """One target."""
    return public(await asyncio.to_thread(inv.get_target, name), service)


@router.put("/{name}")
async def replace_target(
    name: Annotated[str, ...],
    body: TargetCreate,
    service: ServiceDep,
    inv: InventoryDep,
    who: AuthDep,
) -> TargetPublic:
    """Create or replace a target; the name in the body must match the path."""
    _same_name(name, body.name)
    put = partial(inv.put_target, admin=is_admin(who))
    return public(await asyncio.to_thread(put, body, current_actor()), service)


@router.patch("/{name}")
async def patch_target(
    name: str, body: TargetUpdate, service: ServiceDep, inv: InventoryDep, who: AuthDep
) -> TargetPublic:
    """Change some fields of a target."""
    current = target_fields(await asyncio.to_thread(inv.get_target, name))
    merged = {**current, **body.model_dump(exclude_unset=True), "name": name}
    cfg = TargetConfig.model_validate(merged)
    put = partial(inv.put_target, admin=is_admin(who))
    return public(await asyncio.to_thread(put, cfg, current_actor()), service)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_target(name: str, service: ServiceDep, inv: InventoryDep) -> Response:
    """Delete a target (409 while a job names it)."""
    await asyncio.to_thread(inv.delete_target, name, current_actor())
    service.forget_target(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class CheckOutcome(BaseModel):
    """One check of "test now": which job (None for the default check), its outcome."""

    job: str | None
    kind: str
    status: str
    error: str | None = None
    metrics: dict[str, float | None] = {}
    details: dict[str, Any] = {}

    model_config = ConfigDict(from_attributes=True)


class TestReport(BaseModel):
    """What "test now" did: each covering job's check of the target, or the default check."""

    target: str
    address: str
    covered: bool
    note: str | None = None
    results: list[CheckOutcome]

    model_config = ConfigDict(from_attributes=True)


@router.post("/{name}/test")
async def test_target(name: str, service: ServiceDep) -> TestReport:
    """Test now: run once, for this target only, every enabled job that covers it (by name or
    by selector) with the job's params and timeout, and answer the results (job, kind,
    status, error, metrics). Nothing is stored: no samples, no state change, no job run.

    Each check runs as a scheduled run would (the runner's own rules: params, timeout,
    concurrency limits, error texts). When no enabled job covers the target, a default ICMP
    check (one round of pings) runs and ``covered`` is false. Traffic goes to the target's
    address only: a job whose check is aimed elsewhere (an HTTP job with a whole ``url``, a
    DNS job asking the system's resolvers) is reported as ``skipped``, not run."""
    report = await service.test_target(name)
    return TestReport.model_validate(report, from_attributes=True)


def _same_name(path_name: str, body_name: str) -> None:

    if path_name != body_name:
        raise InventoryError(f"name: body name {body_name!r} differs from the path {path_name!r}")


__all__ = ["NAME_PATTERN", "router"]
