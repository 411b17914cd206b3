"""What the API and the console both show of a stored job: one shape, one conversion (the
console's pages and the API's routes call it; neither imports the other)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from netgauge.config.base import NAME_PATTERN
from netgauge.inventory.repository import job_fields
from netgauge.inventory.tables import JobRow


class JobPublic(BaseModel):
    """A job as the API returns it."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: str
    params: dict[str, Any]
    targets: list[str]
    selector: dict[str, Any] | None
    interval: float
    timeout: float | None
    concurrency: int
    window: dict[str, Any] | None
    enabled: bool
    run_when: str = Field("always", description="always, open, closed, peak or off_peak")
    maintenance: str = Field("mute", description="mute or pause")
    vantage: list[str] | None = Field(None, description="sites that each run it (multi-vantage)")
    quorum: int | None = Field(None, description="vantage points that must see a target down")
    source: str
    next_run: datetime | None = None
    created_at: datetime
    updated_at: datetime


def job_public(row: JobRow, next_runs: dict[str, datetime | None]) -> JobPublic:
    """Row → the shown job, with its next scheduled run (``next_runs``: the scheduler's
    map, asked once by callers that convert many rows)."""
    return JobPublic(
        name=row.name,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_run=next_runs.get(row.name),
        **job_fields(row),
    )


__all__ = ["JobPublic", "job_public"]
