"""/api/v1/analytics/patterns: netgauge's own error texts clustered into templates (Drain,
variables masked) with counts, first/last seen, trend and the targets hit, and the new
patterns of the window — computed on request by ``netgauge.analytics.pattern_report``, the
code behind ``netgauge analytics patterns FILE``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from netgauge.analytics.filetime import parse_timestamp
from netgauge.analytics.patterns_service import MAX_ROWS, ErrorPatterns, error_patterns
from netgauge.api.deps import ServiceDep
from netgauge.api.security import AuthDep, is_admin

router = APIRouter(prefix="/patterns")


class TargetCount(BaseModel):
    """A target a template hit in the window, and how often."""

    target: str
    count: int


class PatternOut(BaseModel):
    """One template over the window, beside the window before."""

    id: str = Field(description="12 hex digits of BLAKE2b of the template text: stable")
    template: str = Field(description="the messages with variables masked (<IP>, <NUM>, <*>..)")
    count: int = Field(description="messages in the window")
    previous: int = Field(description="messages in the window before it (same length)")
    trend: str = Field(description="new, gone, rising, falling or steady")
    first_seen: datetime | None = Field(description="first message in the history read")
    last_seen: datetime | None
    targets: list[TargetCount] = Field(description="the targets hit in the window, top 10")
    targets_total: int = Field(description="how many targets it hit in the window")
    sources: dict[str, int] = Field(description="messages in the window by source")
    example: str = Field(description="the newest message of the window")
    buckets: list[int] = Field(description="the window's messages in 24 equal slices")


class NewPatternOut(BaseModel):
    """A template first seen inside the window (nothing of it earlier in the history read)."""

    id: str
    template: str
    at: datetime
    source: str
    target: str | None
    text: str = Field(description="its first message")


class PatternsOut(BaseModel):
    """The error patterns of a window."""

    since: datetime
    until: datetime
    previous_since: datetime = Field(description="start of the window compared with")
    history_since: datetime = Field(description="start of the history read (first seen)")
    sources: list[str] = Field(
        description="what was read: target (probe/poll failures of job runs), job (runs "
        "that failed with no target outcome), log (the error log: admins only)"
    )
    messages: int = Field(description="messages read over the whole history")
    in_window: int
    truncated: bool = Field(description=f"a source had more than {MAX_ROWS} messages: the "
                            "newest were read")  # fmt: skip
    patterns: list[PatternOut]
    new_patterns: list[NewPatternOut] = Field(description="the first `limit`, oldest first")
    new_total: int = Field(description="templates first seen in the window, all of them")


@router.get("")
async def list_error_patterns(
    service: ServiceDep,
    who: AuthDep,
    hours: Annotated[
        float, Query(gt=0, le=720, description="the window's length in hours (default 24)")
    ] = 24.0,
    history_days: Annotated[
        float,
        Query(
            gt=0,
            le=90,
            description="days read before `until` to tell a new template from an old one "
            "(at least two windows are always read)",
        ),
    ] = 7.0,
    until: Annotated[
        str | None,
        Query(
            max_length=64,
            description="the window's end: ISO 8601 (UTC when no zone is given) or epoch "
            "seconds; default now",
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=500, description="templates returned, and new patterns")
    ] = 100,
) -> PatternsOut:
    """Error patterns: the stored error texts clustered into templates, busiest first."""
    end = _until(until) if until is not None else service.clock.now()
    # the error log is admin's to read (/api/v1/logs)
    found = await error_patterns(service.inventory, end, hours, history_days, is_admin(who))
    return _answer(found, limit)


def _until(text: str) -> datetime:
    """``until`` as the file commands read times; a 422 naming it, in words, otherwise."""
    try:
        at = parse_timestamp(text)
    except ValueError as exc:
        _refuse_until(text, str(exc))
    except (OverflowError, OSError):  # epoch seconds past what the platform's time_t holds
        _refuse_until(text, f"{text!r} is out of range")
    if not 1900 <= at.year <= 9000:  # the window and its history are taken off it
        _refuse_until(text, f"{text!r}: the year must be between 1900 and 9000")
    return at


def _refuse_until(text: str, words: str) -> NoReturn:
    error = {"type": "value_error", "loc": ("query", "until"), "msg": words, "input": text}
    raise RequestValidationError([error])


def _answer(found: ErrorPatterns, limit: int) -> PatternsOut:
    done = found.report
    patterns = [
        PatternOut(
            id=s.id,
            template=s.template,
            count=s.count,
            previous=s.previous,
            trend=s.trend,
            first_seen=s.first_seen,
            last_seen=s.last_seen,
            targets=[TargetCount(target=t, count=n) for t, n in s.targets],
            targets_total=s.targets_total,
            sources=s.sources,
            example=s.example,
            buckets=s.buckets,
        )
        for s in done.patterns[:limit]
    ]
    new = [
        NewPatternOut(
            id=n.id, template=n.template, at=n.at, source=n.source, target=n.target, text=n.text
        )
        for n in done.new[:limit]
    ]
    return PatternsOut(
        since=done.since,
        until=done.until,
        previous_since=done.previous_since,
        history_since=found.history_since,
        sources=found.sources,
        messages=done.messages,
        in_window=done.in_window,
        truncated=found.truncated,
        patterns=patterns,
        new_patterns=new,
        new_total=len(done.new),
    )
