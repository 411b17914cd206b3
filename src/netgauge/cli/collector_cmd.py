"""``netgauge collector --server URL --token-file FILE --data-dir DIR``: run one collector.

A collector runs the checks of its site's targets (the central assigns them) and pushes the
results to the central through a durable spool in ``--data-dir``. Its token is made by an
admin (``POST /api/v1/collectors``) and read from ``--token-file`` (else
``NETGAUGE_COLLECTOR_TOKEN``), never from the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netgauge.cli.agent_cmd import _server_url, _token
from netgauge.cli.app import OneLineUsageErrors, app, fail

COMMAND = "netgauge collector"
ENV_TOKEN = "NETGAUGE_COLLECTOR_TOKEN"
EXIT_CANNOT_START = 1


@app.command("collector", cls=OneLineUsageErrors)
def collector_command(
    server: Annotated[str, typer.Option(metavar="URL", help="The central, e.g. https://nms:8470.")],
    token_file: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help=f"File holding the collector's token (else {ENV_TOKEN})."
        ),
    ] = None,
    data_dir: Annotated[
        Path,
        typer.Option(metavar="DIR", help="Its spool and last assignment (kept across restarts)."),
    ] = Path("netgauge-collector"),
    max_spool_mb: Annotated[
        int, typer.Option(metavar="N", help="Spool size limit; the oldest results go first.")
    ] = 500,
    max_concurrency: Annotated[
        int, typer.Option(metavar="N", help="Checks in flight at once.")
    ] = 256,
) -> None:
    """Run this site's checks for the central and push their results to it.

    Exit status: 0 stopped by a signal, 1 the token was refused or it cannot start, 2 bad input.
    """
    if not 1 <= max_spool_mb <= 1_000_000:
        fail(COMMAND, "--max-spool-mb must be in 1..1000000")
    if not 1 <= max_concurrency <= 100_000:
        fail(COMMAND, "--max-concurrency must be in 1..100000")
    url = _server_url(server, COMMAND)
    token = _token(token_file, ENV_TOKEN, COMMAND)

    from netgauge.agent.spool import AgentError
    from netgauge.collector.main import CollectorOptions, run
    from netgauge.logs import configure_logging

    configure_logging("info", "json")
    options = CollectorOptions(
        server=url,
        token=token,
        data_dir=data_dir,
        max_spool_bytes=max_spool_mb * 1024 * 1024,
        max_concurrency=max_concurrency,
    )
    try:
        code = run(options)
    except (AgentError, OSError) as exc:
        typer.echo(f"{COMMAND}: error: {exc}", err=True)
        raise typer.Exit(EXIT_CANNOT_START) from None
    raise typer.Exit(code)
