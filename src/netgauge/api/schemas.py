"""Request and response bodies (XCreate / XUpdate / XPublic per resource)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from netgauge.config.model import (
    JobConfig,
    SelectorConfig,
    TargetConfig,
    WindowConfig,
)
from netgauge.inventory.checks import CheckIn
from netgauge.models import TargetType

Item = TypeVar("Item")

TargetCreate = TargetConfig


class TargetWithChecks(TargetConfig):
    """A target, and (when created) the checks to run on it at once."""

    checks: list[CheckIn] = Field(
        default_factory=list,
        max_length=16,
        description="each becomes a job named <target>-<kind> covering this target only",
    )


JobCreate = JobConfig


class TargetUpdate(BaseModel):
    """Fields to change on a target; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    address: str | None = Field(None, min_length=1, max_length=253)
    type: TargetType | None = None
    site: str | None = None
    tags: list[str] | None = None
    credentials: str | None = None
    description: str | None = None


class TargetPublic(BaseModel):
    """A target as the API returns it."""

    name: str
    address: str
    type: str
    site: str | None
    tags: list[str]
    credentials: str | None
    description: str
    parent: str | None = Field(None, description="the target it is reached through")
    source: str
    status: str
    created_at: datetime
    updated_at: datetime


class JobUpdate(BaseModel):
    """Fields to change on a job; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    kind: str | None = None
    params: dict[str, Any] | None = None
    targets: list[str] | None = None
    selector: SelectorConfig | None = None
    interval: float | str | None = None
    timeout: float | str | None = None
    concurrency: int | None = None
    window: WindowConfig | None = None
    enabled: bool | None = None
    run_when: Literal["always", "open", "closed", "peak", "off_peak"] | None = None
    maintenance: Literal["mute", "pause"] | None = None
    vantage: list[str] | None = None
    quorum: int | None = None


class JobRunPublic(BaseModel):
    """One recorded run."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    job_name: str
    trigger: str
    scheduled_at: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str
    targets_ok: int
    targets_failed: int
    samples_rejected: int = 0
    error: str | None


class JobRunTargetPublic(BaseModel):
    """One target's outcome in a run."""

    model_config = ConfigDict(from_attributes=True)
    target: str
    status: str
    error: str | None


class PageOf(BaseModel, Generic[Item]):
    """A page of items and the total that matched (typed per resource in the schema:
    ``PageOf[TargetPublic]``, so generated clients get models)."""

    total: int
    limit: int
    offset: int
    items: list[Item]


# -- /api/v1/health --------------------------------------------------------------------------
class SpoolPublic(BaseModel):
    """A store's disk spool: what waits in it, and what a full spool dropped."""

    batches: int
    samples: int
    bytes: int
    dropped_samples: int


class StoreSummary(BaseModel):
    """One store in the open health summary (no error text: it can name hosts)."""

    name: str
    state: Literal["ok", "degraded", "down"]
    cause: str | None = Field(
        description="unreachable, permission_denied, writes_failing or samples_lost"
    )
    reachable: bool
    samples_written: int | None
    last_write_ns: int | None = Field(description="the newest sample it holds")
    last_success_ns: int | None = Field(description="when it last took a batch")
    pending: int
    dropped: int
    spool: SpoolPublic | None


class SchedulerSummary(BaseModel):
    running: bool


class HealthSummary(BaseModel):
    """``GET /api/v1/health``: open to load balancers."""

    status: Literal["ok", "degraded"]
    role: Literal["single", "leader", "standby"] = Field(
        "single",
        description="with a PostgreSQL inventory shared by several serve: the one that "
        "schedules and alerts (leader) or a standby; single otherwise",
    )
    scheduler: SchedulerSummary
    stores: list[StoreSummary]
    last_write_ns: int | None
    lake: Literal["off", "never", "ok", "failing"] = Field(
        "off", description="the data lake export: not configured, not run yet, ok, failing"
    )


class LakeHealth(BaseModel):
    """The data lake export's last run (``lake_dir``; docs/analytics/lake.md)."""

    state: Literal["off", "never", "ok", "failing"]
    out: str | None
    running: bool
    last_run_at: datetime | None
    seconds: float | None
    files_written: int | None
    files_unchanged: int | None
    rows_written: int | None
    error: str | None


class StoreDetails(StoreSummary):
    """One store with everything: the reason for its state, refusals by reason, errors."""

    reason: str | None
    refused: dict[str, int] = Field(description="samples it could not carry, by reason")
    error: str | None
    answers_queries: bool


class SchedulerDetails(SchedulerSummary):
    jobs: int
    in_flight: list[str]
    runs_started: int


class HealthDetails(BaseModel):
    """``GET /api/v1/health/details``: any logged-in role."""

    status: Literal["ok", "degraded"]
    role: Literal["single", "leader", "standby"] = "single"
    scheduler: SchedulerDetails
    stores: list[StoreDetails]
    last_write_ns: int | None
    rejected_samples: dict[str, int] = Field(
        description="device samples refused by validation, by reason"
    )
    lake: LakeHealth


