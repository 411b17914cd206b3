"""``netgauge probe icmp``: a one-shot ping of many targets, printed like fping's summary."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from netgauge.cli.app import OneLineUsageErrors, fail, probe_app
from netgauge.errors import ProbeSetupError, TargetResolutionError
from netgauge.models import ProbeResult, ProbeStatus, Target
from netgauge.probes.icmp import IcmpParams, IcmpProbe, resolve_targets
from netgauge.probes.icmp_stats import DETAIL_RTTS

EXIT_ALL_ANSWERED = 0
EXIT_SOME_SILENT = 1

# Parameter name -> the flag the user typed, so validation errors speak the CLI's language.
_FLAGS = {
    "count": "--count",
    "interval": "--interval",
    "timeout": "--timeout",
    "pace_ms": "--pace",
    "size": "--size",
    "ttl": "--ttl",
    "tos": "--tos",
    "source": "--source",
}
_RTT_COLUMNS = ("rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "rtt_mdev_ms", "jitter_ms")
# Only in --json (the table stays as narrow as fping's summary).
_JSON_ONLY = ("rtt_median_ms", "rtt_p50_ms", "rtt_p90_ms", "rtt_p95_ms", "rtt_p99_ms")
_METRIC_COLUMNS = _RTT_COLUMNS + _JSON_ONLY
_HEADER = ("target", "address", "sent", "recv", "loss%", "min", "avg", "max", "mdev", "jitter")


@probe_app.command("icmp", cls=OneLineUsageErrors)
def icmp_command(
    targets: Annotated[
        list[str], typer.Argument(metavar="TARGET...", help="IP addresses or host names.")
    ],
    # Numbers are taken as text and validated by IcmpParams so that every bad value gets
    # the same one-line error and exit code 2 (instead of click's multi-line usage box).
    count: Annotated[
        str | None, typer.Option("--count", "-c", metavar="N", help="Packets per target [5].")
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(metavar="S", help="Seconds between packets to one target [1.0]."),
    ] = None,
    timeout: Annotated[
        str | None, typer.Option(metavar="S", help="Seconds to wait for each reply [1.0].")
    ] = None,
    pace: Annotated[
        str | None,
        typer.Option(
            metavar="MS", help="Milliseconds between packets to different targets; 0 = max [10]."
        ),
    ] = None,
    size: Annotated[str | None, typer.Option(metavar="BYTES", help="Payload bytes [56].")] = None,
    ttl: Annotated[
        str | None, typer.Option(metavar="N", help="IP TTL / hop limit [system default].")
    ] = None,
    tos: Annotated[
        str | None,
        typer.Option(metavar="N", help="IP TOS / traffic class; DSCP << 2 (EF = 184) [0]."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", "-S", metavar="ADDR", help="Local address to send from."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per target per line.")
    ] = False,
) -> None:
    """Ping TARGETs and print sent, received, loss and RTT min/avg/max/mdev and jitter.

    Exit status: 0 all answered, 1 some did not, 2 bad input or no ICMP socket permitted.
    """
    raw: dict[str, str | None] = {
        "count": count,
        "interval": interval,
        "timeout": timeout,
        "pace_ms": pace,
    }
    raw.update({"size": size, "ttl": ttl, "tos": tos, "source": source})
    params = _params({name: value for name, value in raw.items() if value is not None})
    try:
        resolved, results = asyncio.run(_probe(targets, params))
    except (TargetResolutionError, ProbeSetupError) as exc:
        _fail(str(exc))
    typer.echo(_render_json(resolved, results) if as_json else _render_table(resolved, results))
    all_up = all(result.status is ProbeStatus.OK for result in results)
    raise typer.Exit(EXIT_ALL_ANSWERED if all_up else EXIT_SOME_SILENT)


def _params(raw: dict[str, str]) -> IcmpParams:
    """IcmpParams from the flags' text; the first problem exits 2 with a one-line message."""
    try:
        return IcmpParams.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        _fail(f"invalid {_FLAGS.get(name, name)} {raw.get(name)!r}: {first['msg']}")


