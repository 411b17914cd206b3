"""SQLAlchemy 2.x models of the inventory; every change to them needs an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and returns them aware (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Aware current UTC time (the default of every timestamp column)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the inventory."""


class NamedEntity:
    """Columns every named inventory entity has: who owns it (yaml/api) and when it changed."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Site(NamedEntity, Base):
    """A place targets belong to."""

    __tablename__ = "sites"
    description: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    schedule: Mapped[str | None] = mapped_column(String(128), nullable=True)  # its calendar


class ScheduleRow(NamedEntity, Base):
    """A site calendar: opening and peak hours, maintenance windows, holidays (the
    ScheduleConfig as JSON: one model validates the file, the API and what is stored)."""

    __tablename__ = "schedules"
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Credential(NamedEntity, Base):
    """A credentials reference: env-var names and file paths, or secrets sealed under
    netgauge's secret key; never a secret in clear."""

    __tablename__ = "credentials"
    kind: Mapped[str] = mapped_column(String(16))
    env: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    username: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # {addresses: [CIDR], sites: [...], tags: [...]} or None (see CredentialScopeConfig)
    scope: Mapped[dict[str, list[str]] | None] = mapped_column(JSON, nullable=True)
    # secrets entered in the console or API: field → sealed value (credentials.vault)
    sealed: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)


class TargetRow(NamedEntity, Base):
    """A destination or device."""

    __tablename__ = "targets"
    address: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16), default="destination")
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    credentials: Mapped[str | None] = mapped_column(String(128), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # the target this one is reached through (a name, like credentials): see alerting
    parent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    site: Mapped[Site | None] = relationship(lazy="joined")
    tag_rows: Mapped[list[TargetTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="TargetTag.tag"
    )

    @property
    def tags(self) -> list[str]:
        """Tag names, sorted."""
        return [t.tag for t in self.tag_rows]


class TargetTag(Base):
    """One tag of one target (a table, so tag filters are plain indexed SQL on every backend)."""

    __tablename__ = "target_tags"
    target_id: Mapped[int] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(128), primary_key=True)
    __table_args__ = (Index("ix_target_tags_tag", "tag"),)


class JobRow(NamedEntity, Base):
    """A check kind + params + targets + interval + window."""

    __tablename__ = "jobs"
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    target_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    selector: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    interval_s: Mapped[float] = mapped_column(default=60.0)
    timeout_s: Mapped[float | None] = mapped_column(nullable=True)
    concurrency: Mapped[int] = mapped_column(default=64)
    window: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    # by the calendar of each target's site: when it runs, what maintenance does to it
    run_when: Mapped[str] = mapped_column(String(16), default="always", server_default="always")
    maintenance: Mapped[str] = mapped_column(String(8), default="mute", server_default="mute")
    # multi-vantage: the sites whose collectors each run it, and how many must see "down"
    vantage: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    quorum: Mapped[int | None] = mapped_column(nullable=True)


class JobRun(Base):
    """One run (or skipped occurrence) of a job."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(String(128))
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running ok partial failed skipped
    targets_ok: Mapped[int] = mapped_column(default=0)
    targets_failed: Mapped[int] = mapped_column(default=0)
    # device samples refused by validation in this run (collection about collection)
    samples_rejected: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_job_runs_job_started", "job_name", "started_at"),)


class JobRunTarget(Base):
    """One target's outcome in a run. Every target of runs up to RUN_TARGETS_KEPT targets;
    of bigger runs only the ones that failed, up to that many (the run has the counts)."""

    __tablename__ = "job_run_targets"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # ok failed timeout ...
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class InventoryChange(Base):
    """Who changed what in the inventory, field by field (old → new)."""

    __tablename__ = "inventory_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_name: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))  # create update delete
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("ix_inventory_changes_entity", "entity_type", "entity_name"),)


class TargetPath(Base):
    """The newest network path a job saw to a target (traceroute hops; None = silent hop)."""

    __tablename__ = "target_paths"
    job_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    target_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    path: Mapped[list[str | None]] = mapped_column(JSON, default=list)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Event(Base):
    """Something that happened to a target, e.g. a path change with both paths in ``data``."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    target_name: Mapped[str] = mapped_column(String(128))
    job_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (Index("ix_events_target_at", "target_name", "at"),)


class DeviceStateChange(Base):
    """One transition of a device's state (online/offline/degraded/flapping) and why."""

    __tablename__ = "device_state_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    device: Mapped[str] = mapped_column(String(128))
    previous_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    new_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    __table_args__ = (Index("ix_device_state_history_device_at", "device", "at"),)


class AgentToken(Base):
    """A push agent's token for one device: only its SHA-256 is kept, so a stolen database
    does not give working tokens."""

    __tablename__ = "agent_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    device: Mapped[str] = mapped_column(String(128), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CollectorRow(Base):
    """A remote collector: the site it serves, the SHA-256 of its token (never the token),
    its last heartbeat and what it said then, and the last result batch stored from it."""

    __tablename__ = "collectors"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(128), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    spool_pending: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    spool_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    clock_offset_ms: Mapped[float | None] = mapped_column(nullable=True)
    targets: Mapped[int] = mapped_column(default=0)  # checks it runs now (its assignment)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class ClusterLeader(Base):
    """Where the leader of the serve peers sharing this database answers (one row): the
    standbys forward requests there (``api/forward.py``)."""

    __tablename__ = "cluster_leader"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(512))
    pid: Mapped[int] = mapped_column()
    since: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AgentCursor(Base):
    """The last batch sequence number stored per device: a batch sent again is ignored."""

    __tablename__ = "agent_cursors"
    device: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class User(Base):
    """A person who logs in: only an argon2 hash of the password is kept."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # named by every access token issued to the user; a new value (logout, new password,
    # disabled) ends them all, and a user created again under the same name gets a fresh one
    token_generation: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # the zone the console shows times in (an IANA name); None: the browser's own
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ApiToken(Base):
    """A long-lived token for scripts, scoped to a role: only its SHA-256 is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RefreshToken(Base):
    """A login's refresh token (SHA-256 only), used once: each refresh issues the next."""

    __tablename__ = "refresh_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ApiRequestLog(Base):
    """One API request: who, which route (its template, not the names in it), how it went."""

    __tablename__ = "api_request_logs"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(256))
    user: Mapped[str | None] = mapped_column(String(200), nullable=True)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[int] = mapped_column()
    duration_ms: Mapped[float] = mapped_column(Float)
    request_bytes: Mapped[int] = mapped_column(BigInteger)
    response_bytes: Mapped[int] = mapped_column(BigInteger)
    weight: Mapped[int] = mapped_column(default=1)  # requests this row stands for (sampling)


