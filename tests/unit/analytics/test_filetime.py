"""The file commands' timestamps against GNU date (the truth), and errors naming the line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from netgauge.analytics.filetime import read_series
from netgauge.errors import AnalyticsInputError

FORMS = [
    "2013-12-02 21:15:00",
    "2013-12-02T21:15:00",
    "2013-12-02T21:15:00Z",
    "2013-12-02T23:15:00+02:00",
    "2026-03-29 01:30:00.250",
]


def gnu_epoch(text: str) -> float:
    """Seconds since the epoch by GNU date, naive times read as UTC."""
    out = subprocess.run(
        ["date", "-u", "-d", text, "+%s.%N"], check=True, capture_output=True, text=True
    )
    return float(out.stdout)


@pytest.mark.skipif(shutil.which("date") is None, reason="GNU date is missing")
def test_timestamps_agree_with_gnu_date(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("timestamp,value\n" + "".join(f"{t},{i}\n" for i, t in enumerate(FORMS)))
    f.write_text(f.read_text() + "1386018900.5,7\n")
    points = read_series(f)
    assert [p.text for p in points] == [*FORMS, "1386018900.5"]
    for point, text in zip(points, FORMS, strict=False):
        assert point.at.timestamp() == pytest.approx(gnu_epoch(text), abs=1e-6)
    assert points[-1].at.timestamp() == 1386018900.5 and points[-1].value == 7.0


@pytest.mark.parametrize(
    "body, where",
    [
        ("time,value\n1,2\n", ":1: the header line must name timestamp, value"),
        ("timestamp,value\n2013-12-02,1\nyesterday,2\n", ":3: 'yesterday' is not a time"),
        ("timestamp,value\n2013-12-02,abc\n", ":2: 'abc' is not a number"),
        ("timestamp,value\n2013-12-02,nan\n", ":2: 'nan' is not a finite number"),
        ("timestamp,value\n2013-12-02\n", ":2: 1 field(s), the header names 2"),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, body: str, where: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(body)
    with pytest.raises(AnalyticsInputError) as caught:
        read_series(f)
    assert str(caught.value).startswith(str(f)) and where in str(caught.value)
