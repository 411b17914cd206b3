"""History brought from another tool: samples from CSV, Parquet or InfluxDB line protocol.

Each reader yields, per line (or row), a :class:`~netgauge.models.Sample` or the reason it
cannot be one; :func:`import_samples` writes the samples to the stores in batches and
counts the rest, so nothing is dropped without being said.

* **CSV** (netgauge's own export, or any with these columns): ``target`` (or ``device``,
  ``host``), ``metric``, ``value``, and ``ts_ns`` (integer nanoseconds) or ``time`` (ISO
  8601, UTC unless it says; or epoch seconds).
* **Parquet**: the same columns (``time`` may be a timestamp column).
* **Line protocol**: netgauge's own schema as it writes InfluxDB and VictoriaMetrics
  (``device_metrics,device_id=…,metric_name=… value=…`` and ``device_status … status=…``)
  is read back as it was; any other measurement (Telegraf's ``cpu,host=h usage_idle=93``)
  becomes ``<measurement>.<field>`` (just ``<measurement>`` for a field named ``value``),
  its target the tag ``host`` (or ``--target``), its other tags the series' labels.
  String and boolean fields are not samples: each is counted as refused, with its line.
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netgauge.config.base import NAME_PATTERN
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.series import series_name
from netgauge.storage.base import Sink

BATCH = 50_000
FUTURE_S = 3600  # a sample more than an hour ahead of this clock is a mistake, not history
PRECISION_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_NAME = re.compile(NAME_PATTERN)
_NETGAUGE = {"device_metrics": "value", "device_status": "status"}
Item = tuple[int, Sample | str]  # (line or row, the sample or why there is none)


@dataclass
class ImportResult:
    read: int = 0
    written: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # reason → count
    examples: list[tuple[int, str]] = field(default_factory=list)  # the first refusals
    targets: set[str] = field(default_factory=set)
    first_ns: int | None = None
    last_ns: int | None = None

    def as_json(self) -> dict[str, Any]:
        def when(ns: int | None) -> str | None:
            return None if ns is None else datetime.fromtimestamp(ns / 1e9, UTC).isoformat()

        return {
            "read": self.read,
            "written": self.written,
            "refused": sum(self.refused.values()),
            "refused_by_reason": dict(self.refused),
            "first_refusals": [{"line": n, "reason": r} for n, r in self.examples],
            "targets": sorted(self.targets),
            "from": when(self.first_ns),
            "to": when(self.last_ns),
        }


def sample(target: str, metric: str, value: Any, ts_ns: int) -> Sample | str:
    """A sample, or the reason in words (the checks every reader shares)."""
    if not _NAME.match(target or ""):
        return f"target {target!r}: must start with a letter or digit (letters, digits, _ . : -)"
    if not metric or len(metric) > 256 or "\n" in metric:
        return f"metric {metric!r}: empty, too long or with a line break"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"value {value!r}: not a number"
    if not math.isfinite(number):
        return f"value {value!r}: not a finite number"
    if ts_ns < 0 or ts_ns > (time.time() + FUTURE_S) * 1e9:
        return f"time {ts_ns}: before 1970 or in the future"
    if metric == "status":
        if number not in (0.0, 1.0):
            return f"status {number}: must be 1 (up) or 0 (down)"
        return Sample(DEVICE_STATUS, target, "status", number, ts_ns)
    return Sample(DEVICE_METRICS, target, metric, number, ts_ns)


def parse_time(text: str) -> int:
    """ISO 8601 (UTC unless it says) or epoch seconds → nanoseconds (ValueError in words)."""
    text = text.strip()
    try:
        return int(round(float(text) * 1e9))
    except ValueError:
        pass
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1_000


def _row_sample(row: dict[str, Any], default_target: str | None) -> Sample | str:
    target = row.get("target") or row.get("device") or row.get("host") or default_target
    if not target:
        return "no target: give a target column or --target"
    ts = row.get("ts_ns")
    try:
        if ts not in (None, ""):
            ts_ns = int(ts)
        elif isinstance(row.get("time"), datetime):
            moment = row["time"]
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            ts_ns = int(moment.timestamp() * 1e9)
        else:
            ts_ns = parse_time(str(row.get("time") or ""))
    except (ValueError, OverflowError):
        return f"time {row.get('time') or ts!r}: not a time (ISO 8601 or epoch seconds)"
    return sample(str(target), str(row.get("metric") or ""), row.get("value"), ts_ns)


def read_csv(path: Path, default_target: str | None = None) -> Iterator[Item]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        reader.fieldnames = [h.strip().lower() for h in reader.fieldnames or []]
        missing = {"metric", "value"} - set(reader.fieldnames)
        if missing or not {"time", "ts_ns"} & set(reader.fieldnames):
            raise ValueError(
                f"{path}: the header needs metric, value and time (or ts_ns) columns, "
                f"and target unless --target is given; it has {', '.join(reader.fieldnames)}"
            )
        for row in reader:
            yield reader.line_num, _row_sample(row, default_target)


def read_parquet(path: Path, default_target: str | None = None) -> Iterator[Item]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError("reading Parquet needs pyarrow: pip install 'netgauge[import]'") from None
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
        for row in batch.to_pylist():
            number += 1
            yield number, _row_sample({str(k).lower(): v for k, v in row.items()}, default_target)


def read_line_protocol(
    path: Path,
    default_target: str | None = None,
    precision: str = "ns",
    target_tag: str = "host",
    escapes: int = 2,
) -> Iterator[Item]:
    """``escapes``: 2 reads a doubled backslash in a tag as one (InfluxDB 2.x, VictoriaMetrics,
    Telegraf: the parser leaves them doubled); 1 keeps them (InfluxDB 1.x, where a backslash
    is no escape of its own)."""
    from line_protocol_parser import LineFormatError, parse_line

    scale = PRECISION_NS[precision]
    now_ns = time.time_ns()
    with path.open(encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            try:
                point = parse_line(text)
            except LineFormatError as exc:
                yield number, f"not line protocol: {exc}"
                continue
            if escapes == 2:
                point["tags"] = {k: v.replace("\\\\", "\\") for k, v in point["tags"].items()}
            ts_ns = now_ns if point["time"] is None else int(point["time"]) * scale
            yield from ((number, s) for s in _points(point, ts_ns, default_target, target_tag))


def _points(
    point: dict[str, Any], ts_ns: int, default_target: str | None, target_tag: str
) -> Iterable[Sample | str]:
    measurement, tags, fields = point["measurement"], dict(point["tags"]), point["fields"]
    own = _NETGAUGE.get(measurement)
    if own is not None and "device_id" in tags:  # netgauge's own schema, read back as it was
        metric = "status" if measurement == "device_status" else tags.get("metric_name", "")
        yield sample(tags["device_id"], metric, fields.get(own), ts_ns)
        return
    target = tags.pop(target_tag, None) or default_target
    if not target:
        yield f"no {target_tag} tag and no --target"
        return
    for name, value in fields.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            yield f"field {name!r}: {type(value).__name__}, not a number"
            continue
        base = measurement if name == "value" else f"{measurement}.{name}"
        yield sample(target, series_name(base, tags), value, ts_ns)


async def import_samples(
    stores: Sequence[Sink], items: Iterable[Item], *, dry_run: bool = False
) -> ImportResult:
    """Write every sample (in batches, to every store); count and keep what is refused."""
    result = ImportResult()
    batch: list[Sample] = []
    for number, item in items:
        result.read += 1
        if isinstance(item, str):
            # counted by the kind of problem (a value's own text is in the examples)
            result.refused[item.split(":", 1)[0][:80]] += 1
            if len(result.examples) < 20:
                result.examples.append((number, item))
            continue
        batch.append(item)
        result.targets.add(item.device_id)
        result.first_ns = min(result.first_ns or item.ts_ns, item.ts_ns)
        result.last_ns = max(result.last_ns or item.ts_ns, item.ts_ns)
        if len(batch) >= BATCH:
            await _flush(stores, batch, dry_run, result)
            batch = []
    await _flush(stores, batch, dry_run, result)
    return result


async def _flush(
    stores: Sequence[Sink], batch: list[Sample], dry_run: bool, result: ImportResult
) -> None:
    """Write ``batch`` to every store; what the first (the embedded) store refuses is
    counted as refused, what another refuses as that store's."""
    if not batch:
        return
    refused = 0
    if not dry_run:
        for index, store in enumerate(stores):
            for refusal in await store.write(batch):
                where = "" if index == 0 else f"{store.name}: "
                result.refused[f"{where}{refusal.reason}"[:80]] += 1
                refused += index == 0
    result.written += len(batch) - refused


__all__ = [
    "ImportResult",
    "import_samples",
    "parse_time",
    "read_csv",
    "read_line_protocol",
    "read_parquet",
]
