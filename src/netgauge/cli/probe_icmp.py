"""``netgauge probe icmp``: a one-shot ping of many targets, printed like fping's summary.

This command is timed against fping over 10,000 targets (bench/icmp.py), start-up
included, so it is kept off the heavy path: ``netgauge.cli.main`` runs :func:`main`
directly, without typer or pydantic (about 110 ms of imports on this command's path, as
long as fping's whole round). The arguments are parsed by argparse and the values checked
against the same limits as the job parameters (``icmp_options.LIMITS``). ``netgauge probe
--help`` still lists the command: ``cli/probe.py`` registers a pass-through on the typer app.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from netgauge.errors import ProbeSetupError, TargetResolutionError
from netgauge.models import ProbeResult, ProbeStatus, Target
from netgauge.probes.icmp_options import IcmpOptions, OptionError, options_from_text
from netgauge.probes.icmp_pinger import IcmpPinger
from netgauge.probes.icmp_resolve import resolve_targets
from netgauge.probes.icmp_stats import DETAIL_RTTS

PROG = "netgauge probe icmp"
SUMMARY = "Ping TARGETs and print sent, received, loss and RTT min/avg/max/mdev and jitter."
EXIT_ALL_ANSWERED = 0
EXIT_SOME_SILENT = 1
EXIT_BAD_INPUT = 2  # as every other command: bad input, a usage error, no ICMP socket

# (flags, option name, metavar, help). Values are taken as text and checked by
# options_from_text, so every bad value gets the same one-line error naming the flag.
_OPTIONS = (
    (("-c", "--count"), "count", "N", "Packets per target [5]."),
    (("--interval",), "interval", "S", "Seconds between packets to one target [1.0]."),
    (("--timeout",), "timeout", "S", "Seconds to wait for each reply [1.0]."),
    (("--pace",), "pace_ms", "MS", "Milliseconds between packets to other targets; 0 = max [10]."),
    (("--size",), "size", "BYTES", "Payload bytes [56]."),
    (("--ttl",), "ttl", "N", "IP TTL / hop limit [system default]."),
    (("--tos",), "tos", "N", "IP TOS / traffic class; DSCP << 2 (EF = 184) [0]."),
    (("-S", "--source"), "source", "ADDR", "Local address to send from."),
)
_FLAGS = {name: flags[-1] for flags, name, _metavar, _help in _OPTIONS}  # the long one
_RTT_COLUMNS = ("rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "rtt_mdev_ms", "jitter_ms")
# Only in --json (the table stays as narrow as fping's summary).
_JSON_ONLY = ("rtt_median_ms", "rtt_p50_ms", "rtt_p90_ms", "rtt_p95_ms", "rtt_p99_ms")
_METRIC_COLUMNS = _RTT_COLUMNS + _JSON_ONLY
_HEADER = ("target", "address", "sent", "recv", "loss%", "min", "avg", "max", "mdev", "jitter")


class _UsageError(Exception):
    """A usage error argparse found; raised instead of argparse's usage-and-exit."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def parser() -> argparse.ArgumentParser:
    """The command's argument parser (its ``--help`` is the command's help)."""
    result = _Parser(
        prog=PROG,
        description=SUMMARY,
        epilog="Exit status: 0 all answered, 1 some did not, 2 bad input or no ICMP socket.",
        allow_abbrev=False,
    )
    result.add_argument("targets", nargs="+", metavar="TARGET", help="IP addresses or host names.")
    for flags, name, metavar, text in _OPTIONS:
        result.add_argument(*flags, dest=name, metavar=metavar, help=text)
    result.add_argument(
        "--json", dest="as_json", action="store_true", help="One JSON object per target per line."
    )
    return result


def main(argv: Sequence[str]) -> int:
    """Run the command with ``argv`` (the words after ``probe icmp``); the exit status."""
    try:
        args = parser().parse_args(list(argv))
        options = _options(vars(args))
        resolved, results = asyncio.run(_probe(args.targets, options))
    except (_UsageError, TargetResolutionError, ProbeSetupError) as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return EXIT_BAD_INPUT
    text = _render_json(resolved, results) if args.as_json else _render_table(resolved, results)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    all_up = all(result.status is ProbeStatus.OK for result in results)
    return EXIT_ALL_ANSWERED if all_up else EXIT_SOME_SILENT


def _options(args: Mapping[str, object]) -> IcmpOptions:
    """IcmpOptions from the flags given; a bad value is a usage error naming its flag."""
    raw = {name: str(args[name]) for name in _FLAGS if args.get(name) is not None}
    try:
        return options_from_text(raw)
    except OptionError as exc:
        flag = _FLAGS.get(exc.name, exc.name)
        raise _UsageError(f"invalid {flag} {exc.value!r}: {exc.reason}") from None


async def _probe(
    names: Sequence[str], options: IcmpOptions
) -> tuple[list[Target], list[ProbeResult]]:
    """Resolve every name first (nothing is sent if one is bad), then probe them all."""
    resolved = await resolve_targets(names)
    return resolved, await IcmpPinger().run_batch(resolved, options, resolved=True)


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