async def _probe(
    names: Sequence[str], params: IcmpParams
) -> tuple[list[Target], list[ProbeResult]]:
    """Resolve every name first (nothing is sent if one is bad), then probe them all."""
    resolved = await resolve_targets(names)
    return resolved, await IcmpProbe().run_batch(resolved, params)


def _fail(message: str) -> NoReturn:
    fail("netgauge probe icmp", message)


# Rows are written by hand, one string per row: at 10,000 targets, building a dict and
# running the generic encoder on it was a third of the round. The pieces are those of
# ``json.dumps(row, separators=(",", ":"))`` (same key order, string escaping, float
# repr), checked against it in tests/unit/probes/test_icmp_json.py.
_JSON_VALUE = json.JSONEncoder(separators=(",", ":")).encode
_JSON_STR = json.encoder.encode_basestring_ascii
_METRIC_KEYS = tuple((f',"{name}":', name) for name in _METRIC_COLUMNS)


def _json_number(value: object) -> str:
    """``value`` as json.dumps writes it; the common finite float without the encoder."""
    if value is None:
        return "null"
    if type(value) is float and value - value == 0.0:  # finite (inf - inf and nan are nan)
        return float.__repr__(value)
    return _JSON_VALUE(value)


def _json_metrics(metrics: Mapping[str, float | None]) -> list[str]:
    """``,"name":value`` of each metric column, each value object formatted once: one reply
    makes min, avg, max and every percentile the same float object. (By identity, not
    equality: 0.0 == -0.0 but they are written differently.)"""
    texts: dict[int, str] = {}
    parts = []
    for key, name in _METRIC_KEYS:
        value = metrics.get(name)
        text = texts.get(id(value))
        if text is None:
            text = texts[id(value)] = _json_number(value)
        parts.append(key + text)
    return parts


def _json_line(target: Target, result: ProbeResult) -> str:
    """One target's compact JSON object (keys in the documented order)."""
    metrics = result.metrics
    get = metrics.get
    rtts = result.details.get(DETAIL_RTTS, ())
    error = result.error
    return "".join(
        [
            '{"target":',
            _JSON_STR(target.name),
            ',"address":',
            _JSON_STR(target.address),
            ',"status":',
            _JSON_STR(result.status.value),
            f',"sent":{int(get("sent") or 0)},"received":{int(get("received") or 0)}',
            ',"loss_pct":',
            _json_number(get("loss_pct")),
            *_json_metrics(metrics),
            ',"rtts_ms":[',
            ",".join([_json_number(rtt) for rtt in rtts]),
            '],"error":',
            "null" if error is None else _JSON_STR(error),
            "}",
        ]
    )


def _render_json(targets: Sequence[Target], results: Sequence[ProbeResult]) -> str:
    """One compact JSON object per target per line (null where there was no reply)."""
    return "\n".join([_json_line(t, r) for t, r in zip(targets, results, strict=True)])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _row_text(target: Target, result: ProbeResult) -> tuple[str, ...]:
    metrics = result.metrics
    loss = metrics.get("loss_pct")
    return (
        target.name,
        target.address,
        str(int(metrics.get("sent") or 0)),
        str(int(metrics.get("received") or 0)),
        "-" if loss is None else f"{loss:.1f}%",
        *(_ms(metrics.get(name)) for name in _RTT_COLUMNS),
    )


def _render_table(targets: Sequence[Target], results: Sequence[ProbeResult]) -> str:
    """An aligned plain-text table (RTTs in ms), with failed targets' errors below it."""
    rows = [_HEADER, *(_row_text(t, r) for t, r in zip(targets, results, strict=True))]
    widths = [max(len(row[col]) for row in rows) for col in range(len(_HEADER))]
    lines = [
        "  ".join(
            cell.ljust(width) if col < 2 else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines[0] += "   (rtt in ms)"
    errors = [f"{t.name}: {r.error}" for t, r in zip(targets, results, strict=True) if r.error]
    return "\n".join(lines + ([""] + errors if errors else []))
