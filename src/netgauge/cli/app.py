"""The typer applications; each command lives in its own module of this package."""

from __future__ import annotations

from typing import Any, NoReturn, Protocol, cast

import typer
from typer.core import TyperCommand

EXIT_BAD_INPUT = 2  # every command: bad input or a usage error


class _Formattable(Protocol):
    """What a usage error offers: click's one-line message."""

    def format_message(self) -> str: ...


# click's UsageError (missing argument, unknown option, ...). typer >= 0.2x ships its own
# copy of click, so the class is taken from typer's public BadParameter, which derives from it.
_USAGE_ERROR: type[Exception] = next(
    base for base in typer.BadParameter.__mro__ if base.__name__ == "UsageError"
)


def fail(command: str, message: str) -> NoReturn:
    """Bad input: one line ``<command>: error: <message>`` on stderr, exit 2."""
    typer.echo(f"{command}: error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


class OneLineUsageErrors(TyperCommand):
    """Usage errors (missing argument, unknown option...) as one line on stderr, exit 2.

    click raises them while parsing the arguments; left alone they reach the top-level app,
    which prints a multi-line usage box. ``--help`` is not an error (click prints the help
    and exits 0 from the same place), so it is untouched. The line names the command that
    failed (``netgauge probe dns``), whatever the program was started as.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _USAGE_ERROR as exc:
            fail(_command_name(ctx), cast(_Formattable, exc).format_message())


def _command_name(ctx: Any) -> str:
    """``netgauge probe dns``: the subcommand names under the root, which may be started as
    ``netgauge`` or ``python -m netgauge``."""
    words: list[str] = []
    while ctx.parent is not None:
        words.append(str(ctx.info_name))
        ctx = ctx.parent
    return " ".join(["netgauge", *reversed(words)])


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
poll_app = typer.Typer(
    help="One-shot polls of devices (CPU, memory, disk, temperature, traffic), nothing stored.",
    no_args_is_help=True,
)
app.add_typer(poll_app, name="poll")
import_app = typer.Typer(
    help="Bring history from the tool you leave: samples from CSV, Parquet or line protocol.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")
analytics_app = typer.Typer(
    help="Analytics on files (backtests): anomalies, forecasts, error patterns, failure risk. "
    "The same code serves /api/v1/analytics.",
    no_args_is_help=True,
)
app.add_typer(analytics_app, name="analytics")
