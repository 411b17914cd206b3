"""``netgauge analytics risk DIR``: each device's probability of going offline within the
horizon after the newest time in the files, with its reasons (see analytics/risk)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from netgauge.cli.app import OneLineUsageErrors, analytics_app, fail

COMMAND = "netgauge analytics risk"


@analytics_app.command("risk", cls=OneLineUsageErrors)
def risk(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Holds metrics.csv (device,metric,timestamp,value), states.csv "
            "(device,timestamp,state) and optionally changes.csv (device,timestamp)."
        ),
    ],
    horizon: Annotated[str, typer.Option(help="How far ahead: 24h, 6h, 2d, or seconds.")] = "24h",
    as_json: Annotated[
        bool, typer.Option("--json", help='One {"device", "probability", "reasons"} per line.')
    ] = False,
) -> None:
    """Failure risk per device, trained on the files' own history (a documented rule-based
    score while it holds fewer than 10 outages); which one answered goes to stderr."""
    from datetime import UTC, datetime

    from netgauge.analytics.filetime import iso
    from netgauge.analytics.risk.files import read_fleet
    from netgauge.analytics.risk.model import train_and_assess
    from netgauge.config.base import parse_duration
    from netgauge.errors import AnalyticsInputError

    try:
        horizon_s = parse_duration(horizon)
    except ValueError as exc:
        fail(COMMAND, f"--horizon: {exc}")
    if not 0 < horizon_s <= 90 * 86400:
        fail(COMMAND, "--horizon: must be more than 0 and at most 90 days")
    try:
        fleet = read_fleet(directory)
    except AnalyticsInputError as exc:
        fail(COMMAND, str(exc))
    ends = [t for h in fleet.values() if (t := h.last_time()) is not None]
    if not ends:
        fail(COMMAND, f"{directory}: the files hold no rows")
    predictor, risks = train_and_assess(fleet, max(ends), horizon_s)
    info = predictor.info
    typer.echo(
        f"{COMMAND}: {info.kind} at {iso(datetime.fromtimestamp(max(ends), UTC))}: {info.why}",
        err=True,
    )
    for r in risks:
        reasons = [
            {"feature": x.feature, "value": x.value, "contribution": x.contribution}
            for x in r.reasons
        ]
        if as_json:
            typer.echo(
                json.dumps({"device": r.device, "probability": r.probability, "reasons": reasons})
            )
        else:
            said = ", ".join(f"{x['feature']}={x['value']} (+{x['contribution']})" for x in reasons)
            typer.echo(f"{r.device}  {r.probability:.3f}  {said}")
