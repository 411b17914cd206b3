"""``netgauge import metrics FILE``: samples from another tool into netgauge's stores.

Reads CSV, Parquet or InfluxDB line protocol (``storage.importing``) and writes to the
stores of the settings (the data directory's embedded store, and every configured one),
in batches. Every line is accounted for: written, or refused with its reason (the first
refusals with their line numbers). Exit 0 when everything was written, 1 when some lines
were refused, 2 on bad usage.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netgauge.cli.app import import_app

if TYPE_CHECKING:
    from netgauge.config.settings import Settings
    from netgauge.storage.importing import ImportResult, Item

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".lp": "lp", ".txt": "lp"}


@import_app.command("metrics")
def import_metrics(
    file: Annotated[Path, typer.Argument(help="The file: .csv, .parquet or line protocol.")],
    fmt: Annotated[
        str, typer.Option("--format", help="csv, parquet or lp \\[default: by the file's ending].")
    ] = "auto",
    target: Annotated[
        str | None, typer.Option(help="The target of samples that name none.")
    ] = None,
    precision: Annotated[
        str, typer.Option(help="Line protocol timestamps: ns, us, ms or s.")
    ] = "ns",
    target_tag: Annotated[
        str, typer.Option(help="Line protocol: the tag that names the target.")
    ] = "host",
    escapes: Annotated[
        int,
        typer.Option(
            help="Line protocol: 2 reads a doubled backslash in a tag as one (InfluxDB 2, "
            "VictoriaMetrics, Telegraf); 1 as written (InfluxDB 1.x)."
        ),
    ] = 2,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The YAML file serve uses (its stores).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="The data directory serve uses \\[default: ./netgauge-data]."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and check only.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as JSON.")] = False,
) -> None:
    """Import samples (history from another tool) into netgauge's stores."""
    from netgauge.config import load_settings
    from netgauge.config.loader import load_config
    from netgauge.errors import ConfigError
    from netgauge.storage import importing

    kind = FORMATS.get(file.suffix.lower()) if fmt == "auto" else fmt
    if kind not in ("csv", "parquet", "lp"):
        typer.echo(f"--format: say csv, parquet or lp ({file.name} does not tell)", err=True)
        raise typer.Exit(2)
    if escapes not in (1, 2):
        typer.echo("--escapes: 1 (InfluxDB 1.x) or 2", err=True)
        raise typer.Exit(2)
    if precision not in importing.PRECISION_NS:
        typer.echo("--precision: ns, us, ms or s", err=True)
        raise typer.Exit(2)
    if not file.is_file():
        typer.echo(f"{file}: no such file", err=True)
        raise typer.Exit(2)
    try:
        values = load_config(config, data_dir=data_dir).config.settings if config else {}
        settings = load_settings(values, {"data_dir": data_dir})
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    if kind == "csv":
        items = importing.read_csv(file, target)
    elif kind == "parquet":
        items = importing.read_parquet(file, target)
    else:
        items = importing.read_line_protocol(file, target, precision, target_tag, escapes)
    try:
        result = asyncio.run(_run(settings, items, dry_run))
    except ValueError as exc:  # the file's header or a missing reader
        typer.echo(f"netgauge: {exc}", err=True)
        raise typer.Exit(2) from None
    _report(result, as_json, dry_run)
    raise typer.Exit(1 if result.refused else 0)


async def _run(settings: Settings, items: Iterable[Item], dry_run: bool) -> ImportResult:
    from netgauge.datadir import private_dir
    from netgauge.storage.factory import build_stores
    from netgauge.storage.importing import import_samples

    private_dir(settings.data_dir)
    stores = [] if dry_run else build_stores(settings, settings.metrics_path())
    try:
        return await import_samples(stores, items, dry_run=dry_run)
    finally:
        for store in stores:
            await store.close()


def _report(result: ImportResult, as_json: bool, dry_run: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.as_json() | {"dry_run": dry_run}))
        return
    summary = result.as_json()
    verb = "would write" if dry_run else "wrote"
    typer.echo(
        f"read {summary['read']} samples, {verb} {summary['written']} for "
        f"{len(summary['targets'])} target(s) from {summary['from']} to {summary['to']}; "
        f"refused {summary['refused']}"
    )
    for reason, count in summary["refused_by_reason"].items():
        typer.echo(f"  {count} refused: {reason}")
    for example in summary["first_refusals"]:
        typer.echo(f"  line {example['line']}: {example['reason']}", err=True)
