"""``netgauge probe icmp`` on the typer app: a pass-through to ``cli/probe_icmp.py``.

``netgauge probe icmp ...`` itself never reaches this (``netgauge.cli.main`` runs the
command directly, to keep typer off its start-up); this entry makes ``netgauge probe
--help`` list it, and serves callers that drive the typer app (tests with CliRunner).
"""

from __future__ import annotations

import typer

from netgauge.cli import probe_icmp
from netgauge.cli.app import probe_app


@probe_app.command(
    "icmp",
    help=probe_icmp.SUMMARY,
    add_help_option=False,  # --help goes through to the command's own parser
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def icmp_command(ctx: typer.Context) -> None:
    raise typer.Exit(probe_icmp.main(ctx.args))
