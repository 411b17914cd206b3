"""The audit trail: API request logs and error logs (admin), and the console's own
activity reports (posted by any user, read by admins)."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from netgauge.api.deps import Limit, Offset, ServiceDep
from netgauge.api.security import current_actor

router = APIRouter(tags=["audit"])


DetailKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
DetailValue = Annotated[str, StringConstraints(max_length=256)] | int | float | bool | None
MAX_DETAILS_BYTES = 2048  # a row of the trail, as JSON


class Activity(BaseModel):
    """A page view or an action, as the web console reports it (first party only). Small
    by construction: at most 16 details of 256 characters, 2 KiB in all."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["page_view", "action"]
    page: str = Field(min_length=1, max_length=256)
    action: str | None = Field(None, max_length=128)
    details: dict[DetailKey, DetailValue] = Field(default_factory=dict, max_length=16)

    @field_validator("details")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value))
        if size > MAX_DETAILS_BYTES:
            raise ValueError(f"{size} bytes as JSON: at most {MAX_DETAILS_BYTES}")
        return value


class RequestLogRow(BaseModel):
    """One logged API request."""

    id: int
    at: datetime
    method: str
    path: str
    user: str | None
    client: str | None
    status: int
    duration_ms: float
    request_bytes: int
    response_bytes: int
    weight: int  # the requests this row stands for: successful reads are sampled


class ErrorLogRow(BaseModel):
    """One logged error."""

    id: int
    at: datetime
    category: str
    severity: str
    message: str
    stack: str | None
    device: str | None
    user: str | None


class ActivityRow(BaseModel):
    """One reported page view or action."""

    id: int
    at: datetime
    user: str
    kind: str
    page: str
    action: str | None
    details: dict[str, Any]


@router.get("/logs/requests")
async def request_logs(
    service: ServiceDep,
    limit: Limit = 100,
    offset: Offset = 0,
    user: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
) -> list[RequestLogRow]:
    """API requests, newest first (written every couple of seconds)."""
    rows = await asyncio.to_thread(
        service.audit.rows, "requests", limit, offset, user=user, status=status
    )
    return [RequestLogRow(**r) for r in rows]


@router.get("/logs/errors")
async def error_logs(
    service: ServiceDep,
    limit: Limit = 100,
    offset: Offset = 0,
    category: Annotated[
        Literal["api", "database", "external_service", "validation", "collector"] | None, Query()
    ] = None,
    severity: Annotated[Literal["info", "warning", "error", "critical"] | None, Query()] = None,
) -> list[ErrorLogRow]:
    """Errors, newest first, by category and severity."""
    rows = await asyncio.to_thread(
        service.audit.rows, "errors", limit, offset, category=category, severity=severity
    )
    return [ErrorLogRow(**r) for r in rows]


@router.post("/activity", status_code=204)
async def report_activity(body: Activity, service: ServiceDep) -> Response:
    """The web console reports a page view or an action of the logged-in user (at most
    ``activity_per_minute`` a user: 429 with Retry-After beyond)."""
    wait = service.activity_limit.take(current_actor())
    if wait > 0:
        raise HTTPException(
            429,
            "too many activity reports: the console sends a few a minute",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    service.audit.activity(
        user=current_actor(),
        kind=body.kind,
        page=body.page,
        action=body.action,
        details=dict(body.details),
    )
    return Response(status_code=204)


@router.get("/activity")
async def list_activity(
    service: ServiceDep,
    limit: Limit = 100,
    offset: Offset = 0,
    user: Annotated[str | None, Query(max_length=200)] = None,
) -> list[ActivityRow]:
    """Reported page views and actions, newest first."""
    rows = await asyncio.to_thread(service.audit.rows, "activity", limit, offset, user=user)
    return [ActivityRow(**r) for r in rows]
