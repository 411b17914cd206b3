"""``netgauge poll snmp HOST[:PORT]``: one device's metrics over SNMP, for troubleshooting.

Secrets never come from the command line (it is visible in ``ps`` and shell history): the
community is read from ``NETGAUGE_SNMP_COMMUNITY`` (or ``NETGAUGE_SNMP_COMMUNITY_FILE``), the
v3 user from ``NETGAUGE_SNMP_USER``, ``NETGAUGE_SNMP_AUTH_PROTOCOL`` (MD5, SHA, SHA-224,
SHA-256, SHA-384, SHA-512), ``NETGAUGE_SNMP_AUTH_KEY``, ``NETGAUGE_SNMP_PRIV_PROTOCOL`` (AES)
and ``NETGAUGE_SNMP_PRIV_KEY`` (the keys also as ``*_FILE``).
Rates need two readings, so the device is polled twice, ``--rate-interval`` seconds apart.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netgauge.cli.app import OneLineUsageErrors, fail, poll_app
from netgauge.cli.device_args import env_secret, host_port
from netgauge.pollers.readings import DeviceReading, DeviceState

if TYPE_CHECKING:
    from netgauge.pollers.snmp_client import Credentials, Endpoint
    from netgauge.pollers.snmp_profiles import Profile
    from netgauge.pollers.snmp_usm import UsmUser

COMMAND = "netgauge poll snmp"
ENV_PREFIX = "NETGAUGE_SNMP_"
ENV_COMMUNITY = "NETGAUGE_SNMP_COMMUNITY"
EXIT_ONLINE = 0
EXIT_OFFLINE = 1


@poll_app.command("snmp", cls=OneLineUsageErrors)
def snmp_command(
    host: Annotated[
        str,
        typer.Argument(metavar="HOST[:PORT]", help="Agent address or name; port 161 unless given."),
    ],
    version: Annotated[
        str, typer.Option("--version", "-v", metavar="1|2c|3", help="SNMP version.")
    ] = "2c",
    rate_interval: Annotated[
        float, typer.Option(metavar="S", help="Seconds between the two polls rates need.")
    ] = 2.0,
    counter_wait: Annotated[
        float,
        typer.Option(
            metavar="S",
            help="Seconds to wait for the agent's next interface-counter refresh, to time "
            "the counters by it (0: read them as they come).",
        ),
    ] = 3.5,
    timeout: Annotated[float, typer.Option(metavar="S", help="Seconds per try.")] = 1.0,
    retries: Annotated[int, typer.Option(metavar="N", help="Tries after the first.")] = 1,
    profiles_dir: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Extra device profiles (*.yaml).")
    ] = None,
    credentials_name: Annotated[
        str | None,
        typer.Option(
            "--credentials", metavar="NAME", help="A credentials entry of --config (kind snmp)."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(metavar="FILE", help="The config file of --credentials.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Poll HOST over SNMP and print CPU, memory, disk, temperature, traffic and uptime.

    Exit status: 0 metrics read (online, or degraded: the errors say what is missing), 1
    nothing read (offline, or credentials refused), 2 bad input.
    """
    from netgauge.errors import ConfigError
    from netgauge.pollers.snmp_ber import V1, V2C
    from netgauge.pollers.snmp_client import Credentials
    from netgauge.pollers.snmp_profiles import load_profiles
    from netgauge.pollers.snmp_usm import V3

    versions = {"1": V1, "2c": V2C, "3": V3}
    if version not in versions:
        fail(COMMAND, f"invalid --version {version!r}: expected 1, 2c or 3")
    if (
        not 0.0 < timeout <= 60.0
        or not 0 <= retries <= 10
        or not 0.0 <= rate_interval <= 300.0
        or not 0.0 <= counter_wait <= 30.0
    ):
        fail(
            COMMAND,
            "--timeout must be in (0, 60], --retries in 0..10, --rate-interval 0..300, "
            "--counter-wait 0..30",
        )
    endpoint = _endpoint(host)
    if credentials_name is not None:
        credentials = _from_config(config, credentials_name, version)
    elif version == "3":
        credentials = Credentials(V3, usm=_usm_user())
    else:
        credentials = Credentials(versions[version], _secret(ENV_COMMUNITY, "the community"))
    try:
        profiles = load_profiles(profiles_dir)
    except ConfigError as exc:
        fail(COMMAND, str(exc).replace("\n", "; "))
    reading = asyncio.run(
        _poll_twice(endpoint, credentials, profiles, timeout, retries, rate_interval, counter_wait)
    )
    typer.echo(json.dumps(reading.to_json()) if as_json else render(reading))
    # as poll ssh and poll winrm: 1 when nothing was read (offline, or credentials refused)
    nothing = reading.state is DeviceState.OFFLINE or not reading.metrics
    raise typer.Exit(EXIT_OFFLINE if nothing else EXIT_ONLINE)


