"""The inventory's history tables as data lake tables (see ``netgauge.analytics.lake``).

Each table is partitioned by the UTC day of one time column and sorted by (that time, id).
Its watermark is the highest id exported and the ids of rows that may still change (a run
not finished, an incident not resolved): the next export reads only the days of rows above
the mark or among those. Ids grow with every insert (SQLite has one writer at a time), so
nothing committed later hides below the mark. JSON columns become canonical JSON text
(sorted keys), a schema that never changes with the content.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.orm import InstrumentedAttribute

from netgauge.analytics.lake import UTC_US, Plan, day_bounds
from netgauge.inventory.tables import (
    ApiRequestLog,
    DeviceStateChange,
    ErrorLog,
    Event,
    IncidentEvent,
    IncidentRow,
    InventoryChange,
    JobRun,
    JobRunTarget,
    UserActivity,
)

Column = tuple[str, Any, pa.DataType]  # lake name, SQL column, Arrow type
_TEXT, _INT, _FLOAT = pa.string(), pa.int64(), pa.float64()
_JSON = pa.string()  # marked by its column being a JSON one (see _convert)


@dataclass(frozen=True)
class InventoryTable:
    """One inventory table as a lake table."""

    name: str
    model: Any
    at: InstrumentedAttribute[Any]  # the partitioning time
    columns: list[Column]
    still_open: ColumnElement[bool] | None = None  # rows that may change later
    join: Callable[[Any], Any] | None = None  # adds a joined table to a select

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema: explicit types, nullability as the columns have it."""
        return pa.schema([pa.field(name, kind) for name, _, kind in self.columns])


TABLES: list[InventoryTable] = [
    InventoryTable(
        "job_runs",
        JobRun,
        JobRun.started_at,
        [
            ("id", JobRun.id, _INT),
            ("job", JobRun.job_name, _TEXT),
            ("trigger", JobRun.trigger, _TEXT),
            ("scheduled_at", JobRun.scheduled_at, UTC_US),
            ("started_at", JobRun.started_at, UTC_US),
            ("finished_at", JobRun.finished_at, UTC_US),
            ("status", JobRun.status, _TEXT),
            ("targets_ok", JobRun.targets_ok, _INT),
            ("targets_failed", JobRun.targets_failed, _INT),
            ("samples_rejected", JobRun.samples_rejected, _INT),
            ("error", JobRun.error, _TEXT),
        ],
        still_open=JobRun.finished_at.is_(None),
    ),
    InventoryTable(
        "job_run_targets",  # partitioned by its run's start
        JobRunTarget,
        JobRun.started_at,
        [
            ("id", JobRunTarget.id, _INT),
            ("run_id", JobRunTarget.run_id, _INT),
            ("job", JobRun.job_name, _TEXT),
            ("started_at", JobRun.started_at, UTC_US),
            ("target", JobRunTarget.target, _TEXT),
            ("status", JobRunTarget.status, _TEXT),
            ("error", JobRunTarget.error, _TEXT),
        ],
        join=lambda stmt: stmt.join(JobRun, JobRun.id == JobRunTarget.run_id),
    ),
    InventoryTable(
        "device_states",
        DeviceStateChange,
        DeviceStateChange.at,
        [
            ("id", DeviceStateChange.id, _INT),
            ("ts", DeviceStateChange.at, UTC_US),
            ("device", DeviceStateChange.device, _TEXT),
            ("previous_state", DeviceStateChange.previous_state, _TEXT),
            ("new_state", DeviceStateChange.new_state, _TEXT),
            ("reason", DeviceStateChange.reason, _TEXT),
            ("detail", DeviceStateChange.detail, _TEXT),
        ],
    ),
    InventoryTable(
        "events",
        Event,
        Event.at,
        [
            ("id", Event.id, _INT),
            ("ts", Event.at, UTC_US),
            ("kind", Event.kind, _TEXT),
            ("target", Event.target_name, _TEXT),
            ("job", Event.job_name, _TEXT),
            ("data", Event.data, _JSON),
        ],
    ),
    InventoryTable(
        "error_logs",
        ErrorLog,
        ErrorLog.at,
        [
            ("id", ErrorLog.id, _INT),
            ("ts", ErrorLog.at, UTC_US),
            ("category", ErrorLog.category, _TEXT),
            ("severity", ErrorLog.severity, _TEXT),
            ("message", ErrorLog.message, _TEXT),
            ("stack", ErrorLog.stack, _TEXT),
            ("device", ErrorLog.device, _TEXT),
            ("user", ErrorLog.user, _TEXT),
        ],
    ),
    InventoryTable(
        "config_changes",
        InventoryChange,
        InventoryChange.at,
        [
            ("id", InventoryChange.id, _INT),
            ("ts", InventoryChange.at, UTC_US),
            ("entity_type", InventoryChange.entity_type, _TEXT),
            ("entity_name", InventoryChange.entity_name, _TEXT),
            ("action", InventoryChange.action, _TEXT),
            ("changes", InventoryChange.changes, _JSON),
            ("actor", InventoryChange.actor, _TEXT),
        ],
    ),
    InventoryTable(
        "request_logs",
        ApiRequestLog,
        ApiRequestLog.at,
        [
            ("id", ApiRequestLog.id, _INT),
            ("ts", ApiRequestLog.at, UTC_US),
            ("method", ApiRequestLog.method, _TEXT),
            ("path", ApiRequestLog.path, _TEXT),
            ("user", ApiRequestLog.user, _TEXT),
            ("client", ApiRequestLog.client, _TEXT),
            ("status", ApiRequestLog.status, _INT),
            ("duration_ms", ApiRequestLog.duration_ms, _FLOAT),
            ("request_bytes", ApiRequestLog.request_bytes, _INT),
            ("response_bytes", ApiRequestLog.response_bytes, _INT),
            ("weight", ApiRequestLog.weight, _INT),
        ],
    ),
    InventoryTable(
        "user_activity",
        UserActivity,
        UserActivity.at,
        [
            ("id", UserActivity.id, _INT),
            ("ts", UserActivity.at, UTC_US),
            ("user", UserActivity.user, _TEXT),
            ("kind", UserActivity.kind, _TEXT),
            ("page", UserActivity.page, _TEXT),
            ("action", UserActivity.action, _TEXT),
            ("details", UserActivity.details, _JSON),
        ],
    ),
    InventoryTable(
        "incidents",
        IncidentRow,
        IncidentRow.started_at,
        [
            ("id", IncidentRow.id, _INT),
            ("fingerprint", IncidentRow.fingerprint, _TEXT),
            ("rule", IncidentRow.rule, _TEXT),
            ("target", IncidentRow.target, _TEXT),
            ("labels", IncidentRow.labels, _JSON),
            ("severity", IncidentRow.severity, _TEXT),
            ("summary", IncidentRow.summary, _TEXT),
            ("state", IncidentRow.state, _TEXT),
            ("started_at", IncidentRow.started_at, UTC_US),
            ("resolved_at", IncidentRow.resolved_at, UTC_US),
            ("acked_by", IncidentRow.acked_by, _TEXT),
            ("acked_at", IncidentRow.acked_at, UTC_US),
        ],
        still_open=IncidentRow.resolved_at.is_(None),
    ),
    InventoryTable(
        "incident_events",
        IncidentEvent,
        IncidentEvent.at,
        [
            ("id", IncidentEvent.id, _INT),
            ("incident_id", IncidentEvent.incident_id, _INT),
            ("ts", IncidentEvent.at, UTC_US),
            ("kind", IncidentEvent.kind, _TEXT),
            ("actor", IncidentEvent.actor, _TEXT),
            ("detail", IncidentEvent.detail, _TEXT),
        ],
    ),
]
JSON_COLUMNS = {("events", "data"), ("config_changes", "changes"), ("user_activity", "details"),
                ("incidents", "labels")}  # fmt: skip


