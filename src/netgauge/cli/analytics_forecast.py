"""``netgauge analytics forecast``: when a ``timestamp,value`` file reaches a limit.

The same computation as ``/api/v1/analytics/forecasts`` (``netgauge.analytics.forecast``),
so a forecast can be backtested on any exported series. numpy (and the computation) is
imported inside the command, so the other commands do not pay for it at start.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netgauge.analytics.filetime import iso, read_series
from netgauge.cli.app import OneLineUsageErrors, analytics_app, fail
from netgauge.errors import AnalyticsInputError

if TYPE_CHECKING:
    from netgauge.analytics.forecast import Forecast

COMMAND = "netgauge analytics forecast"


@analytics_app.command("forecast", cls=OneLineUsageErrors)
def forecast_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE.csv", help="CSV with a header line timestamp,value.")
    ],
    limit: Annotated[float, typer.Option("--limit", metavar="L", help="The limit, e.g. 95.")],
    falling: Annotated[
        bool,
        typer.Option("--falling", help="The limit is reached from above (free space to 5 GB)."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"reaches_at", "low", "high"} (ISO or null).')
    ] = False,
) -> None:
    """When FILE's series reaches the limit L, with an 80 % interval (low, high).

    null when it never does (no trend beyond its noise, or moving away from L). A series
    already at or past L gives when its trend crossed L (in the past); without a trend,
    since when it has been at this level; with too few samples for a trend, its first
    sample of the run at or past L that it ends in."""
    if not math.isfinite(limit):
        fail(COMMAND, f"--limit {limit} is not a finite number")
    try:
        points = read_series(file)
    except AnalyticsInputError as exc:
        fail(COMMAND, str(exc))
    if not points:
        fail(COMMAND, f"{file}: no samples after the header line")
    from netgauge.analytics.forecast import forecast

    result = forecast([p.at for p in points], [p.value for p in points], limit, rising=not falling)
    if as_json:
        typer.echo(json.dumps(as_dict(result)))
    else:
        typer.echo(sentence(result, limit, falling))


def _iso(at: datetime | None) -> str | None:
    return None if at is None else iso(at)


def as_dict(result: Forecast) -> dict[str, str | None]:
    """The contract's object: ``reaches_at``, ``low``, ``high`` as ISO UTC or null."""
    return {
        "reaches_at": _iso(result.reaches_at),
        "low": _iso(result.low),
        "high": _iso(result.high),
    }


def sentence(result: Forecast, limit: float, falling: bool = False) -> str:
    """The forecast in words."""
    verb = "falls to" if falling else "reaches"
    if result.reached:
        past = "at or below" if falling else "at or above"
        return f"{past} {limit:g} since {_iso(result.reaches_at)}"
    if result.reaches_at is None:
        return f"never {verb} {limit:g}: {result.reason}"
    rate = f", moving {result.slope_per_day:+.3g} per day" if result.slope_per_day else ""
    since = f" since {_iso(result.since)}" if result.since is not None else ""
    return (
        f"{verb} {limit:g} at {_iso(result.reaches_at)} (80 % interval {_iso(result.low)} to "
        f"{_iso(result.high)}){rate}{since}"
    )
