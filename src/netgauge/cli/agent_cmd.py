"""``netgauge agent --server URL --token-file FILE``: push this host's metrics to a server.

For hosts the server cannot poll (behind NAT, no SSH, SNMP or WinRM open to it): the agent
collects CPU, memory, disk, temperature, traffic and uptime with psutil every ``--interval``
seconds, spools each batch on disk (``--spool-dir``, at most ``--max-spool-mb``) and sends
it to the server's ingest endpoint; an outage loses nothing but what the size limit drops.

The token never comes from the command line (it is visible in ``ps`` and shell history):
it is read from ``--token-file``, else from ``NETGAUGE_AGENT_TOKEN``.

``--interfaces`` and ``--disks`` take what a device job's params of those names take, as
JSON (``--interfaces '{"exclude": ["^veth", "^docker"]}'``): the agent has no job on the
server, so its host's own command line says what it pushes.
httpx and psutil are imported when the command runs, not when the CLI starts.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar
from urllib.parse import urlsplit

import typer

from netgauge.cli.app import OneLineUsageErrors, app, fail

if TYPE_CHECKING:
    from pydantic import BaseModel

COMMAND = "netgauge agent"
ENV_TOKEN = "NETGAUGE_AGENT_TOKEN"
EXIT_CANNOT_START = 1


@app.command("agent", cls=OneLineUsageErrors)
def agent_command(
    server: Annotated[
        str, typer.Option(metavar="URL", help="The netgauge server, e.g. https://nms:8470.")
    ],
    token_file: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help=f"File holding the agent's token (else {ENV_TOKEN})."),
    ] = None,
    interval: Annotated[float, typer.Option(metavar="S", help="Seconds between batches.")] = 30.0,
    spool_dir: Annotated[
        Path, typer.Option(metavar="DIR", help="Where batches wait for the server.")
    ] = Path("netgauge-agent-spool"),
    max_spool_mb: Annotated[
        int, typer.Option(metavar="N", help="Spool size limit; the oldest data goes first.")
    ] = 100,
    rate_interval: Annotated[
        float, typer.Option(metavar="S", help="Seconds between the two readings rates need.")
    ] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Collect one batch, send what is pending, exit.")
    ] = False,
    interfaces: Annotated[
        str,
        typer.Option(
            metavar="JSON",
            help='Interfaces pushed, as a job\'s `interfaces` ({"exclude": ["^veth"]}); '
            "loopbacks are left out by default.",
        ),
    ] = "{}",
    disks: Annotated[
        str,
        typer.Option(
            metavar="JSON",
            help='Disks pushed, as a job\'s `disks` ({"skip_types": ["vfat"]}).',
        ),
    ] = "{}",
) -> None:
    """Collect this host's metrics every interval and push them to a netgauge server.

    Exit status: 0 stopped (--once: all delivered), 1 not delivered or token refused, 2 bad input.
    """
    if not 1.0 <= interval <= 86400.0 or not 0.5 <= rate_interval <= 300.0:
        fail(COMMAND, "--interval must be in 1..86400 and --rate-interval in 0.5..300")
    if not 1 <= max_spool_mb <= 1_000_000:
        fail(COMMAND, "--max-spool-mb must be in 1..1000000")
    from netgauge.pollers.selection import DiskSelection, InterfaceSelection

    chosen_interfaces = _selection("--interfaces", InterfaceSelection, interfaces)
    chosen_disks = _selection("--disks", DiskSelection, disks)
    url = _server_url(server)
    token = _token(token_file)

    from netgauge.agent.main import AgentOptions, run
    from netgauge.agent.spool import AgentError
    from netgauge.logs import configure_logging

    configure_logging("info", "json")
    options = AgentOptions(
        server=url,
        token=token,
        spool_dir=spool_dir,
        interval_s=interval,
        rate_interval_s=rate_interval,
        max_spool_bytes=max_spool_mb * 1024 * 1024,
        once=once,
        interfaces=chosen_interfaces,
        disks=chosen_disks,
    )
    try:
        code = run(options)
    except AgentError as exc:
        typer.echo(f"{COMMAND}: error: {exc}", err=True)
        raise typer.Exit(EXIT_CANNOT_START) from None
    except ModuleNotFoundError as exc:
        if exc.name != "psutil":
            raise
        typer.echo(f"{COMMAND}: error: psutil is not installed (pip install psutil)", err=True)
        raise typer.Exit(EXIT_CANNOT_START) from None
    raise typer.Exit(code)


_M = TypeVar("_M", bound="BaseModel")


def _selection(option: str, model: type[_M], text: str) -> _M:
    """``text`` (JSON) as ``model``; bad input exits 2 naming the option and the part
    (``--interfaces: include.0: '(' is not a regular expression...``)."""
    from pydantic import ValidationError

    from netgauge.config.base import error_message

    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        fail(COMMAND, f"{option}: {where + ': ' if where else ''}{error_message(first)}")


def _server_url(text: str, command: str = COMMAND) -> str:
    """The server's base URL (http or https, a host, no query); a warning for plain HTTP
    beyond this host, where the token would cross the network in clear."""
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        fail(command, f"invalid --server {text!r}: {exc}")
    if parts.scheme not in {"http", "https"} or not host or parts.query or parts.fragment:
        fail(command, f"invalid --server {text!r}: expected http(s)://HOST[:PORT][/PATH]")
    if parts.username or parts.password:
        fail(command, "--server must not carry credentials; the token comes from --token-file")
    if parts.scheme == "http" and not _is_loopback(host):
        typer.echo(
            f"{command}: warning: {text} is plain HTTP: the token crosses the network in clear",
            err=True,
        )
    return text.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token(path: Path | None, env: str = ENV_TOKEN, command: str = COMMAND) -> str:
    """The token from ``path``, else from the variable ``env``; never from argv."""
    if path is not None:
        try:
            token = path.read_text(encoding="utf-8").strip()
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as exc:
            fail(command, f"cannot read --token-file {path}: {getattr(exc, 'strerror', exc)}")
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            typer.echo(f"{command}: warning: {path} is readable by others (chmod 600)", err=True)
        source = str(path)
    else:
        token = os.environ.get(env, "").strip()
        source = env
    if not token:
        fail(command, f"no token: give --token-file FILE or set {env}")
    if not token.isascii() or not token.isprintable() or " " in token:
        fail(command, f"the token in {source} has characters a token cannot have")
    return token
