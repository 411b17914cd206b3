"""``netgauge poll winrm HOST[:PORT]``: one Windows host's metrics over WinRM, agentless.

Secrets never come from the command line (it is visible in ``ps`` and shell history): the
password is read from ``NETGAUGE_WINRM_PASSWORD`` (or the file named by
``NETGAUGE_WINRM_PASSWORD_FILE``). HTTPS (port 5986) is the default and its certificate is
checked (``--ca-file`` for a private CA, ``--insecure`` to accept any); plain HTTP (5985)
is allowed with NTLM, whose messages pywinrm seals with the session key, but not with
Basic, which would send the password and every answer in clear text.

The formatted WMI counters are already per second, so one poll is enough (no second poll
for rates as ``poll snmp`` needs).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netgauge.cli.app import OneLineUsageErrors, fail, poll_app
from netgauge.cli.device_args import env_secret, host_port
from netgauge.pollers.readings import DeviceReading, DeviceState

if TYPE_CHECKING:
    from netgauge.pollers.winrm import HttpTransport

COMMAND = "netgauge poll winrm"
ENV_PASSWORD = "NETGAUGE_WINRM_PASSWORD"
EXIT_READ = 0
EXIT_NOTHING_READ = 1
AUTH_METHODS = ("ntlm", "basic")


@poll_app.command("winrm", cls=OneLineUsageErrors)
def winrm_command(
    host: Annotated[
        str,
        typer.Argument(
            metavar="HOST[:PORT]", help="Host name or address (port 5986, 5985 with --http)."
        ),
    ],
    user: Annotated[
        str, typer.Option(metavar="USER", help="Account: user, DOMAIN\\user or user@domain.")
    ],
    https: Annotated[
        bool, typer.Option("--https/--http", help="HTTPS on 5986, or HTTP on 5985.")
    ] = True,
    auth: Annotated[str, typer.Option(metavar="ntlm|basic", help="Authentication.")] = "ntlm",
    ca_file: Annotated[
        Path | None, typer.Option(metavar="FILE", help="CA bundle (PEM) of the host's certificate.")
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Accept any certificate (HTTPS).")
    ] = False,
    timeout: Annotated[float, typer.Option(metavar="S", help="Seconds per request.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Poll HOST over WinRM and print CPU, memory, disk, temperature, traffic and uptime.

    Exit status: 0 metrics read (online, or degraded: the errors say what is missing),
    1 nothing read (offline, or credentials or certificate refused), 2 bad input.
    """
    if auth not in AUTH_METHODS:
        fail(COMMAND, f"invalid --auth {auth!r}: expected ntlm or basic")
    if not 0.0 < timeout <= 300.0:
        fail(COMMAND, "--timeout must be in (0, 300]")
    if ca_file is not None and insecure:
        fail(COMMAND, "--ca-file and --insecure exclude each other")
    if not https and (ca_file is not None or insecure):
        fail(COMMAND, "--ca-file and --insecure apply to --https only")
    if not https and auth == "basic":
        fail(COMMAND, "--auth basic over --http would send the password in clear: use --https")
    if ca_file is not None and not ca_file.is_file():
        fail(COMMAND, f"--ca-file {ca_file}: no such file")
    if not user.strip():
        fail(COMMAND, "--user must not be empty")
    from netgauge.pollers.winrm import HTTP_PORT, HTTPS_PORT

    name, port = host_port(COMMAND, host, HTTPS_PORT if https else HTTP_PORT)
    transport = _transport(name, port, https, user, auth, ca_file, insecure, timeout)
    try:
        device = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
        reading = asyncio.run(_poll(device, transport, timeout))
    finally:
        transport.close()
    from netgauge.cli.poll_snmp import render

    typer.echo(json.dumps(reading.to_json()) if as_json else render(reading))
    nothing = reading.state is DeviceState.OFFLINE or not reading.metrics
    raise typer.Exit(EXIT_NOTHING_READ if nothing else EXIT_READ)


def _password() -> str:
    """The password of --user, from the environment; never argv."""
    password = env_secret(COMMAND, ENV_PASSWORD, "the password of --user")
    assert password is not None  # (required: env_secret exits otherwise)
    return password


def _transport(
    host: str,
    port: int,
    https: bool,
    user: str,
    auth: str,
    ca_file: Path | None,
    insecure: bool,
    timeout: float,
) -> HttpTransport:
    from netgauge.pollers.winrm import HttpTransport, endpoint_url

    return HttpTransport(
        endpoint_url(host, port, https=https),
        user,
        _password(),
        auth="basic" if auth == "basic" else "ntlm",
        ca_file=None if ca_file is None else str(ca_file),
        verify=not insecure,
        timeout_s=timeout,
    )


async def _poll(device: str, transport: HttpTransport, timeout: float) -> DeviceReading:
    from netgauge.pollers.winrm import WinrmPoller

    # the host's own deadline ends before ours, so a slow WMI provider comes back as a fault
    poller = WinrmPoller(operation_timeout_s=max(1.0, timeout - 2.0))
    return await poller.poll(device, transport)
