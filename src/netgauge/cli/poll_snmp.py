"""``netgauge poll snmp HOST[:PORT]``: one device's metrics over SNMP, for troubleshooting.

Secrets never come from the command line (it is visible in ``ps`` and shell history): the
community is read from ``NETGAUGE_SNMP_COMMUNITY`` (or ``NETGAUGE_SNMP_COMMUNITY_FILE``).
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
from netgauge.pollers.readings import DeviceReading, DeviceState

if TYPE_CHECKING:
    from netgauge.pollers.snmp_client import Credentials, Endpoint
    from netgauge.pollers.snmp_profiles import Profile

COMMAND = "netgauge poll snmp"
ENV_COMMUNITY = "NETGAUGE_SNMP_COMMUNITY"
EXIT_ONLINE = 0
EXIT_OFFLINE = 1


@poll_app.command("snmp", cls=OneLineUsageErrors)
def snmp_command(
    host: Annotated[str, typer.Argument(metavar="HOST[:PORT]", help="Agent address [port 161].")],
    version: Annotated[
        str, typer.Option("--version", "-v", metavar="1|2c|3", help="SNMP version.")
    ] = "2c",
    rate_interval: Annotated[
        float, typer.Option(metavar="S", help="Seconds between the two polls rates need.")
    ] = 2.0,
    timeout: Annotated[float, typer.Option(metavar="S", help="Seconds per try.")] = 1.0,
    retries: Annotated[int, typer.Option(metavar="N", help="Tries after the first.")] = 1,
    profiles_dir: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Extra device profiles (*.yaml).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Poll HOST over SNMP and print CPU, memory, disk, temperature, traffic and uptime.

    Exit status: 0 online, 1 offline or unreachable, 2 bad input.
    """
    from netgauge.errors import ConfigError
    from netgauge.pollers.snmp_ber import V1, V2C
    from netgauge.pollers.snmp_client import Credentials
    from netgauge.pollers.snmp_profiles import load_profiles

    versions = {"1": V1, "2c": V2C}
    if version == "3":
        fail(COMMAND, "SNMPv3 is not supported yet: use --version 2c or 1 (see README)")
    if version not in versions:
        fail(COMMAND, f"invalid --version {version!r}: expected 1, 2c or 3")
    if not 0.0 < timeout <= 60.0 or not 0 <= retries <= 10 or not 0.0 <= rate_interval <= 300.0:
        fail(COMMAND, "--timeout must be in (0, 60], --retries in 0..10, --rate-interval 0..300")
    endpoint = _endpoint(host)
    credentials = Credentials(versions[version], _community())
    try:
        profiles = load_profiles(profiles_dir)
    except ConfigError as exc:
        fail(COMMAND, str(exc).replace("\n", "; "))
    reading = asyncio.run(
        _poll_twice(endpoint, credentials, profiles, timeout, retries, rate_interval)
    )
    typer.echo(json.dumps(reading.to_json()) if as_json else render(reading))
    raise typer.Exit(EXIT_OFFLINE if reading.state is DeviceState.OFFLINE else EXIT_ONLINE)


def _community() -> bytes:
    """The community from the environment (or a file named by ``..._FILE``); never argv."""
    path = os.environ.get(f"{ENV_COMMUNITY}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip().encode()
        except OSError as exc:
            fail(COMMAND, f"cannot read {ENV_COMMUNITY}_FILE {path}: {exc.strerror}")
    community = os.environ.get(ENV_COMMUNITY)
    if not community:
        fail(COMMAND, f"set {ENV_COMMUNITY} (or {ENV_COMMUNITY}_FILE) to the community")
    return community.encode()


def _endpoint(text: str) -> Endpoint:
    from netgauge.pollers.snmp_client import Endpoint
    from netgauge.probes.icmp_resolve import parse_ip_literal

    host = text
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") or "161"
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        port_text = "161"
    address = parse_ip_literal(host)
    if address is None:
        fail(COMMAND, f"invalid HOST {text!r}: expected an IP address, optionally with :PORT")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        fail(COMMAND, f"invalid port in {text!r}: expected 1..65535")
    return Endpoint(address, int(port_text))


async def _poll_twice(
    endpoint: Endpoint,
    credentials: Credentials,
    profiles: dict[str, Profile],
    timeout: float,
    retries: int,
    rate_interval: float,
) -> DeviceReading:
    from netgauge.pollers.snmp import SnmpPoller
    from netgauge.pollers.snmp_client import SnmpClient

    device = str(endpoint)
    async with SnmpClient(timeout=timeout, retries=retries) as client:
        poller = SnmpPoller(client, profiles)
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
