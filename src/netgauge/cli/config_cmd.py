"""``netgauge check-config FILE``: validate and report every problem with its path and line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netgauge.cli.app import app


@app.command("check-config")
def check_config(
    file: Annotated[Path, typer.Argument(help="The YAML configuration file.")],
) -> None:
    """Validate a configuration file; exit 2 listing each problem as FILE:LINE: PATH: message."""
    # imported here: `netgauge probe ...` should not pay for the config stack at start-up
    from netgauge.config import load_config
    from netgauge.errors import ConfigError

    try:
        loaded = load_config(file)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{len(exc.problems)} problem(s) found", err=True)
        raise typer.Exit(2) from None
    cfg = loaded.config
    typer.echo(
        f"{file}: OK ({len(cfg.sites)} sites, {len(cfg.targets)} targets, "
        f"{len(cfg.credentials)} credentials, {len(cfg.jobs)} jobs, "
        f"{len(cfg.schedules)} schedules, {len(cfg.notifiers)} notifiers, {len(cfg.alerts)} alerts)"
    )
