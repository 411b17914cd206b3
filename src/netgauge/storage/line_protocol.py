"""InfluxDB line protocol for netgauge's samples: the one encoder behind every store that uses it.

Schema (the spec's): measurement ``device_metrics`` with tags ``device_id``, ``metric_name``
and field ``value``; measurement ``device_status`` with tag ``device_id`` and field
``status`` (netgauge's ``Sample.metric_name`` is ``"status"`` there). Values are always
written as floats (``repr``: the shortest exact form) so a field never changes type;
timestamps are integer nanoseconds (``precision=ns``). Measurement and field keys are these
fixed words, so only tag values (a device's name, a metric's name with its labels, such as
a Windows volume ``C:\\ Label:  Serial Number 1a2b``) need escaping, and their rules differ
by server:

* InfluxDB 1.x: commas, equals signs and spaces are backslash-escaped; a backslash is not
  an escape of its own (its scanner takes a separator as escaped when the byte before it is
  a backslash), so ``C:\\ Label`` is written ``C:\\\\ Label`` and read back byte for byte.
  The one value it cannot carry ends with a backslash (that backslash would escape the
  separator after it): :func:`escape_tag` refuses it.
* InfluxDB 2.x and VictoriaMetrics read a doubled backslash as one: :func:`escape_tag_v2`
  doubles every backslash first, and every value can be carried.
* No line protocol has an escape for a line break: a value with one is refused.

A refused value refuses its own sample only (:func:`encode` returns it with the reason):
the rest of the batch, other devices' samples included, is written.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netgauge.errors import PermanentStorageError
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.base import Refusal

STATUS_METRIC = "status"  # Sample.metric_name of device_status; also its field name
FIELD = {DEVICE_METRICS: "value", DEVICE_STATUS: "status"}
_TAG_SPECIALS = (",", "=", " ")
_GZIP_LEVEL = 5  # most of level 9's gain on line protocol at a fraction of its CPU

TagEscaper = Callable[[str], str]


# Why a sample is refused: the rule, never the value (refusals are counted by reason, and an
# agent sending a new odd value in every sample must not grow the counts without end; the
# first sample of each reason is logged whole).
LINE_BREAK = "line protocol: a tag value with a line break"
TRAILING_BACKSLASH = (
    "line protocol: a tag value ending in a backslash (InfluxDB 1.x cannot carry it)"
)


NOT_FINITE = "line protocol: a value that is not a finite number (inf or nan)"


def refuse_line_break(text: str) -> None:
    """A tag value with a line break would end the line: :class:`PermanentStorageError`."""
    if "\n" in text or "\r" in text:
        raise PermanentStorageError(LINE_BREAK)


def _escape_specials(text: str) -> str:
    for char in _TAG_SPECIALS:
        text = text.replace(char, f"\\{char}")
    return text


def escape_tag(text: str) -> str:
    """A tag value for InfluxDB 1.x (see the module docstring): commas, equals signs and
    spaces backslash-escaped; a trailing backslash or a line break is refused with
    :class:`PermanentStorageError`."""
    refuse_line_break(text)
    if text.endswith("\\"):
        raise PermanentStorageError(TRAILING_BACKSLASH)
    return _escape_specials(text)


def escape_tag_v2(text: str) -> str:
    """A tag value for InfluxDB 2.x and VictoriaMetrics: backslashes doubled, then commas,
    equals signs and spaces escaped; only a line break is refused."""
    refuse_line_break(text)
    return _escape_specials(text.replace("\\", "\\\\"))


def to_line(sample: Sample, escape: TagEscaper = escape_tag, *, finite_only: bool = False) -> str:
    """One sample as a line of line protocol (float field, ns timestamp); ``finite_only``:
    an infinite value is refused (InfluxDB 1.x cannot parse it, and drops such a line from a
    partial write without counting it; VictoriaMetrics stores it)."""
    # repr() is the shortest exact form
    value = float(sample.value)
    if finite_only and not math.isfinite(value):
        raise PermanentStorageError(NOT_FINITE)
    field = f"{FIELD[sample.measurement]}={value!r}"
    tags = f"device_id={escape(sample.device_id)}"
    if sample.measurement == DEVICE_METRICS:
        tags += f",metric_name={escape(sample.metric_name)}"
    return f"{sample.measurement},{tags} {field} {sample.ts_ns}"


@dataclass(frozen=True, slots=True)
class Encoded:
    """A batch as line protocol: its lines, the gzip-compressed request body holding them,
    and the samples that cannot be written, each with why (not in the body)."""

    lines: list[str]
    body: bytes
    refused: list[Refusal]
    newest_ns: int | None  # the newest timestamp among the lines


def encode(
    batch: Sequence[Sample], escape: TagEscaper = escape_tag, *, finite_only: bool = False
) -> Encoded:
    """The lines of ``batch`` but its unwritable samples, which are refused one by one."""
    lines: list[str] = []
    refused: list[Refusal] = []
    newest: int | None = None
    for sample in batch:
        try:
            lines.append(to_line(sample, escape, finite_only=finite_only))
        except PermanentStorageError as exc:
            refused.append(Refusal(sample, str(exc)))
            continue
        newest = sample.ts_ns if newest is None else max(newest, sample.ts_ns)
    body = ("\n".join(lines) + "\n").encode() if lines else b""
    return Encoded(lines, gzip.compress(body, compresslevel=_GZIP_LEVEL), refused, newest)


def unescape_key_part(text: str) -> str:
    """Undo :func:`escape_tag` (series keys of SHOW SERIES use the same escaping): a
    backslash before a comma, equals sign or space goes; every other one stays."""
    for char in _TAG_SPECIALS:
        text = text.replace(f"\\{char}", char)
    return text


def split_series_key(key: str) -> tuple[str, dict[str, str]]:
    """``measurement,tag=value,...`` (escaped) → (measurement, {tag: value}). A comma or an
    equals sign separates unless the byte before it is a backslash: InfluxDB 1.x's own rule,
    under which ``a\\\\,b`` is the value ``a\\,b``."""
    parts = _split_unescaped(key, ",")
    tags: dict[str, str] = {}
    for part in parts[1:]:
        name, value = _split_unescaped(part, "=", maxsplit=1)
        tags[unescape_key_part(name)] = unescape_key_part(value)
    return unescape_key_part(parts[0]), tags


def _split_unescaped(text: str, separator: str, maxsplit: int = -1) -> list[str]:
    parts: list[str] = []
    start = 0
    for i, char in enumerate(text):
        if char == separator and (i == 0 or text[i - 1] != "\\"):
            parts.append(text[start:i])
            start = i + 1
            if len(parts) == maxsplit:
                break
    parts.append(text[start:])
    return parts
