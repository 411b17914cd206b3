"""The file commands' input: CSV with a header line, timestamps in the forms users have.

A timestamp is ISO 8601 with ``T`` or a space between date and time (``2013-12-02
21:15:00``), UTC when it names no zone, or epoch seconds (``1386018900``, ``1386018900.5``).
Every error names the file's line and the fix, and nothing is skipped silently: a line that
cannot be read stops the command (exit 2), because a backtest on silently thinned data
would report numbers for data the user did not give.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from netgauge.errors import AnalyticsInputError


def parse_timestamp(text: str) -> datetime:
    """One timestamp → aware UTC datetime; ``ValueError`` in words."""
    raw = text.strip()
    if not raw:
        raise ValueError("the timestamp is empty")
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"{raw!r} is not a time")
        return datetime.fromtimestamp(seconds, UTC)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"{raw!r} is not a time: write ISO 8601 (2013-12-02 21:15:00, "
            "2013-12-02T21:15:00Z) or epoch seconds"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_value(text: str) -> float:
    """One sample value → float (finite); ``ValueError`` in words."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text.strip()!r} is not a finite number")
    return value


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV line by its header's names, with the line number for errors."""

    line: int
    fields: dict[str, str]


def read_rows(path: Path, columns: Sequence[str]) -> Iterator[Row]:
    """The rows of a CSV file whose header holds at least ``columns`` (other columns are
    kept); an ``AnalyticsInputError`` naming the path and line otherwise."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise AnalyticsInputError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise AnalyticsInputError(
                f"{path}:1: the header line must name {', '.join(columns)} "
                f"(missing: {', '.join(missing)}; found: {', '.join(header) or 'nothing'})"
            )
        for number, cells in enumerate(reader, start=2):
            if not cells or all(not c.strip() for c in cells):
                continue  # a blank line (a trailing newline) holds no sample
            if len(cells) < len(header):
                raise AnalyticsInputError(
                    f"{path}:{number}: {len(cells)} field(s), the header names {len(header)}"
                )
            yield Row(number, dict(zip(header, cells, strict=False)))


@dataclass(frozen=True, slots=True)
class Point:
    """One sample of a ``timestamp,value`` file, as it was written and as read."""

    text: str  # the timestamp as written (echoed back by the commands)
    at: datetime
    value: float


def read_series(path: Path) -> list[Point]:
    """A ``timestamp,value`` file in input order; errors name the line."""
    points = []
    for row in read_rows(path, ("timestamp", "value")):
        try:
            points.append(
                Point(
                    row.fields["timestamp"].strip(),
                    parse_timestamp(row.fields["timestamp"]),
                    parse_value(row.fields["value"]),
                )
            )
        except ValueError as exc:
            raise AnalyticsInputError(f"{path}:{row.line}: {exc}") from None
    return points


def iso(at: datetime) -> str:
    """A time as the commands print it: ISO 8601 UTC with ``Z``."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
