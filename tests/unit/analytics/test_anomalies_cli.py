"""``netgauge analytics anomalies FILE.csv [--json]`` run as users run it (a subprocess):
the contract's JSON lines in input order with the timestamps as written, the injected
spikes (the generator's labels) flagged, shuffled input scored in time order, a readable
table, and bad input refused with one line naming the file's line (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

STEP = 300
DAY = 86_400
T0 = 1_386_028_800  # 2013-12-03 00:00 UTC
DAYS = 14
SPIKES = [5 * 288 + 40, 8 * 288 + 100, 11 * 288 + 250, 13 * 288 + 7]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netgauge", "analytics", "anomalies", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def labelled_rows() -> list[tuple[int, float, bool]]:
    """(epoch seconds, value, injected?) of a daily wave with four spikes."""
    rng = np.random.default_rng(42)
    n = DAYS * DAY // STEP
    t = T0 + np.arange(n) * STEP
    v = 20 + 8 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 0.5, n)
    v[SPIKES] += 8.0
    return [
        (int(a), round(float(b), 4), i in SPIKES) for i, (a, b) in enumerate(zip(t, v, strict=True))
    ]


def write(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("timestamp,value\n" + "".join(f"{a},{b}\n" for a, b in rows))
    return path


def iso_space(epoch: int) -> str:
    """The file's own form: ``2013-12-02 21:15:00`` (UTC without a zone)."""
    return np.datetime_as_string(np.datetime64(epoch, "s")).replace("T", " ")


def parse(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_json_lines_in_input_order_flag_the_injected_spikes(tmp_path: Path) -> None:
    rows = labelled_rows()
    order = np.random.default_rng(1).permutation(len(rows))  # unsorted file
    written = [(iso_space(rows[i][0]), str(rows[i][1])) for i in order]
    done = run(str(write(tmp_path / "s.csv", written)), "--json")
    assert done.returncode == 0, done.stderr
    out = parse(done.stdout)
    assert [o["timestamp"] for o in out] == [w[0] for w in written]  # echoed as written
    assert [o["value"] for o in out] == [float(w[1]) for w in written]
    assert all(set(o) == {"timestamp", "value", "score", "anomaly"} for o in out)
    assert all(0.0 <= o["score"] <= 1.0 and isinstance(o["anomaly"], bool) for o in out)
    flagged = {int(order[k]) for k, o in enumerate(out) if o["anomaly"]}
    assert set(SPIKES) <= flagged
    assert len(flagged - set(SPIKES)) <= 3  # among 4,000 samples of an ordinary wave


def test_epoch_seconds_and_iso_give_the_same_scores(tmp_path: Path) -> None:
    rows = labelled_rows()[: 4 * 288]
    epoch = parse(
        run(str(write(tmp_path / "e.csv", [(str(a), str(b)) for a, b, _ in rows])), "--json").stdout
    )
    iso = [(np.datetime_as_string(np.datetime64(a, "s")) + "Z", str(b)) for a, b, _ in rows]
    as_iso = parse(run(str(write(tmp_path / "i.csv", iso)), "--json").stdout)
    assert [o["score"] for o in epoch] == [o["score"] for o in as_iso]


def test_table_marks_the_anomalous_rows(tmp_path: Path) -> None:
    rows = labelled_rows()
    done = run(str(write(tmp_path / "s.csv", [(str(a), str(b)) for a, b, _ in rows])))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["timestamp", "value", "score", "anomaly"]
    assert len(lines) == len(rows) + 2
    for i in SPIKES:
        assert lines[1 + i].startswith(str(rows[i][0])) and lines[1 + i].endswith("yes")
    assert lines[-1].endswith(f"of {len(rows)} samples anomalous (score >= 0.5)")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("timestamp,value\n2013-12-02 21:15:00,1\n2013-12-02 21:20,x\n", ":3: 'x' is not a number"),
        ("time,value\n1,2\n", ":1: the header line must name timestamp, value"),
        ("timestamp,value\n1,2\n3\n", ":3: 1 field(s), the header names 2"),
        ("timestamp,value\nlater,2\n", ":2: 'later' is not a time"),
    ],
)
def test_bad_input_is_one_line_naming_the_line(tmp_path: Path, body: str, where: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(body)
    done = run(str(f), "--json")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"netgauge analytics anomalies: error: {f}{where}")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nope.csv"))
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"netgauge analytics anomalies: error: {tmp_path / 'nope.csv'}: cannot read it"
    )


def test_a_file_with_only_its_header_prints_nothing(tmp_path: Path) -> None:
    done = run(str(write(tmp_path / "empty.csv", [])), "--json")
    assert (done.returncode, done.stdout) == (0, "")