class RunNowResponse(BaseModel):
    """What run-now did."""

    job: str
    started: bool


class PointPublic(BaseModel):
    """One point of a series; ``ts`` is UTC nanoseconds."""

    ts: int
    time: datetime
    value: float
    min: float
    max: float
    count: int


class SeriesResponse(BaseModel):
    """Points of one series."""

    target: str
    metric: str
    start: datetime
    end: datetime
    step: float | None
    agg: str
    points: list[PointPublic]


class SeriesColumns(BaseModel):
    """Points of one series as parallel arrays (``format=columns``): the same numbers as
    ``SeriesResponse`` in about a quarter of the bytes, for charts."""

    target: str
    metric: str
    start: datetime
    end: datetime
    step: float | None
    agg: str
    ts: list[int]
    value: list[float]
    min: list[float]
    max: list[float]
    count: list[int]


class CheckStatus(BaseModel):
    """The newest result of one job on a target."""

    job: str
    kind: str
    status: str
    time: datetime
    error: str | None
    metrics: dict[str, float | None]
    details: dict[str, Any] = {}


class TargetStatus(BaseModel):
    """Current state of one target."""

    target: str
    state: str
    since: datetime | None
    last_check: datetime | None
    checks: list[CheckStatus]


class ChangePublic(BaseModel):
    """One recorded inventory change."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    entity_type: str
    entity_name: str
    action: str
    changes: dict[str, Any]
    actor: str


class EventPublic(BaseModel):
    """Something that happened to a target (``path_change``: data has ``old`` and ``new``;
    ``anomaly`` and ``error_pattern``: see docs/analytics/history.md)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    kind: str
    target_name: str
    job_name: str | None
    data: dict[str, Any]
    summary: str = Field("", description="the event in words")


class Round(BaseModel):
    """Every metric one check stored at one instant (one ICMP burst, one HTTP request…)."""

    ts: int
    time: datetime
    metrics: dict[str, float]


class RoundsResponse(BaseModel):
    """Rounds of one check kind on one target, oldest first."""

    target: str
    kind: str
    rounds: list[Round]


class DeviceStatePublic(BaseModel):
    """A device's decided state (with hysteresis; None until its first check)."""

    device: str
    state: str | None


class DeviceStateChangePublic(BaseModel):
    """One transition of a device's state and why it happened."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    device: str
    previous_state: str | None
    new_state: str
    reason: str
    detail: str | None
    at: datetime


LabelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
LabelValue = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MAX_INGEST_METRICS = 50_000  # per request, all batches together


class IngestMetric(BaseModel):
    """One value: a device metric name (see the README's table), its labels."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    value: float
    labels: dict[LabelName, LabelValue] = Field(default_factory=dict, max_length=4)


class IngestBatch(BaseModel):
    """One collection of an agent, numbered from 1 upwards per device."""

    model_config = ConfigDict(extra="forbid")
    seq: int = Field(ge=1, le=2**63 - 1)
    ts_ns: int = Field(ge=0, le=9_223_372_036_854_775_807)
    metrics: list[IngestMetric] = Field(max_length=10_000)


class AgentInfo(BaseModel):
    version: str = Field("", max_length=64)
    hostname: str = Field("", max_length=255)


class IngestRequest(BaseModel):
    """What ``netgauge agent`` posts: at most 500 batches, in ascending ``seq``."""

    model_config = ConfigDict(extra="forbid")
    agent: AgentInfo = Field(default_factory=AgentInfo)
    batches: list[IngestBatch] = Field(max_length=500)


class IngestResponse(BaseModel):
    """Every batch up to ``accepted_through`` is stored (now, or earlier)."""

    device: str
    accepted_through: int
    stored: int
    refused: list[str]


class AgentTokenPublic(BaseModel):
    """A new agent token: shown once, only its hash is kept."""

    device: str
    token: str


class CredentialPublic(BaseModel):
    """A credentials entry as the API shows it: never a secret. ``fields`` says per field
    where its value comes from: ``stored`` (sealed in netgauge), ``env:VAR``, ``file:PATH``."""

    name: str
    kind: str
    username: str | None
    scope: dict[str, list[str]] | None
    fields: dict[str, str]
    source: str = Field(description="api (console or API), yaml (the file), builtin")
    targets: int = Field(description="how many targets use it")


class ImportLineOut(BaseModel):
    line: int
    name: str
    checks: list[str] = Field(description="the kinds of the checks the line makes")
    errors: list[str] = Field(description="what is wrong with the line, each naming its column")


class ImportAnswer(BaseModel):
    """What a CSV import made, or (dry run, or problems) would make."""

    dry_run: bool
    imported: bool
    targets: int
    jobs: int
    errors: int
    lines: list[ImportLineOut]
