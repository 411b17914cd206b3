"""The best windows as the API and the console show them: the answer's public shape and the
``duration`` parameter's rule (one place for both readers)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from netgauge.analytics.windows import Proposal
from netgauge.analytics.windows_service import Answer
from netgauge.config.base import parse_duration

MIN_DURATION_S = 300.0
MAX_DURATION_S = 7 * 86400.0


class WindowOut(BaseModel):
    """One recommended window, best first."""

    start: datetime = Field(description="UTC")
    end: datetime = Field(description="UTC")
    local_start: datetime = Field(description="in the site's time zone")
    local_end: datetime = Field(description="in the site's time zone")
    cost: float = Field(description="1.0 = an average hour of the week; lower is better")
    score: float = Field(
        description="100: the cheapest allowed window of the 14 days, 0: the dearest"
    )
    confidence: float = Field(description="0-1: how much history supports the window's numbers")
    confidence_label: str = Field(description="high (>= 0.75), medium (>= 0.4) or low")
    load_share: float | None = Field(description="share of the weekly load in the window, 0-1")
    runs: int = Field(description="past runs counted in the window's hours of the week")
    failed: int = Field(description="of which failed (failed or partial)")
    states: list[str] = Field(description="what the site is during the window, in words")
    reason: str


class WindowsOut(BaseModel):
    """The ranked windows and what they were computed from."""

    site: str | None
    schedule: str | None
    timezone: str
    job: str | None
    run_when: str
    duration_s: float
    generated_at: datetime
    history_weeks: int = Field(description="weeks of load and run history read")
    load_source: str | None = Field(description="traffic, CPU, or null: no load history")
    runs_counted: int
    windows: list[WindowOut]


def _window(p: Proposal) -> WindowOut:
    return WindowOut(
        start=p.start, end=p.end, local_start=p.local_start, local_end=p.local_end,
        cost=p.cost, score=p.score, confidence=p.confidence,
        confidence_label=p.confidence_label, load_share=p.load_share, runs=p.runs,
        failed=p.failed, states=list(p.states), reason=p.reason,
    )  # fmt: skip


def answer_out(a: Answer) -> WindowsOut:
    """The service's answer as the API shows it (the console reads the same)."""
    return WindowsOut(
        site=a.site, schedule=a.schedule, timezone=a.timezone, job=a.job,
        run_when=a.run_when, duration_s=a.duration.total_seconds(),
        generated_at=a.generated_at, history_weeks=a.history_weeks,
        load_source=a.load_source, runs_counted=a.runs_counted,
        windows=[_window(p) for p in a.windows],
    )  # fmt: skip


def duration_of(text: str | None) -> timedelta | None:
    """``duration`` as given (2h, 90m, seconds), checked (ValueError naming the field)."""
    if text is None or not text.strip():
        return None
    try:
        seconds = parse_duration(text.strip())
    except ValueError as exc:
        raise ValueError(f"duration: {exc}") from None
    if not MIN_DURATION_S <= seconds <= MAX_DURATION_S:
        raise ValueError("duration: must be between 5m and 7d")
    return timedelta(seconds=seconds)
