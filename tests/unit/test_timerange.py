"""The one rule of a time range asked for (metrics API, exports, console pages)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netgauge.errors import InventoryError
from netgauge.timerange import dt_to_ns, parse_when, time_span

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)


def gnu_date_ns(text: str) -> int:
    """GNU date's reading of ISO 8601 text, in UTC nanoseconds (the standard tool)."""
    out = subprocess.run(
        ["date", "-u", "-d", text, "+%s%N"],
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout)


@settings(max_examples=60, deadline=None)
@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(-14 * 60, 14 * 60).map(lambda m: m // 15 * 15),
)
def test_iso_text_is_read_as_gnu_date_reads_it(wall: datetime, offset_min: int) -> None:
    sign = "+" if offset_min >= 0 else "-"
    text = (
        wall.replace(microsecond=0).isoformat()
        + f"{sign}{abs(offset_min) // 60:02}:{abs(offset_min) % 60:02}"
    )
    assert dt_to_ns(parse_when(text, "from"), "from") == gnu_date_ns(text)


def test_a_time_without_offset_is_utc() -> None:
    assert dt_to_ns(parse_when("2026-03-29T02:30:00", "from"), "from") == gnu_date_ns(
        "2026-03-29T02:30:00Z"
    )


def test_defaults_and_errors_name_the_field() -> None:
    span = time_span(None, None, default_s=3600, now=NOW)
    assert (span.start, span.end) == (NOW - timedelta(hours=1), NOW)
    with pytest.raises(InventoryError, match="^from: required"):
        time_span(None, NOW)
    with pytest.raises(InventoryError, match="^from: must be before"):
        time_span(NOW, NOW)
    with pytest.raises(InventoryError, match="^from: the range is longer than 400 days"):
        time_span(NOW - timedelta(days=401), NOW, max_s=400 * 86_400)
    with pytest.raises(InventoryError, match="^to: must lie between"):
        time_span(None, datetime(2300, 1, 1, tzinfo=UTC), default_s=60)
    with pytest.raises(InventoryError, match="^from: not a date and time"):
        parse_when("yesterday", "from")


def test_the_api_and_the_console_agree_on_a_range() -> None:
    """The console's custom range and the API's read the same text to the same instants."""
    from netgauge.web.pages.detail import pick_range

    text_from, text_to = "2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"
    page = pick_range(None, text_from, text_to, now=NOW)
    api = time_span(parse_when(text_from, "from"), parse_when(text_to, "to"))
    assert page.key == "custom" and (page.start, page.end) == (api.start, api.end)
    assert dt_to_ns(page.start, "from") == gnu_date_ns(text_from)
    assert (page.end - page.start) == timedelta(hours=1)  # across the spring-forward hour
    bad = pick_range(None, text_to, text_from, now=NOW)
    assert bad.key != "custom" and bad.error == "custom range: from: must be before “to”"
