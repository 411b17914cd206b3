"""``netgauge probe http`` and ``netgauge probe tcp``: one-shot checks printed as a table.

httpx is imported by the probe when it runs, so ``netgauge probe icmp`` does not pay for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel, ValidationError

from netgauge.cli.app import OneLineUsageErrors, fail, probe_app
from netgauge.models import ProbeResult, ProbeStatus, Target

EXIT_ALL_OK = 0
EXIT_SOME_FAILED = 1

_HTTP_FLAGS = {
    "timeout": "--timeout",
    "expect_status": "--expect-status",
    "match": "--match",
    "url": "URL",
    "ca_file": "--ca-file",
}
_TCP_FLAGS = {"timeout": "--timeout", "expect": "--expect", "port": "HOST:PORT"}
_HTTP_HEADER = ("target", "status", "code", "dns", "connect", "tls", "ttfb", "total", "days")
_HTTP_MS = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms")
_TCP_HEADER = ("target", "status", "connect", "banner")


def _fail(command: str, message: str) -> NoReturn:
    fail(command, message)


def _validate(
    command: str, model: type[BaseModel], raw: dict[str, Any], flags: dict[str, str]
) -> Any:
    """``model`` from the flags; the first problem exits 2 with a one-line message."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        shown = f" {raw.get(name)!r}" if name in raw else ""
        where = flags.get(name, name) or "input"
        message = str(first["msg"]).removeprefix("Value error, ")
        _fail(command, f"invalid {where}{shown}: {message}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], errors: Sequence[str]) -> str:
    """An aligned plain-text table; the first column left-aligned, the others right-aligned."""
    every = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(row[col]) for row in every) for col in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if col == 0 else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in every
    ]
    return "\n".join(lines + ([""] + list(errors) if errors else []))


def _emit(results: Sequence[ProbeResult], as_json: bool, render: Callable[..., str]) -> NoReturn:
    typer.echo(render(results, as_json))
    all_ok = all(result.status is ProbeStatus.OK for result in results)
    raise typer.Exit(EXIT_ALL_OK if all_ok else EXIT_SOME_FAILED)


def _errors(results: Sequence[ProbeResult]) -> list[str]:
    return [f"{result.target}: {result.error}" for result in results if result.error]


# --- http --------------------------------------------------------------------------------


@probe_app.command("http", cls=OneLineUsageErrors)
def http_command(
    urls: Annotated[list[str], typer.Argument(metavar="URL...", help="http:// or https:// URLs.")],
    timeout: Annotated[
        str | None, typer.Option(metavar="S", help="Seconds for each whole exchange [8].")
    ] = None,
    expect_status: Annotated[
        list[str] | None,
        typer.Option(
            "--expect-status",
            metavar="CODES",
            help="Accepted statuses: 200, 200-299, 2xx; repeat or comma-separate [200-399].",
        ),
    ] = None,
    match: Annotated[
        str | None, typer.Option(metavar="REGEX", help="Regex the body must contain.")
    ] = None,
    http2: Annotated[bool, typer.Option("--http2", help="Offer HTTP/2 (over TLS).")] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", "-k", help="Do not verify TLS certificates.")
    ] = False,
    ca_file: Annotated[
        str | None, typer.Option(metavar="PEM", help="Trust these CAs instead of the system's.")
    ] = None,
    no_follow: Annotated[
        bool, typer.Option("--no-follow", help="Report redirects instead of following them.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per URL per line.")] = (
        False
    ),
) -> None:
    """Fetch URLs and print status, phase times (ms), TLS days left and the HTTP version.

    Exit status: 0 all ok, 1 some failed or timed out, 2 bad input.
    """
    from netgauge.probes.http import HttpParams

    command = "netgauge probe http"
    raw: dict[str, Any] = {
        "http2": http2,
        "verify": not insecure,
        "follow_redirects": not no_follow,
        "follow_other_hosts": True,  # a user's own command follows as curl -L does
    }
    optional = {"timeout": timeout, "match": match, "ca_file": ca_file}
    raw.update({name: value for name, value in optional.items() if value is not None})
    if expect_status:
        raw["expect_status"] = [code for item in expect_status for code in item.split(",")]
    params = [_validate(command, HttpParams, {**raw, "url": url}, _HTTP_FLAGS) for url in urls]
    _emit(asyncio.run(_run_http(urls, params)), as_json, _render_http)


