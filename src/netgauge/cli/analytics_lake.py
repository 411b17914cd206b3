"""``netgauge analytics export-lake --out DIR``: every table as Parquet, by day.

Reads the stores serve uses (the same ``--config`` and ``--data-dir``), read-only, so it
may run while serve does; writes only under ``--out`` (see docs/analytics/lake.md). Exit
0 when every table was exported, 1 when one failed (a full disk: its error is in the
summary, nothing half-written), 2 on bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netgauge.cli.app import analytics_app, fail

if TYPE_CHECKING:
    from netgauge.analytics.lake import LakeReport

COMMAND = "netgauge analytics export-lake"


@analytics_app.command("export-lake")
def export_lake(
    out: Annotated[Path, typer.Option("--out", help="The lake's directory (made if missing).")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The YAML file serve uses.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="The data directory serve uses \\[default: ./netgauge-data]."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="The lake's first day, YYYY-MM-DD (first export only; kept)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as JSON.")] = False,
) -> None:
    """Export metrics, runs, states, logs, changes and alerts to a Parquet data lake."""
    from netgauge.analytics.lake import LakeBusy
    from netgauge.analytics.lake_service import run_export
    from netgauge.config import load_settings
    from netgauge.config.loader import load_config
    from netgauge.errors import AnalyticsInputError, ConfigError

    try:
        values = load_config(config, data_dir=data_dir).config.settings if config else {}
        settings = load_settings(values, {"data_dir": data_dir})
    except ConfigError as exc:
        fail(COMMAND, "; ".join(str(p) for p in exc.problems))
    if out.exists() and not out.is_dir():
        fail(COMMAND, f"--out: {out} is not a directory")
    try:
        report = run_export(settings, out, since)
    except LakeBusy as exc:
        typer.echo(f"{COMMAND}: error: {exc}", err=True)
        raise typer.Exit(1) from None
    except AnalyticsInputError as exc:
        fail(COMMAND, str(exc))
    except OSError as exc:  # the directory cannot be made or locked
        typer.echo(f"{COMMAND}: error: {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    _print(report, as_json)
    raise typer.Exit(1 if report.error else 0)


def _print(report: LakeReport, as_json: bool) -> None:
    summary = report.as_json()
    if as_json:
        typer.echo(json.dumps(summary))
        return
    for t in summary["tables"]:
        line = (
            f"{t['table']:<16} {t['files_written']:>5} written {t['files_unchanged']:>5} "
            f"unchanged {t['rows_written']:>10} rows written {t['rows_total']:>10} rows in "
            f"{t['files_total']} files"
        )
        typer.echo(line + (f"  ERROR {t['error']}" if t["error"] else ""))
    typer.echo(
        f"{summary['files_written']} files written, {summary['files_unchanged']} unchanged, "
        f"{summary['rows_written']} rows written to {summary['out']}"
    )
