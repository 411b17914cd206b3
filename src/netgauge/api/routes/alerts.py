"""/api/v1/alerts, /incidents, /silences, /notifiers, /notifications: alerting's API.

Reading is for viewers; silencing, acknowledging and test-sending for operators. Notifier
URLs are never shown whole (a chat webhook's URL is its password): only scheme and host.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from netgauge.alerting.payload import iso
from netgauge.alerting.service import AlertView
from netgauge.alerting.silences import Matcher, Silence, SilenceIn
from netgauge.api.deps import Limit, Offset, ServiceDep
from netgauge.api.schemas import PageOf
from netgauge.api.security import current_actor
from netgauge.inventory.tables import IncidentRow, NotificationRow

router = APIRouter(tags=["alerts"])
IncidentId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class AlertOut(BaseModel):
    """A pending or firing alert."""

    fingerprint: str
    alertname: str
    state: str = Field(description="pending (waiting out `for`) or firing")
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: str = Field(description="when its condition became true (RFC 3339)")  # noqa: N815
    firedAt: str | None = Field(description="when it started firing")  # noqa: N815
    value: float | None
    suppressed: str | None = Field(
        description="why it is not notified on its own, e.g. 'unreachable via parent gw'"
    )
    silencedBy: list[str] = Field(description="ids of the silences muting it")  # noqa: N815
    incident: int | None


def _alert_out(view: AlertView) -> AlertOut:
    a = view.alert
    return AlertOut(
        fingerprint=a.fingerprint,
        alertname=a.rule,
        state=a.state.value,
        labels=a.labels,
        annotations=a.annotations,
        startsAt=iso(a.active_at),
        firedAt=iso(a.fired_at) if a.fired_at else None,
        value=a.value,
        suppressed=a.suppressed,
        silencedBy=view.silenced_by,
        incident=a.incident_id,
    )


@router.get("/alerts")
async def list_alerts(
    service: ServiceDep,
    state: Annotated[str | None, Query(pattern="^(pending|firing)$")] = None,
    target: Annotated[str | None, Query(max_length=128)] = None,
) -> list[AlertOut]:
    """Alerts pending or firing now, firing first, each with its labels and `startsAt`."""
    views = service.alerting.alerts()
    return [
        _alert_out(v)
        for v in views
        if (state is None or v.alert.state.value == state)
        and (target is None or v.alert.target == target)
    ]


class IncidentEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str = Field(description="fired, notified, notify_failed, suppressed, acked, resolved")
    actor: str | None
    detail: str


class IncidentOut(BaseModel):
    """One firing episode of one alert."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    fingerprint: str
    rule: str
    target: str | None
    labels: dict[str, str]
    severity: str
    summary: str
    state: str = Field(description="open or resolved")
    started_at: datetime
    resolved_at: datetime | None
    acked_by: str | None
    acked_at: datetime | None


class IncidentDetail(IncidentOut):
    """An incident with its timeline."""

    timeline: list[IncidentEventOut]


def _detail(row: IncidentRow) -> IncidentDetail:
    return IncidentDetail.model_validate(
        {
            **IncidentOut.model_validate(row).model_dump(),
            "timeline": [IncidentEventOut.model_validate(e) for e in row.events],
        }
    )


