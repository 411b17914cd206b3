"""The typer applications; each command lives in its own module of this package."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="netgauge",
    help="netgauge: network and device monitoring (probes, embedded time series, REST API).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
probe_app = typer.Typer(
    help="One-shot probes of targets, printed to the terminal (nothing is stored).",
    no_args_is_help=True,
)
app.add_typer(probe_app, name="probe")
