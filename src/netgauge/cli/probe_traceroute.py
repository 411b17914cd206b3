"""``netgauge probe traceroute``: one MTR-style trace, printed as a hop table or JSON."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from netgauge.cli.app import OneLineUsageErrors, fail, probe_app
from netgauge.errors import ProbeSetupError, TargetResolutionError
from netgauge.models import ProbeResult, ProbeStatus, Target
from netgauge.probes.icmp_resolve import resolve_address
from netgauge.probes.traceroute import TracerouteParams, TracerouteProbe

EXIT_REACHED = 0
EXIT_NOT_REACHED = 1

_FLAGS = {
    "mode": "--mode",
    "probes": "--probes",
    "max_hops": "--max-hops",
    "timeout": "--timeout",
    "interval": "--interval",
}
_HEADER = ("hop", "address", "sent", "recv", "loss%", "min", "avg", "max")


def _fail(message: str) -> NoReturn:
    fail("netgauge probe traceroute", message)


@probe_app.command("traceroute", cls=OneLineUsageErrors)
def traceroute_command(
    target: Annotated[str, typer.Argument(metavar="TARGET", help="IP address or host name.")],
    # Taken as text and validated by TracerouteParams: every bad value is one line, exit 2.
    mode: Annotated[
        str | None, typer.Option(metavar="icmp|udp", help="Probe kind (default udp).")
    ] = None,
    probes: Annotated[
        str | None,
        typer.Option(
            metavar="K", help="Probes per hop, in rounds; 1..1000, e.g. 100 as mtr -c 100 [3]."
        ),
    ] = None,
    max_hops: Annotated[
        str | None, typer.Option("--max-hops", metavar="N", help="Highest TTL, 1..30 [30].")
    ] = None,
    timeout: Annotated[
        str | None, typer.Option(metavar="S", help="Seconds to wait for each answer [1.0].")
    ] = None,
    interval: Annotated[
        str | None, typer.Option(metavar="S", help="Seconds between rounds [0.5].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Trace the path to TARGET: each hop's address, loss and RTT min/avg/max.

    Exit status: 0 destination reached, 1 not reached, 2 bad input or no socket permitted.
    """
    raw = {"mode": mode, "probes": probes, "max_hops": max_hops, "timeout": timeout}
    raw["interval"] = interval
    params = _params({name: value for name, value in raw.items() if value is not None})
    try:
        address, result = asyncio.run(_trace(target, params))
    except (TargetResolutionError, ProbeSetupError) as exc:
        _fail(str(exc))
    typer.echo(_render_json(address, result) if as_json else _render_table(address, result))
    raise typer.Exit(EXIT_REACHED if result.status is ProbeStatus.OK else EXIT_NOT_REACHED)


def _params(raw: dict[str, str]) -> TracerouteParams:
    try:
        return TracerouteParams.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        _fail(f"invalid {_FLAGS.get(name, name)} {raw.get(name)!r}: {first['msg']}")


async def _trace(name: str, params: TracerouteParams) -> tuple[str, ProbeResult]:
    address = await resolve_address(name)
    return address, await TracerouteProbe().run(Target(name=name, address=address), params)


def _render_json(address: str, result: ProbeResult) -> str:
    """target, address, status, error, metrics, hops and path as one JSON object.

    The metrics are nested: their ``hops`` (a count) would collide with the hop list.
    """
    body: dict[str, Any] = {"target": result.target, "address": address}
    body |= {"status": result.status.value, "error": result.error}
    body["metrics"] = dict(result.metrics)
    body |= {"hops": result.details.get("hops", []), "path": result.details.get("path", [])}
    return json.dumps(body, separators=(",", ":"))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _row(hop: dict[str, Any]) -> tuple[str, ...]:
    shown = hop["address"] or "???"
    if hop.get("name"):
        shown = f"{hop['name']} ({shown})"
    loss = hop["loss_pct"]
    return (
        str(hop["ttl"]),
        shown,
        str(hop["sent"]),
        str(hop["received"]),
        "-" if loss is None else f"{loss:.1f}%",
        *(_ms(hop[key]) for key in ("rtt_min_ms", "rtt_avg_ms", "rtt_max_ms")),
    )


def _render_table(address: str, result: ProbeResult) -> str:
    """An aligned table like mtr's report (RTTs in ms), with the error below it."""
    rows = [_HEADER, *(_row(hop) for hop in result.details.get("hops", []))]
    widths = [max(len(row[col]) for row in rows) for col in range(len(_HEADER))]
    lines = [
        "  ".join(
            cell.ljust(width) if col == 1 else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    title = f"traceroute to {result.target} ({address}): {result.status.value}"
    return "\n".join([title, *lines, *([result.error] if result.error else [])])