class ErrorLog(Base):
    """An error worth a look: where it came from, how bad, the stack, and its context."""

    __tablename__ = "error_logs"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    stack: Mapped[str | None] = mapped_column(Text, nullable=True)
    device: Mapped[str | None] = mapped_column(String(128), nullable=True)
    user: Mapped[str | None] = mapped_column(String(200), nullable=True)


class UserActivity(Base):
    """What the web console reports of its own use: page views and actions (first party)."""

    __tablename__ = "user_activity"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    user: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    page: Mapped[str] = mapped_column(String(256))
    action: Mapped[str | None] = mapped_column(String(128), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- alerting --------------------------------------------------------------------------------
class AlertRow(Base):
    """An alert that is pending or firing (resolved ones leave; their incident stays), so a
    restart neither forgets an alert nor notifies it again."""

    __tablename__ = "alerts"
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(128), index=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16))  # pending | firing
    active_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_true_at: Mapped[datetime] = mapped_column(UtcDateTime)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    incident_id: Mapped[int | None] = mapped_column(nullable=True)
    suppressed: Mapped[str | None] = mapped_column(Text, nullable=True)


class IncidentRow(Base):
    """One firing episode of one alert, with its timeline (kept after it resolves)."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    rule: Mapped[str] = mapped_column(String(128))
    target: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    summary: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    events: Mapped[list[IncidentEvent]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="IncidentEvent.id"
    )


class IncidentEvent(Base):
    """One line of an incident's timeline: fired, notified, acked, resolved (and by whom)."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class SilenceRow(Base):
    """Alerts matching every matcher between starts_at and ends_at are not notified."""

    __tablename__ = "silences"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class NotificationRow(Base):
    """The durable outbox: a notification is here before it is sent; every attempt updates it."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    receiver: Mapped[str] = mapped_column(String(128))
    group_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved | test
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending sent failed
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_notifications_state_next", "state", "next_attempt_at"),)


class NotificationLogEntry(Base):
    """What each receiver was last told about each group (Alertmanager's nflog): a flush
    that would tell it the same again, before repeat_interval, sends nothing."""

    __tablename__ = "notification_log"
    receiver: Mapped[str] = mapped_column(String(128), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    firing: Mapped[list[str]] = mapped_column(JSON, default=list)  # fingerprints
    resolved: Mapped[list[str]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GapWatch(Base):
    """When each target last gave a sample (collection-gap rules survive a restart)."""

    __tablename__ = "gap_watch"
    target: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
