"""InfluxDB line protocol for netgauge's samples: the one encoder behind every store that uses it.

Schema (the spec's): measurement ``device_metrics`` with tags ``device_id``, ``metric_name``
and field ``value``; measurement ``device_status`` with tag ``device_id`` and field
``status`` (netgauge's ``Sample.metric_name`` is ``"status"`` there). Values are always
written as floats (``repr``: the shortest exact form) so a field never changes type;
timestamps are integer nanoseconds (``precision=ns``).

InfluxDB 1.x and 2.x use the same format, with the same rule for escaping. VictoriaMetrics
reads one more escape (a doubled backslash), so it passes its own tag escaper to
:func:`encode`.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence

from netgauge.errors import PermanentStorageError
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample

STATUS_METRIC = "status"  # Sample.metric_name of device_status; also its field name
FIELD = {DEVICE_METRICS: "value", DEVICE_STATUS: "status"}
_TAG_SPECIALS = (",", "=", " ")
_GZIP_LEVEL = 5  # most of level 9's gain on line protocol at a fraction of its CPU

TagEscaper = Callable[[str], str]


def refuse_line_break(text: str) -> None:
    """A tag value with a line break would end the line: :class:`PermanentStorageError`."""
    if "\n" in text or "\r" in text:
        raise PermanentStorageError(f"line protocol: tag value with a line break: {text!r}")


def escape_tag(text: str) -> str:
    """A tag value for InfluxDB: commas, equals signs and spaces backslash-escaped.

    InfluxDB (1.x and 2.x) has no escape for a backslash itself, so a value whose backslash
    comes right before one of those characters (or at its end) cannot round-trip, and a line
    break ends the line: both are refused here with :class:`PermanentStorageError`.
    """
    refuse_line_break(text)
    if text.endswith("\\") or any(f"\\{c}" in text for c in _TAG_SPECIALS):
        raise PermanentStorageError(
            f"line protocol: tag value {text!r} has a backslash InfluxDB cannot carry"
        )
    for char in _TAG_SPECIALS:
        text = text.replace(char, f"\\{char}")
    return text


def to_line(sample: Sample, escape: TagEscaper = escape_tag) -> str:
    """One sample as a line of line protocol (float field, ns timestamp)."""
    # repr() is the shortest exact form; InfluxDB refuses inf and nan (400, naming the line)
    field = f"{FIELD[sample.measurement]}={float(sample.value)!r}"
    tags = f"device_id={escape(sample.device_id)}"
    if sample.measurement == DEVICE_METRICS:
        tags += f",metric_name={escape(sample.metric_name)}"
    return f"{sample.measurement},{tags} {field} {sample.ts_ns}"


def encode(batch: Sequence[Sample], escape: TagEscaper = escape_tag) -> tuple[list[str], bytes]:
    """The lines of ``batch`` and the gzip-compressed request body holding them."""
    lines = [to_line(sample, escape) for sample in batch]
    body = ("\n".join(lines) + "\n").encode()
    return lines, gzip.compress(body, compresslevel=_GZIP_LEVEL)


def unescape_key_part(text: str) -> str:
    """Undo :func:`escape_tag` (series keys of SHOW SERIES use the same escaping)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _TAG_SPECIALS:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def split_series_key(key: str) -> tuple[str, dict[str, str]]:
    """``measurement,tag=value,...`` (escaped) → (measurement, {tag: value})."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(key):
        if key[i] == "\\" and i + 1 < len(key):
            current.append(key[i : i + 2])
            i += 2
            continue
        if key[i] == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(key[i])
        i += 1
    parts.append("".join(current))
    tags: dict[str, str] = {}
    for part in parts[1:]:
        j = 0
        while j < len(part) and part[j] != "=":
            j += 2 if part[j] == "\\" else 1
        tags[unescape_key_part(part[:j])] = unescape_key_part(part[j + 1 :])
    return unescape_key_part(parts[0]), tags
