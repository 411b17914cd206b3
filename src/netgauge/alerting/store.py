"""Alerting's tables: active alerts, incidents and timelines, silences, the outbox, nflog.

Synchronous SQLAlchemy (the callers run it in a thread). Writes that must not be torn are
one transaction each: an alert firing and its incident; a notification entering the
outbox and the log entry saying it was decided (so a ``kill -9`` at any point neither
loses the notification nor decides it twice).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from netgauge.alerting.model import Alert, AlertState
from netgauge.alerting.silences import Silence, SilenceIn, matcher_dicts
from netgauge.errors import NotFoundError
from netgauge.inventory.db import session_factory
from netgauge.inventory.tables import (
    AlertRow,
    GapWatch,
    IncidentEvent,
    IncidentRow,
    NotificationLogEntry,
    NotificationRow,
    SilenceRow,
)


@dataclass(frozen=True)
class Change:
    """One alert event to persist: ``event`` is pending, firing, resolved or dropped."""

    event: str
    alert: Alert  # a copy taken when it happened


@dataclass(frozen=True)
class LogEntry:
    """What a receiver was last told about a group."""

    firing: tuple[str, ...]
    resolved: tuple[str, ...]
    sent_at: datetime


@dataclass(frozen=True)
class Outgoing:
    """A notification the outbox holds."""

    id: int
    receiver: str
    group_key: str
    status: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


class AlertStore:
    """Every read and write of alerting's state."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = session_factory(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    # -- alerts and incidents ----------------------------------------------------------------
    def load_alerts(self) -> list[Alert]:
        with self.session() as s:
            return [_alert_of(row) for row in s.scalars(select(AlertRow))]

    def apply(self, changes: Iterable[Change]) -> dict[str, int]:
        """Persist alert events in order, in one transaction; returns the incident id of
        each alert that fired (by fingerprint)."""
        opened: dict[str, int] = {}
        with self.session() as s:
            for change in changes:
                alert = change.alert
                if change.event in ("pending", "firing"):
                    if change.event == "firing":
                        opened[alert.fingerprint] = self._open_incident(s, alert)
                        alert.incident_id = opened[alert.fingerprint]
                    s.merge(_row_of(alert))
                else:  # resolved, dropped
                    s.execute(delete(AlertRow).where(AlertRow.fingerprint == alert.fingerprint))
                    if change.event == "resolved":
                        self._close_incident(s, alert, opened.get(alert.fingerprint))
        return opened

    def _open_incident(self, s: Session, alert: Alert) -> int:
        at = alert.fired_at or alert.active_at
        row = IncidentRow(
            fingerprint=alert.fingerprint,
            rule=alert.rule,
            target=alert.target,
            labels=dict(alert.labels),
            severity=alert.severity,
            summary=alert.annotations.get("summary", ""),
            state="open",
            started_at=at,
        )
        s.add(row)
        s.flush()
        pending_for = (at - alert.active_at).total_seconds()
        detail = alert.annotations.get("summary", "")
        if pending_for > 0:
            detail += f" (true for {pending_for:g}s first)"
        s.add(IncidentEvent(incident_id=row.id, at=at, kind="fired", detail=detail))
        return row.id

    def _close_incident(self, s: Session, alert: Alert, incident_id: int | None) -> None:
        incident_id = incident_id or alert.incident_id or self._open_id(s, alert.fingerprint)
        row = s.get(IncidentRow, incident_id) if incident_id else None
        if row is None:
            return
        row.state, row.resolved_at = "resolved", alert.resolved_at
        s.add(IncidentEvent(incident_id=row.id, at=alert.resolved_at, kind="resolved"))

    @staticmethod
    def _open_id(s: Session, fp: str) -> int | None:
        stmt = select(func.max(IncidentRow.id)).where(
            IncidentRow.fingerprint == fp, IncidentRow.state == "open"
        )
        return s.scalar(stmt)

    def add_events(
        self,
        fingerprints: Iterable[str],
        kind: str,
        detail: str,
        at: datetime,
        actor: str | None = None,
    ) -> None:
        """A timeline line on the newest incident of each fingerprint (the open one, if
        any: an alert opens a new incident only after its previous one resolved)."""
        with self.session() as s:
            for fp in set(fingerprints):
                incident_id = s.scalar(
                    select(func.max(IncidentRow.id)).where(IncidentRow.fingerprint == fp)
                )
                if incident_id is not None:
                    s.add(
                        IncidentEvent(
                            incident_id=incident_id, at=at, kind=kind, actor=actor, detail=detail
                        )
                    )

    def ended(self, fingerprints: Iterable[str]) -> list[Alert]:
        """The newest episode of each fingerprint, as a resolved alert (for resolutions
        decided but not yet told when the process stopped)."""
        wanted = list(set(fingerprints))
        if not wanted:
            return []
        with self.session() as s:
            newest = (
                select(func.max(IncidentRow.id))
                .where(IncidentRow.fingerprint.in_(wanted))
                .group_by(IncidentRow.fingerprint)
            )
            rows = s.scalars(select(IncidentRow).where(IncidentRow.id.in_(newest)))
            return [
                Alert(
                    row.fingerprint,
                    row.rule,
                    dict(row.labels),
                    {"summary": row.summary},
                    AlertState.RESOLVED,
                    active_at=row.started_at,
                    last_true_at=row.resolved_at or row.started_at,
                    fired_at=row.started_at,
                    resolved_at=row.resolved_at or row.started_at,
                    incident_id=row.id,
                )
                for row in rows
                if row.state == "resolved"
            ]

    def list_incidents(
        self, state: str | None, limit: int, offset: int
    ) -> tuple[list[IncidentRow], int]:
        with self.session() as s:
            stmt = select(IncidentRow)
            if state is not None:
                stmt = stmt.where(IncidentRow.state == state)
            total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            rows = s.scalars(
                stmt.order_by(IncidentRow.started_at.desc(), IncidentRow.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return list(rows), total

    def get_incident(self, incident_id: int) -> IncidentRow:
        with self.session() as s:
            row = s.get(IncidentRow, incident_id)
            if row is None:
                raise NotFoundError(f"incident {incident_id} not found")
            return row

    def ack(self, incident_id: int, actor: str, comment: str, at: datetime) -> IncidentRow:
        """Acknowledge an incident (again: a second line in the timeline, the first ack
        stays the incident's)."""
        with self.session() as s:
            row = s.get(IncidentRow, incident_id)
            if row is None:
                raise NotFoundError(f"incident {incident_id} not found")
            if row.acked_at is None:
                row.acked_by, row.acked_at = actor, at
            s.add(
                IncidentEvent(incident_id=row.id, at=at, kind="acked", actor=actor, detail=comment)
            )
            s.flush()
            s.refresh(row)
            return row

    # -- gap watch -------------------------------------------------------------------------------
    def load_last_seen(self) -> dict[str, datetime]:
        with self.session() as s:
            return {row.target: row.last_seen_at for row in s.scalars(select(GapWatch))}

    def save_last_seen(self, seen: dict[str, datetime], gone: Iterable[str]) -> None:
        """Upsert the newest sample times in one statement (10,000 targets: one round trip,
        not a SELECT and an UPDATE each)."""
        with self.session() as s:
            if seen:
                rows = [{"target": t, "last_seen_at": at} for t, at in seen.items()]
                dialect = s.get_bind().dialect.name
                insert = pg_insert if dialect == "postgresql" else sqlite_insert
                stmt = insert(GapWatch)
                s.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["target"],
                        set_={"last_seen_at": stmt.excluded.last_seen_at},
                    ),
                    rows,
                )
            names = list(gone)
            if names:
                s.execute(delete(GapWatch).where(GapWatch.target.in_(names)))

    # -- silences ----------------------------------------------------------------------------
    def add_silence(
        self, body: SilenceIn, starts: datetime, ends: datetime, author: str
    ) -> Silence:
        row = SilenceRow(
            id=str(uuid.uuid4()),
            matchers=matcher_dicts(body.matchers),
            starts_at=starts,
            ends_at=ends,
            created_by=author,
            comment=body.comment,
        )
        with self.session() as s:
            s.add(row)
        return _silence_of(row)

    def silences(self, since: datetime | None = None) -> list[Silence]:
        """Silences ending after ``since`` (all of them without)."""
        with self.session() as s:
            stmt = select(SilenceRow).order_by(SilenceRow.created_at.desc())
            if since is not None:
                stmt = stmt.where(SilenceRow.ends_at > since)
            return [_silence_of(row) for row in s.scalars(stmt)]

    def expire_silence(self, silence_id: str, at: datetime) -> Silence:
        with self.session() as s:
            row = s.get(SilenceRow, silence_id)
            if row is None:
                raise NotFoundError(f"silence {silence_id!r} not found")
            row.ends_at = min(row.ends_at, at)
            row.starts_at = min(row.starts_at, row.ends_at)
            return _silence_of(row)

    # -- the outbox and the notification log ----------------------------------------------------
    def load_log(self) -> dict[tuple[str, str], LogEntry]:
        with self.session() as s:
            return {
                (r.receiver, r.group_key): LogEntry(tuple(r.firing), tuple(r.resolved), r.sent_at)
                for r in s.scalars(select(NotificationLogEntry))
            }

    def enqueue(
        self,
        receiver: str,
        group_key: str,
        status: str,
        payload: dict[str, Any] | None,
        entry: LogEntry | None,
        at: datetime,
    ) -> int:
        """Put a notification in the outbox and, with ``entry``, record it in the log: one
        transaction, so after a crash both happened or neither did. Without ``payload``
        only the log changes (0 is returned)."""
        with self.session() as s:
            if payload is None:
                if entry is not None:
                    s.merge(_log_row(receiver, group_key, entry))
                return 0
            row = NotificationRow(
                receiver=receiver,
                group_key=group_key,
                status=status,
                payload=payload,
                state="pending",
                attempts=0,
                created_at=at,
                next_attempt_at=at,
            )
            s.add(row)
            if entry is not None:
                s.merge(_log_row(receiver, group_key, entry))
            s.flush()
            return row.id

    def due(self, at: datetime, limit: int = 100) -> list[Outgoing]:
        """Pending notifications whose next attempt is due, oldest first."""
        with self.session() as s:
            stmt = (
                select(NotificationRow)
                .where(NotificationRow.state == "pending", NotificationRow.next_attempt_at <= at)
                .order_by(NotificationRow.id)
                .limit(limit)
            )
            return [
                Outgoing(
                    r.id,
                    r.receiver,
                    r.group_key,
                    r.status,
                    dict(r.payload),
                    r.attempts,
                    r.created_at,
                )
                for r in s.scalars(stmt)
            ]

    def next_due(self) -> datetime | None:
        with self.session() as s:
            return s.scalar(
                select(func.min(NotificationRow.next_attempt_at)).where(
                    NotificationRow.state == "pending"
                )
            )

    def attempted(
        self, notification_id: int, at: datetime, error: str | None, retry_at: datetime | None
    ) -> None:
        """Record an attempt: sent (no ``error``), to retry at ``retry_at``, or given up."""
        with self.session() as s:
            row = s.get(NotificationRow, notification_id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = error
            if error is None:
                row.state, row.sent_at = "sent", at
            elif retry_at is None:
                row.state = "failed"
            else:
                row.next_attempt_at = retry_at

    def notifications(self, limit: int, offset: int) -> tuple[list[NotificationRow], int]:
        with self.session() as s:
            total = s.scalar(select(func.count()).select_from(NotificationRow)) or 0
            rows = s.scalars(
                select(NotificationRow)
                .order_by(NotificationRow.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return list(rows), total


def _log_row(receiver: str, group_key: str, entry: LogEntry) -> NotificationLogEntry:
    return NotificationLogEntry(
        receiver=receiver,
        group_key=group_key,
        firing=list(entry.firing),
        resolved=list(entry.resolved),
        sent_at=entry.sent_at,
    )


def _row_of(alert: Alert) -> AlertRow:
    return AlertRow(
        fingerprint=alert.fingerprint,
        rule=alert.rule,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        state=alert.state.value,
        active_at=alert.active_at,
        fired_at=alert.fired_at,
        last_true_at=alert.last_true_at,
        value=alert.value,
        incident_id=alert.incident_id,
        suppressed=alert.suppressed,
    )


def _alert_of(row: AlertRow) -> Alert:
    return Alert(
        row.fingerprint,
        row.rule,
        dict(row.labels),
        dict(row.annotations),
        AlertState(row.state),
        active_at=row.active_at,
        last_true_at=row.last_true_at,
        fired_at=row.fired_at,
        value=row.value,
        incident_id=row.incident_id,
        suppressed=row.suppressed,
    )


def _silence_of(row: SilenceRow) -> Silence:
    return Silence.model_validate(
        {
            "id": row.id,
            "matchers": row.matchers,
            "startsAt": row.starts_at,
            "endsAt": row.ends_at,
            "createdBy": row.created_by,
            "comment": row.comment,
        }
    )


__all__ = ["AlertStore", "Change", "LogEntry", "Outgoing"]
