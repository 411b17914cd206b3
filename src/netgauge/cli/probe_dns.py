"""``netgauge probe dns``: one query to a DNS server (or the system resolver), explained.

dnspython (and the probe module that uses it) is imported inside the command, so the other
commands do not pay for it at start.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from netgauge.cli.app import OneLineUsageErrors, fail, probe_app
from netgauge.models import ProbeResult, ProbeStatus, Target

if TYPE_CHECKING:
    from netgauge.probes.dns import DnsParams

EXIT_OK = 0
EXIT_FAILED = 1
SYSTEM = "system"
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")

_FLAGS = {
    "name": "NAME",
    "type": "--type",
    "port": "--port",
    "timeout": "--timeout",
    "expect_regex": "--expect-regex",
    "expect_rcode": "--expect-rcode",
    "tls_server_name": "--tls-name",
}


@probe_app.command("dns", cls=OneLineUsageErrors)
def dns_command(
    server: Annotated[
        str,
        typer.Argument(
            metavar="SERVER",
            help="IP address (or host name) of the DNS server, or 'system' for resolv.conf's.",
        ),
    ],
    name: Annotated[str, typer.Argument(metavar="NAME", help="Name to look up (PTR: an IP).")],
    rtype: Annotated[str, typer.Option("--type", "-t", metavar="TYPE", help="Record type.")] = "A",
    port: Annotated[
        str | None, typer.Option(metavar="P", help="Server port [53; 853 with --tls].")
    ] = None,
    tcp: Annotated[bool, typer.Option("--tcp", help="Ask over TCP only.")] = False,
    tls: Annotated[bool, typer.Option("--tls", help="Ask over DNS over TLS.")] = False,
    tls_name: Annotated[
        str | None, typer.Option("--tls-name", metavar="HOST", help="TLS server name to check.")
    ] = None,
    tls_ca: Annotated[
        str | None, typer.Option("--tls-ca", metavar="FILE", help="CA file for --tls.")
    ] = None,
    expect: Annotated[
        list[str] | None,
        typer.Option(metavar="TEXT", help="An answer that must be present (repeatable)."),
    ] = None,
    expect_regex: Annotated[
        str | None, typer.Option(metavar="RE", help="A regex one answer must match.")
    ] = None,
    expect_rcode: Annotated[
        str, typer.Option(metavar="RCODE", help="Response code counted as success.")
    ] = "NOERROR",
    resolv_conf: Annotated[
        str | None,
        typer.Option(
            metavar="FILE", help="resolv.conf read for SERVER 'system' (default: /etc/resolv.conf)."
        ),
    ] = None,
    timeout: Annotated[
        str | None, typer.Option(metavar="S", help="Seconds for the whole query [5].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on one line.")] = False,
) -> None:
    """Ask SERVER for NAME and print the response code, the answers and the query time.

    Exit status: 0 the answer is as expected, 1 it is not (or none came), 2 bad input.
    """
    raw: dict[str, Any] = {"name": name, "type": rtype, "tcp": tcp, "tls": tls}
    raw.update(expect=tuple(expect or ()), expect_rcode=expect_rcode)
    optional = {"port": port, "timeout": timeout, "expect_regex": expect_regex}
    optional.update(tls_server_name=tls_name, tls_ca_file=tls_ca, resolv_conf=resolv_conf)
    raw.update({key: value for key, value in optional.items() if value is not None})
    if server == SYSTEM:
        raw["server"] = SYSTEM
    elif not _plausible_server(server):
        _fail(f"invalid SERVER {server!r}: neither an IP address, a host name nor 'system'")
    params = _params(raw)
    result = asyncio.run(_probe(Target(server, server), params))
    typer.echo(_render_json(server, params, result) if as_json else _render_text(result))
    raise typer.Exit(EXIT_OK if result.status is ProbeStatus.OK else EXIT_FAILED)


def _plausible_server(server: str) -> bool:
    """An IP address or a syntactically valid host name (checked before any lookup)."""
    try:
        ipaddress.ip_address(server)
    except ValueError:
        return _HOST_NAME.fullmatch(server) is not None
    return True


def _params(raw: dict[str, Any]) -> DnsParams:
    """DnsParams from the arguments; the first problem exits 2 with a one-line message."""
    from netgauge.probes.dns import DnsParams  # dnspython loads here, not at CLI start

    try:
        return DnsParams.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        if not key:  # a rule across fields (--tcp with --tls)
            _fail(message.replace("tcp and tls", "--tcp and --tls"))
        _fail(f"invalid {_FLAGS.get(key, '--' + key)} {raw.get(key)!r}: {message}")


async def _probe(target: Target, params: DnsParams) -> ProbeResult:
    from netgauge.probes.dns import DnsProbe

    return await DnsProbe().run(target, params)


def _fail(message: str) -> NoReturn:
    fail("netgauge probe dns", message)


def _number(value: float | None) -> int | None:
    return None if value is None else int(value)


def _render_json(server: str, params: DnsParams, result: ProbeResult) -> str:
    """One compact JSON object: status, metrics (null when absent) and the answers."""
    metrics, details = result.metrics, result.details
    row: dict[str, Any] = {"server": details.get("server", server), "name": params.name}
    row.update(type=params.type, status=result.status.value)
    row.update(query_ms=metrics.get("query_ms"), rcode=_number(metrics.get("rcode")))
    row.update(rcode_name=details.get("rcode"), answers=list(details.get("answers", [])))
    row.update(answer_count=_number(metrics.get("answers")), ttl_s=_number(metrics.get("ttl_s")))
    row.update(match=_number(metrics.get("match")), truncated=_number(metrics.get("truncated")))
    row.update(tcp_fallback=_number(metrics.get("tcp_fallback")))
    row.update(transport=details.get("transport"), error=result.error)
    return json.dumps(row, separators=(",", ":"))


def _render_text(result: ProbeResult) -> str:
    """A dig-like summary: one header line, one line per answer, the error if any."""
    metrics, details = result.metrics, result.details
    query_ms = metrics.get("query_ms")
    timing = "no response" if query_ms is None else f"{query_ms:.3f} ms"
    header = (
        f"{details.get('qname')} {details.get('qtype')} @{details.get('server', '-')}: "
        f"{details.get('rcode', '-')}, {timing} over {details.get('transport')}"
    )
    if metrics.get("truncated"):
        header += " (UDP reply truncated)"
    lines = [header, *(f"  {answer}" for answer in details.get("answers", []))]
    if "match" in metrics:
        lines.append(f"match: {'yes' if metrics['match'] else 'no'}")
    if result.error:
        lines.append(f"error: {result.error}")
    return "\n".join(lines)