def _secret(name: str, what: str, *, required: bool = True) -> bytes:
    """``name`` from the environment, or the file named by ``name_FILE``; never argv."""
    return (env_secret(COMMAND, name, what if required else None) or "").encode()


def _usm_user() -> UsmUser:
    """The v3 user from NETGAUGE_SNMP_USER, _AUTH_PROTOCOL, _AUTH_KEY, _PRIV_PROTOCOL,
    _PRIV_KEY (keys also as ``*_FILE``); the security level follows what is set."""
    from netgauge.pollers.snmp_usm import UsmUser

    name = _secret(f"{ENV_PREFIX}USER", "the SNMPv3 user name").decode()
    auth_key = _secret(f"{ENV_PREFIX}AUTH_KEY", "", required=False) or None
    priv_key = _secret(f"{ENV_PREFIX}PRIV_KEY", "", required=False) or None
    auth = os.environ.get(f"{ENV_PREFIX}AUTH_PROTOCOL") or ("SHA" if auth_key else None)
    priv = os.environ.get(f"{ENV_PREFIX}PRIV_PROTOCOL") or ("AES" if priv_key else None)
    try:
        return UsmUser(
            name,
            auth.upper() if auth else None,
            auth_key,
            priv.upper() if priv else None,
            priv_key,
        )
    except ValueError as exc:
        fail(COMMAND, f"SNMPv3 user from {ENV_PREFIX}*: {exc}")


def _from_config(config: Path | None, name: str, version: str) -> Credentials:
    """The credentials entry ``name`` of the config file: the secrets are read from where
    it says (environment variables, files), as the snmp job would."""
    from netgauge.config.loader import load_config
    from netgauge.errors import ConfigError
    from netgauge.models import CredentialRef
    from netgauge.pollers.jobs import snmp_credentials
    from netgauge.pollers.secrets import SecretMissingError

    if config is None:
        fail(COMMAND, "--credentials needs --config FILE (the file that declares it)")
    try:
        loaded = load_config(config).config
    except ConfigError as exc:
        fail(COMMAND, str(exc).replace("\n", "; "))
    entry = next((c for c in loaded.credentials if c.name == name), None)
    if entry is None or entry.kind != "snmp":
        fail(COMMAND, f"{config} declares no snmp credentials named {name!r}")
    ref = CredentialRef(entry.name, entry.kind, entry.env, entry.files, entry.username)
    try:
        return snmp_credentials(ref, version)
    except (SecretMissingError, ValueError) as exc:
        fail(COMMAND, str(exc))


def _endpoint(text: str) -> Endpoint:
    """The agent's address (a name is resolved here) and port."""
    import asyncio as _asyncio

    from netgauge.errors import TargetResolutionError
    from netgauge.pollers.snmp_client import Endpoint
    from netgauge.probes.icmp_resolve import resolve_address

    host, port = host_port(COMMAND, text, 161)
    try:
        return Endpoint(_asyncio.run(resolve_address(host)), port)
    except TargetResolutionError as exc:
        fail(COMMAND, str(exc))


async def _poll_twice(
    endpoint: Endpoint,
    credentials: Credentials,
    profiles: dict[str, Profile],
    timeout: float,
    retries: int,
    rate_interval: float,
    counter_wait: float,
) -> DeviceReading:
    from netgauge.pollers.snmp import SnmpPoller
    from netgauge.pollers.snmp_client import SnmpClient

    device = str(endpoint)
    async with SnmpClient(timeout=timeout, retries=retries) as client:
        poller = SnmpPoller(client, profiles, counter_wait_s=counter_wait)
        first = await poller.poll(device, endpoint, credentials)
        if first.state is DeviceState.OFFLINE or rate_interval == 0:
            return first
        await asyncio.sleep(rate_interval)
        return await poller.poll(device, endpoint, credentials)


def render(reading: DeviceReading) -> str:
    """A readable block: the state, one metric per line, then the problems."""
    lines = [f"{reading.device}: {reading.state.value}"]
    width = max((len(m.series()) for m in reading.metrics), default=0)
    lines += [f"  {m.series():<{width}}  {m.value:.6g}" for m in reading.metrics]
    lines += [f"  ! {error}" for error in reading.errors]
    return "\n".join(lines)