class InventorySource:
    """A lake Source over one inventory table (blocking: the exporter runs in a thread)."""

    def __init__(self, engine: Engine, table: InventoryTable) -> None:
        self.engine, self.table = engine, table
        self.name, self.schema = table.name, table.schema
        self._id = table.model.id

    def _select(self, *columns: Any) -> Any:
        stmt = select(*columns)
        return self.table.join(stmt) if self.table.join else stmt.select_from(self.table.model)

    def plan(self, state: dict[str, Any]) -> Plan:
        """Days of the rows above the watermark or still open at the last export."""
        t = self.table
        high = int(state.get("max_id", 0))
        was_open: list[int] = [int(i) for i in state.get("open_ids", [])]
        with self.engine.connect() as conn:
            newest = conn.execute(select(self._id).order_by(self._id.desc()).limit(1)).scalar()
            changed = self._select(self._id, t.at).where(
                (self._id > high) | self._id.in_(was_open) if was_open else self._id > high
            )
            days = {at.date().isoformat() for _, at in conn.execute(changed) if at is not None}
            still: list[int] = []
            if t.still_open is not None:
                still = sorted(
                    int(i) for i in conn.execute(select(self._id).where(t.still_open)).scalars()
                )
        new_state = {"max_id": max(high, int(newest or 0)), "open_ids": still}
        return Plan(sorted(days), new_state)

    def rows(self, day: str) -> pa.Table:
        """One day's rows, sorted by (time, id)."""
        start, end = day_bounds(day)
        t = self.table
        stmt = (
            self._select(*(column for _, column, _ in t.columns))
            .where(t.at >= start, t.at < end)
            .order_by(t.at, self._id)
        )
        with self.engine.connect() as conn:
            found = conn.execute(stmt).all()
        return pa.Table.from_pydict(
            {
                name: _convert(t.name, name, [row[i] for row in found])
                for i, (name, _, _) in enumerate(t.columns)
            },
            schema=self.schema,
        )


def _convert(table: str, column: str, values: Sequence[Any]) -> list[Any]:
    """JSON columns as canonical text; everything else as the driver returns it."""
    if (table, column) not in JSON_COLUMNS:
        return list(values)
    return [
        None
        if v is None
        else json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        for v in values
    ]


def inventory_sources(engine: Engine) -> list[InventorySource]:
    """Every inventory lake table, as sources over ``engine``."""
    return [InventorySource(engine, table) for table in TABLES]
