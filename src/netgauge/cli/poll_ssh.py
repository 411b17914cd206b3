"""``netgauge poll ssh HOST[:PORT]``: one Linux host's metrics over SSH, for troubleshooting.

Secrets never come from the command line (it is visible in ``ps`` and shell history): the
password is read from ``NETGAUGE_SSH_PASSWORD`` (or the file named by
``NETGAUGE_SSH_PASSWORD_FILE``); a key is named by ``--key-file``. Host keys are checked
against ``--known-hosts`` (default ~/.ssh/known_hosts); ``--accept-new-host-key`` adds the
key of a host that file does not list yet (a changed key is refused all the same).
Rates and CPU need two readings, so the host is polled twice, ``--rate-interval`` seconds
apart, on one connection. asyncssh is imported when the command runs, not when the CLI
starts (tests/unit/test_cli_startup.py).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netgauge.cli.app import OneLineUsageErrors, fail, poll_app
from netgauge.cli.device_args import env_secret, host_port
from netgauge.cli.poll_snmp import render
from netgauge.pollers.readings import DeviceReading, DeviceState

if TYPE_CHECKING:
    from netgauge.pollers.ssh import SshCredentials, SshEndpoint

COMMAND = "netgauge poll ssh"
ENV_PASSWORD = "NETGAUGE_SSH_PASSWORD"
EXIT_READ = 0
EXIT_NOTHING_READ = 1


@poll_app.command("ssh", cls=OneLineUsageErrors)
def ssh_command(
    host: Annotated[
        str, typer.Argument(metavar="HOST[:PORT]", help="Address or name; port 22 unless given.")
    ],
    user: Annotated[str, typer.Option("--user", "-u", metavar="U", help="User to log in as.")],
    key_file: Annotated[
        Path | None,
        typer.Option(metavar="F", help=f"Private key (unencrypted); else ${ENV_PASSWORD}."),
    ] = None,
    known_hosts: Annotated[
        Path | None,
        typer.Option(metavar="F", help="known_hosts file (default ~/.ssh/known_hosts)."),
    ] = None,
    accept_new_host_key: Annotated[
        bool,
        typer.Option(
            "--accept-new-host-key",
            help="Trust a host key seen for the first time and add it to known_hosts.",
        ),
    ] = False,
    rate_interval: Annotated[
        float, typer.Option(metavar="S", help="Seconds between the two polls rates need.")
    ] = 2.0,
    timeout: Annotated[
        float, typer.Option(metavar="S", help="Seconds to connect, and to run the command.")
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Poll HOST over SSH and print CPU, memory, disk, temperature, traffic and uptime.

    Exit status: 0 metrics read (online), 1 nothing read (offline, or login or host key
    refused), 2 bad input.
    """
    from netgauge.pollers.ssh import (
        SshCredentials,
        SshSetupError,
        load_client_key,
        load_known_hosts,
    )

    if not 0.0 < timeout <= 300.0 or not 0.0 <= rate_interval <= 300.0:
        fail(COMMAND, "--timeout must be in (0, 300], --rate-interval in 0..300")
    if not user or any(c.isspace() for c in user):
        fail(COMMAND, f"invalid --user {user!r}")
    endpoint = _endpoint(host)
    password = _password()
    if key_file is None and password is None:
        fail(COMMAND, f"give --key-file F, or the password in {ENV_PASSWORD} (or ..._FILE)")
    try:
        if key_file is not None:
            load_client_key(key_file)  # unusable key: bad input, before any connection
        load_known_hosts((known_hosts or Path("~/.ssh/known_hosts")).expanduser())
    except SshSetupError as exc:
        fail(COMMAND, str(exc))
    credentials = SshCredentials(user, key_file, password)
    try:
        reading = asyncio.run(
            _poll_twice(
                endpoint, credentials, known_hosts, accept_new_host_key, timeout, rate_interval
            )
        )
    except SshSetupError as exc:
        fail(COMMAND, str(exc))
    typer.echo(json.dumps(reading.to_json()) if as_json else render(reading))
    nothing = reading.state is DeviceState.OFFLINE or not reading.metrics
    raise typer.Exit(EXIT_NOTHING_READ if nothing else EXIT_READ)


def _password() -> str | None:
    """The password from the environment (or a file named by ``..._FILE``); never argv."""
    return env_secret(COMMAND, ENV_PASSWORD)


def _endpoint(text: str) -> SshEndpoint:
    from netgauge.pollers.ssh import DEFAULT_PORT, SshEndpoint

    return SshEndpoint(*host_port(COMMAND, text, DEFAULT_PORT))


async def _poll_twice(
    endpoint: SshEndpoint,
    credentials: SshCredentials,
    known_hosts: Path | None,
    accept_new: bool,
    timeout: float,
    rate_interval: float,
) -> DeviceReading:
    from netgauge.pollers.ssh import SshPoller

    device = str(endpoint)
    async with SshPoller(
        known_hosts=known_hosts,
        accept_new_host_keys=accept_new,
        connect_timeout=timeout,
        command_timeout=timeout,
    ) as poller:
        first = await poller.poll(device, endpoint, credentials)
        if first.state is not DeviceState.ONLINE or rate_interval == 0:
            return first
        await asyncio.sleep(rate_interval)
        return await poller.poll(device, endpoint, credentials)
