"""Silences: label matchers over a time span, in Alertmanager's v2 shape.

A matcher is ``{"name", "value", "isRegex", "isEqual"}``; a regex is matched whole and by
RE2 (linear time: an operator's pattern cannot stall the service). An alert is silenced
while every matcher of an active silence holds for its labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from netgauge.config.base import no_number


class Matcher(BaseModel):
    """One label condition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    value: str = Field(max_length=1024)
    isRegex: bool = False  # noqa: N815 - Alertmanager's field names, kept exactly
    isEqual: bool = True  # noqa: N815

    @model_validator(mode="after")
    def _regex(self) -> Matcher:
        if self.isRegex:
            try:
                re2.compile(self.value)
            except re2.error as exc:
                raise ValueError(f"value: not a regular expression RE2 accepts ({exc})") from None
        return self

    def holds(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` meet this matcher (a missing label is the empty string)."""
        have = labels.get(self.name, "")
        if self.isRegex:
            found = re2.fullmatch(self.value, have) is not None
        else:
            found = have == self.value
        return found == self.isEqual


class SilenceIn(BaseModel):
    """``POST /api/v1/silences``: Alertmanager's postable silence; ``endsAt`` or a
    ``duration`` (``2h``); ``createdBy`` defaults to the caller."""

    model_config = ConfigDict(extra="forbid")

    matchers: list[Matcher] = Field(max_length=32, description="at least one")
    startsAt: datetime | None = None  # noqa: N815
    endsAt: datetime | None = None  # noqa: N815
    duration: str | None = Field(None, description="instead of endsAt: 30m, 2h, 1d")
    createdBy: str | None = Field(None, max_length=128)  # noqa: N815
    comment: str = Field("", max_length=2000)

    _typed = field_validator("startsAt", "endsAt", mode="before")(no_number)

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-12-07T10:00:00Z")
        return value

    @field_validator("matchers")
    @classmethod
    def _some(cls, value: list[Matcher]) -> list[Matcher]:
        if not value:
            raise ValueError("give at least one (a silence without matchers would mute everything)")
        return value

    @model_validator(mode="after")
    def _end(self) -> SilenceIn:
        if (self.endsAt is None) == (self.duration is None):
            raise ValueError("give endsAt or duration (one of them)")
        return self


class Silence(BaseModel):
    """A stored silence."""

    id: str
    matchers: list[Matcher]
    startsAt: datetime  # noqa: N815
    endsAt: datetime  # noqa: N815
    createdBy: str  # noqa: N815
    comment: str
    state: str = "active"  # pending | active | expired, as of when it was read

    def covers(self, labels: Mapping[str, str], at: datetime) -> bool:
        """Whether the silence mutes ``labels`` at ``at``."""
        return self.startsAt <= at < self.endsAt and all(m.holds(labels) for m in self.matchers)

    def with_state(self, at: datetime) -> Silence:
        state = "pending" if at < self.startsAt else "expired" if at >= self.endsAt else "active"
        return self.model_copy(update={"state": state})


def silenced_by(silences: Iterable[Silence], labels: Mapping[str, str], at: datetime) -> list[str]:
    """Ids of the silences that mute ``labels`` at ``at``."""
    return [s.id for s in silences if s.covers(labels, at)]


def matcher_dicts(matchers: Iterable[Matcher]) -> list[dict[str, Any]]:
    return [m.model_dump() for m in matchers]


__all__ = ["Matcher", "Silence", "SilenceIn", "matcher_dicts", "silenced_by"]