@router.get("/incidents")
async def list_incidents(
    service: ServiceDep,
    state: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PageOf[IncidentOut]:
    """Incidents, newest first."""
    rows, total = await service.alerting.incidents(state, limit, offset)
    items = [IncidentOut.model_validate(r) for r in rows]
    return PageOf[IncidentOut](total=total, limit=limit, offset=offset, items=items)


@router.get("/incidents/{incident_id}")
async def get_incident(incident_id: IncidentId, service: ServiceDep) -> IncidentDetail:
    """One incident and its timeline (fired, notified, acked, resolved, and by whom)."""
    return _detail(await service.alerting.incident(incident_id))


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field("", max_length=2000)


@router.post("/incidents/{incident_id}/ack")
async def ack_incident(
    incident_id: IncidentId, service: ServiceDep, body: AckIn | None = None
) -> IncidentDetail:
    """Acknowledge an incident: someone is on it (the timeline says who, and when)."""
    comment = body.comment if body is not None else ""
    return _detail(await service.alerting.ack(incident_id, current_actor(), comment))


class SilenceOut(BaseModel):
    """A silence, in Alertmanager's shape (``status.state``: pending, active, expired)."""

    id: str
    matchers: list[Matcher]
    startsAt: str  # noqa: N815
    endsAt: str  # noqa: N815
    createdBy: str  # noqa: N815
    comment: str
    status: dict[str, str]


def _silence_out(s: Silence) -> SilenceOut:
    return SilenceOut(
        id=s.id,
        matchers=s.matchers,
        startsAt=iso(s.startsAt),
        endsAt=iso(s.endsAt),
        createdBy=s.createdBy,
        comment=s.comment,
        status={"state": s.state},
    )


@router.post("/silences", status_code=status.HTTP_201_CREATED)
async def create_silence(body: SilenceIn, service: ServiceDep) -> SilenceOut:
    """Mute alerts matching every matcher from `startsAt` (default now) to `endsAt` (or
    for `duration`). Matchers: `{"name", "value", "isRegex", "isEqual"}`, as in
    Alertmanager; `createdBy` defaults to the caller."""
    return _silence_out(await service.alerting.add_silence(body, current_actor()))


@router.get("/silences")
async def list_silences(service: ServiceDep) -> list[SilenceOut]:
    """Every silence, newest first, with its state now."""
    return [_silence_out(s) for s in await service.alerting.silences()]


@router.delete("/silences/{silence_id}")
async def expire_silence(
    silence_id: Annotated[str, Path(max_length=64)], service: ServiceDep
) -> SilenceOut:
    """End a silence now (it stays listed, expired)."""
    return _silence_out(await service.alerting.expire_silence(silence_id))


class NotifierOut(BaseModel):
    name: str
    kind: str
    where: str = Field(description="scheme and host only: a URL can hold a token")
    filters: dict[str, Any]


@router.get("/notifiers")
async def list_notifiers(service: ServiceDep) -> list[NotifierOut]:
    """The notifiers of the configuration."""
    return [
        NotifierOut(
            name=n.name,
            kind=n.cfg.kind,
            where=n.where(),
            filters={
                "only": n.cfg.only,
                "severities": n.cfg.severities,
                "sites": n.cfg.sites,
                "tags": n.cfg.tags,
            },
        )
        for n in service.alerting.notifiers.values()
    ]


class TestSent(BaseModel):
    notification: int = Field(description="its id in /api/v1/notifications")


@router.post("/notifiers/{name}/test", status_code=status.HTTP_202_ACCEPTED)
async def test_notifier(
    name: Annotated[str, Path(max_length=128)], service: ServiceDep
) -> TestSent:
    """Queue a test notification through one notifier (delivered like any other: see its
    attempts in /api/v1/notifications)."""
    return TestSent(notification=await service.alerting.send_test(name))


class NotificationOut(BaseModel):
    """One notification of the outbox and its delivery."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    receiver: str
    group_key: str
    status: str = Field(description="firing, resolved or test")
    state: str = Field(description="pending (being retried), sent or failed (given up)")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    alerts: int


def _notification_out(row: NotificationRow) -> NotificationOut:
    return NotificationOut.model_validate(
        {
            **{k: getattr(row, k) for k in NotificationOut.model_fields if k != "alerts"},
            "alerts": len(row.payload.get("alerts", [])),
        }
    )


@router.get("/notifications")
async def list_notifications(
    service: ServiceDep, limit: Limit = 100, offset: Offset = 0
) -> PageOf[NotificationOut]:
    """Notifications, newest first: what was sent to whom, every attempt's outcome."""
    rows, total = await service.alerting.notifications(limit, offset)
    items = [_notification_out(r) for r in rows]
    return PageOf[NotificationOut](total=total, limit=limit, offset=offset, items=items)
