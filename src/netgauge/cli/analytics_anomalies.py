"""``netgauge analytics anomalies FILE.csv``: score every sample of a ``timestamp,value``
file as the service would have when it arrived (``netgauge.analytics.anomalies``).

numpy (and the analytics module that uses it) is imported inside the command, so the other
commands do not pay for it at start.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netgauge.analytics.filetime import Point, read_series
from netgauge.cli.app import OneLineUsageErrors, analytics_app, fail
from netgauge.errors import AnalyticsInputError

if TYPE_CHECKING:
    from netgauge.analytics.anomalies import Scores

COMMAND = "netgauge analytics anomalies"


@analytics_app.command("anomalies", cls=OneLineUsageErrors)
def anomalies_command(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.csv",
            help="CSV with a header line timestamp,value (ISO 8601 or epoch seconds; UTC "
            "when no zone is given); any order, any spacing.",
        ),
    ],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='One {"timestamp", "value", "score", "anomaly"} object per input row, '
            "in input order.",
        ),
    ] = False,
) -> None:
    """Score each sample in [0, 1] against robust daily/weekly baselines built only from
    the samples before it; anomalous at score >= 0.5."""
    try:
        points = read_series(file)
    except AnalyticsInputError as exc:
        fail(COMMAND, str(exc))
    from netgauge.analytics.anomalies import score_series

    scores = score_series([p.at.timestamp() for p in points], [p.value for p in points])
    write = _json_lines if as_json else _table
    write(points, scores)


def _json_lines(points: list[Point], scores: Scores) -> None:
    """One JSON object per row; written in one piece (20,000 rows in a few ms)."""
    rows = zip(points, scores.score.tolist(), scores.anomaly.tolist(), strict=True)
    lines = [
        json.dumps({"timestamp": p.text, "value": p.value, "score": s, "anomaly": a})
        for p, s, a in rows
    ]
    sys.stdout.write("".join(f"{line}\n" for line in lines))


def _table(points: list[Point], scores: Scores) -> None:
    """A readable table: the anomalous rows marked, a summary line at the end."""
    width = max([len("timestamp"), *(len(p.text) for p in points)])
    out = [f"{'timestamp':<{width}}  {'value':>14}  {'score':>6}  anomaly"]
    rows = zip(points, scores.score.tolist(), scores.anomaly.tolist(), strict=True)
    for p, s, a in rows:
        out.append(f"{p.text:<{width}}  {p.value:>14.6g}  {s:>6.3f}  {'yes' if a else ''}")
    flagged = int(scores.anomaly.sum())
    out.append(f"{flagged} of {len(points)} samples anomalous (score >= 0.5)")
    sys.stdout.write("".join(f"{line}\n" for line in out))