async def _run_http(urls: Sequence[str], params: Sequence[Any]) -> list[ProbeResult]:
    from netgauge.probes.http import HttpProbe

    probe = HttpProbe()
    return list(
        await asyncio.gather(
            *(probe.run(Target(url, url), p) for url, p in zip(urls, params, strict=True))
        )
    )


def _http_json(result: ProbeResult) -> dict[str, Any]:
    row: dict[str, Any] = {"target": result.target, "status": result.status.value}
    row.update(result.metrics)
    for name in ("http_version", "redirect_chain", "tls_version", "timeout_phase"):
        if name in result.details:
            row[name] = result.details[name]
    row["error"] = result.error
    return row


def _http_row(result: ProbeResult) -> tuple[str, ...]:
    metrics = result.metrics
    code, days = metrics.get("status_code"), metrics.get("tls_days_left")
    return (
        result.target,
        result.status.value,
        "-" if code is None else str(int(code)),
        *(_ms(metrics.get(name)) for name in _HTTP_MS),
        "-" if days is None else f"{days:.1f}",
    )


def _render_http(results: Sequence[ProbeResult], as_json: bool) -> str:
    if as_json:
        return "\n".join(json.dumps(_http_json(r), separators=(",", ":")) for r in results)
    table = _table(_HTTP_HEADER, [_http_row(r) for r in results], _errors(results))
    first, _, rest = table.partition("\n")
    return f"{first}   (ms; days = TLS certificate days left)\n{rest}"


# --- tcp ---------------------------------------------------------------------------------


def split_host_port(text: str) -> tuple[str, str]:
    """``host:port`` or ``[v6]:port`` as (host, port text); ValueError without a port."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
        if ":" in host:
            raise ValueError("IPv6 addresses need brackets: [::1]:22")
    if not sep or not host or not port:
        raise ValueError("expected HOST:PORT")
    return host, port


@probe_app.command("tcp", cls=OneLineUsageErrors)
def tcp_command(
    endpoints: Annotated[
        list[str], typer.Argument(metavar="HOST:PORT...", help="e.g. 127.0.0.1:22, [::1]:80.")
    ],
    timeout: Annotated[
        str | None, typer.Option(metavar="S", help="Seconds for the connect [3].")
    ] = None,
    expect: Annotated[
        str | None, typer.Option(metavar="REGEX", help="Regex the banner must match.")
    ] = None,
    send: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Text to send before reading the banner.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per endpoint per line.")
    ] = False,
) -> None:
    """Connect to HOST:PORTs and print the connect time, optionally checking the banner.

    Exit status: 0 all ok, 1 some failed or timed out, 2 bad input.
    """
    from netgauge.probes.tcp import TcpParams

    command = "netgauge probe tcp"
    raw: dict[str, Any] = {"timeout": timeout, "expect": expect, "send": send}
    raw = {name: value for name, value in raw.items() if value is not None}
    targets, params = [], []
    for endpoint in endpoints:
        try:
            host, port = split_host_port(endpoint)
        except ValueError as exc:
            _fail(command, f"invalid HOST:PORT {endpoint!r}: {exc}")
        targets.append(Target(endpoint, host))
        params.append(_validate(command, TcpParams, {**raw, "port": port}, _TCP_FLAGS))
    _emit(asyncio.run(_run_tcp(targets, params)), as_json, _render_tcp)


async def _run_tcp(targets: Sequence[Target], params: Sequence[Any]) -> list[ProbeResult]:
    from netgauge.probes.tcp import TcpProbe

    probe = TcpProbe()
    runs = (probe.run(t, p) for t, p in zip(targets, params, strict=True))
    return list(await asyncio.gather(*runs))


def _tcp_json(result: ProbeResult) -> dict[str, Any]:
    row: dict[str, Any] = {"target": result.target, "status": result.status.value}
    row.update(result.metrics)
    if "banner" in result.details:
        row["banner"] = result.details["banner"]
    row["error"] = result.error
    return row


def _tcp_row(result: ProbeResult) -> tuple[str, ...]:
    banner = str(result.details.get("banner", "-"))
    shown = banner if len(banner) <= 40 else banner[:37] + "..."
    return (result.target, result.status.value, _ms(result.metrics.get("connect_ms")), shown)


def _render_tcp(results: Sequence[ProbeResult], as_json: bool) -> str:
    if as_json:
        return "\n".join(json.dumps(_tcp_json(r), separators=(",", ":")) for r in results)
    table = _table(_TCP_HEADER, [_tcp_row(r) for r in results], _errors(results))
    first, _, rest = table.partition("\n")
    return f"{first}   (ms)\n{rest}"
