"""What a collector and the central say to each other (protocol version 1).

``POST /api/v1/collector/sync`` (the collector's token as Bearer): the collector's
heartbeat (:class:`SyncRequest`) answered by its assignment (:class:`SyncAnswer`): the jobs
it runs and, for each, the targets it runs them on; it polls this every ``poll_s``.

``POST /api/v1/collector/results``: the results, in the push agent's batch format and with
its exactly-once rules (a rising ``seq`` per collector; the answer's ``accepted_through``;
a batch sent again is acknowledged, never stored twice). One check result is one batch:
its first metric, ``__result__``, carries the result's header in its labels (job, target,
kind, status, error, details as JSON) and 1 (up) or 0 as its value; the result's metrics
follow under their own names. So the agent's durable spool and sender carry results as
they are, and a collector and a central of adjacent versions understand each other: both
ignore fields they do not know (``extra="ignore"``), and a header label one side does not
know is dropped.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from netgauge.config.model import JobConfig
from netgauge.config.schedules import ScheduleConfig
from netgauge.models import (
    CredentialRef,
    CredentialScope,
    ProbeResult,
    ProbeStatus,
    Target,
    TargetType,
)
from netgauge.pollers.readings import Metric

PROTOCOL = 1
SYNC_PATH = "/api/v1/collector/sync"
RESULTS_PATH = "/api/v1/collector/results"
HEADER = "__result__"
MAX_DETAILS_CHARS = 64 * 1024  # a traceroute's hops; more is cut, not refused


class SyncRequest(BaseModel):
    """A collector's heartbeat."""

    model_config = ConfigDict(extra="ignore")
    protocol: int = PROTOCOL
    version: str = Field("", max_length=32)
    spool_pending: int = Field(0, ge=0, description="result batches not yet acknowledged")
    spool_bytes: int = Field(0, ge=0)
    clock_offset_ms: float | None = Field(
        None, description="the collector's clock minus the central's, from the last sync"
    )
    targets: int = Field(0, ge=0, description="checks in its current assignment")
    public_key: str | None = Field(
        None, max_length=64, description="its X25519 key (base64): secrets are sealed for it"
    )


class TargetWire(BaseModel):
    """A target as a collector needs it (its credentials: only where they are, by
    environment variable or file name on the collector's host)."""

    model_config = ConfigDict(extra="ignore")
    name: str
    address: str
    type: str = TargetType.DESTINATION.value
    site: str | None = None
    tags: list[str] = Field(default_factory=list)
    parent: str | None = None
    credentials: dict[str, Any] | None = None

    @classmethod
    def of(cls, target: Target, sealed: dict[str, str] | None = None) -> TargetWire:
        """The wire form of ``target``; ``sealed``: its console-entered secrets, each sealed
        for the collector (``collectors/sealing.py``), never in clear."""
        ref = target.credentials
        creds = None
        if ref is not None:
            scope = ref.scope
            creds = {
                "name": ref.name,
                "kind": ref.kind,
                "env": dict(ref.env),
                "files": dict(ref.files),
                "username": ref.username,
                "sealed": dict(sealed or {}),
                "scope": None
                if scope is None
                else {
                    "networks": [str(n) for n in scope.networks],
                    "sites": sorted(scope.sites),
                    "tags": sorted(scope.tags),
                },
            }
        return cls(
            name=target.name,
            address=target.address,
            type=target.type.value,
            site=target.site,
            tags=list(target.tags),
            parent=target.parent,
            credentials=creds,
        )

    def target(self) -> Target:
        """Back to the probes' Target."""
        ref = None
        if self.credentials is not None:
            c = self.credentials
            scope = c.get("scope")
            ref = CredentialRef(
                str(c["name"]),
                str(c["kind"]),
                env=dict(c.get("env") or {}),
                files=dict(c.get("files") or {}),
                username=c.get("username"),
                scope=None
                if scope is None
                else CredentialScope(
                    tuple(ipaddress.ip_network(n) for n in scope.get("networks", [])),
                    frozenset(scope.get("sites", [])),
                    frozenset(scope.get("tags", [])),
                ),
                sealed=dict(c.get("sealed") or {}),
            )
        return Target(
            self.name,
            self.address,
            TargetType(self.type),
            self.site,
            tuple(self.tags),
            ref,
            self.parent,
        )


class JobAssignment(BaseModel):
    """One job and the targets this collector runs it on."""

    model_config = ConfigDict(extra="ignore")
    job: dict[str, Any]
    targets: list[TargetWire]

    def config(self) -> JobConfig:
        """The job, validated as the central validated it."""
        return JobConfig.model_validate(self.job)


class SiteCalendar(BaseModel):
    """The calendar of a site one of the collector's targets belongs to: its schedule and
    time zone, so the collector pauses a job when the central would (``run_when``,
    ``maintenance: pause``), by the same rule (``schedules/sites.py``)."""

    model_config = ConfigDict(extra="ignore")
    site: str
    timezone: str
    schedule: dict[str, Any]

    def config(self) -> ScheduleConfig:
        """The schedule, validated as the central validated it."""
        return ScheduleConfig.model_validate(self.schedule)


class SyncAnswer(BaseModel):
    """The central's answer to a sync: who the collector is and what it runs."""

    model_config = ConfigDict(extra="ignore")
    protocol: int = PROTOCOL
    collector: str
    site: str
    server_ns: int
    poll_s: float
    revision: str = Field(description="changes whenever the assignment does")
    jobs: list[JobAssignment]
    # the sites of its targets that have a schedule (a collector of an older version
    # ignores them and runs around the clock, as before)
    calendars: list[SiteCalendar] = Field(default_factory=list)


def encode_result(job: str, result: ProbeResult) -> list[Metric]:
    """One result as a batch's metrics (see the module's docstring)."""
    header = {
        "job": job,
        "target": result.target,
        "kind": result.kind,
        "status": result.status.value,
        "prefixed": "1" if result.prefixed else "0",
    }
    if result.error:
        header["error"] = result.error
    if result.details:
        header["details"] = json.dumps(result.details, default=str)[:MAX_DETAILS_CHARS]
    metrics = [Metric(HEADER, 1.0 if result.up else 0.0, header)]
    metrics += [Metric(name, float(v), {}) for name, v in result.metrics.items() if v is not None]
    return metrics


def decode_result(ts_ns: int, metrics: list[Metric]) -> tuple[str, ProbeResult] | None:
    """(job, result) of one batch; None when it is not a result."""
    if not metrics or metrics[0].name != HEADER:
        return None
    header = metrics[0].labels
    try:
        status = ProbeStatus(header["status"])
        job, target, kind = header["job"], header["target"], header["kind"]
    except (KeyError, ValueError):
        return None
    details: dict[str, Any] = {}
    if "details" in header:
        try:
            loaded = json.loads(header["details"])
            details = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            details = {}
    result = ProbeResult(
        target,
        kind,
        ts_ns,
        status,
        {m.name: m.value for m in metrics[1:]},
        header.get("error"),
        details,
        prefixed=header.get("prefixed", "1") == "1",
    )
    return job, result


__all__ = [
    "PROTOCOL",
    "RESULTS_PATH",
    "SYNC_PATH",
    "JobAssignment",
    "SiteCalendar",
    "SyncAnswer",
    "SyncRequest",
    "TargetWire",
    "decode_result",
    "encode_result",
]
