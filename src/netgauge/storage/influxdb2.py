"""InfluxDB 2.x backend: a Sink over ``/api/v2/write`` and a Query in Flux over ``/api/v2/query``.

**Hand-written on httpx, not the official ``influxdb-client``** (1.50 is on PyPI):

* its asyncio API needs ``aiohttp`` and ``aiocsv`` (the ``async`` extra), a second HTTP stack
  beside the httpx netgauge already ships, with its own pools, timeouts and TLS settings;
* its batching, retries and back-off (``WriteApi``) would duplicate
  :class:`~netgauge.storage.writer.BatchWriter` and the disk spool, which wrap every store once;
  what is left, one POST per batch, is what this module does;
* its query parser turns ``dateTime`` columns into ``datetime`` objects, which hold
  microseconds: the spec's timestamps are nanoseconds, so the CSV would have to be read here
  anyway;
* its errors would have to be translated into netgauge's retryable/permanent split all the same.

Writing: the spec's schema in line protocol (:mod:`netgauge.storage.line_protocol`, shared with
the InfluxDB 1.x store), gzip-compressed, to ``/api/v2/write?org=&bucket=&precision=ns`` with
``Authorization: Token <token>``. The token never appears in a URL, ``repr`` or an error.

Errors: 204 is success. 400 (the body names the first malformed line; when InfluxDB gives its
number, the line itself is added to the message), 401/403 (the token is refused or may not
write here), 404 (no such org or bucket), 413, 422 and the other 4xx raise
:class:`PermanentStorageError`; 408, 429, 5xx (503 included), connection errors and timeouts
raise :class:`RetryableStorageError` (with ``Retry-After`` in the message when given).

Reading: Flux, ``POST /api/v2/query?org=`` with ``Accept: application/csv``. The body is JSON
(``{"query": ..., "dialect": ...}``), not ``application/vnd.flux``: a bare Flux body gets CSV
*without* annotations (the server's default dialect has none), and the annotations are what
carry the column types and the ``#default`` row, where InfluxDB puts each result's name rather
than repeating it in every row. The answer is read with :mod:`csv`: several results (one per
``yield``), several tables each, a new ``#datatype``/``#group``/``#default`` block and header
wherever the schema changes, and an ``error``/``reference`` table when the query fails after the
answer has started.

* ``points()`` raw: ``range |> filter |> keep(_time, _value)``, sorted here; ``"status"`` is the
  ``device_status`` series, any other name a ``device_metrics`` one;
* ``points()`` with a step: ``window(every: step, offset: start mod step)``, so windows start at
  ``start`` as the embedded store's buckets do (the range cuts the last one at ``end``), then
  ``count``, ``min``, ``max`` and, for avg, ``sum`` (avg is ``sum / count``, as the embedded
  store computes it), each yielded under its own name in one query;
* ``points()`` with ``agg="p95"``: from the raw samples, bucketed here. Flux's
  ``quantile(q: 0.95, method: "exact_selector")`` picks the value of rank ``ceil(0.95 n)``
  (``getQuantileIndex`` in Flux's universe package), while the embedded store and InfluxQL's
  ``percentile()`` take rank ``floor(0.95 n + 0.5)``: they differ whenever ``n mod 20`` is 11 to
  19 (a 15-minute step of one-minute samples, for one). So p95 reads transfer the samples of the
  range;
* ``latest()`` and ``series()``: ``last()`` of each series over InfluxDB's whole time range;
* ``rounds()``: the ``metric_name =~ /^<kind>\\./`` series of one device, grouped here by time.

What the tests show and what they do not: the write path runs against a real server
(VictoriaMetrics' ``/api/v2/write``, read back and compared with the embedded store). No
InfluxDB 2 could be run here, so the Flux reads are checked against a stub that compares the
query text and answers in the documented CSV shape, and the query texts against Flux's own
parser; these points rest on InfluxDB's documentation and source, not on a run: that
``window(offset:)`` windows start at ``start`` and the range cuts the last at ``end``, that
each ``data()`` call is a pipeline of its own, that ``keep()`` ignores a column a table lacks,
and that ``range()`` takes InfluxDB's whole time span.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import json
import re
import time
from collections.abc import Sequence
from typing import Any

import httpx

from netgauge.errors import PermanentStorageError, RetryableStorageError, StorageError
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.base import Aggregation, LatestValue, Point, Refusal, SinkHealth
from netgauge.storage.embedded.summary import bucketed
from netgauge.storage.line_protocol import FIELD, STATUS_METRIC, encode, escape_tag_v2

NS_PER_S = 1_000_000_000
MIN_TIME_NS = -(2**63) + 2  # InfluxDB's earliest and latest valid timestamps
MAX_TIME_NS = 2**63 - 2
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DIALECT = {
    "header": True,
    "delimiter": ",",
    "annotations": ["datatype", "group", "default"],
    "commentPrefix": "#",
    "dateTimeFormat": "RFC3339Nano",
}
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
_REGEX_SPECIALS = set("\\.+*?()|[]{}^$#&-~/")  # what Flux's regex literals accept escaped
_RETRYABLE = {408, 429}
_WHY = {
    401: "the token was refused (missing, wrong, or without permission here)",
    403: "the token may not do this",
    404: "no such org or bucket",
    413: "the batch is too large for the server",
}


# -- Flux literals -----------------------------------------------------------------------------
def flux_string(text: str) -> str:
    """A Flux string literal: backslash, quote, line breaks and ``${`` escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def flux_time(ts_ns: int) -> str:
    """A Flux time literal of ``ts_ns`` (RFC 3339, UTC, all nine decimals when not whole)."""
    seconds, nanos = divmod(max(MIN_TIME_NS, min(MAX_TIME_NS, ts_ns)), NS_PER_S)
    stamp = (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z" if nanos else f"{stamp}Z"


def flux_regex_prefix(prefix: str) -> str:
    """A Flux regex literal matching strings that start with ``prefix`` literally."""
    escaped = "".join(f"\\{c}" if c in _REGEX_SPECIALS else c for c in prefix)
    return "/^" + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "/"


def parse_time_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp (any number of decimals)."""
    found = _RFC3339.match(text)
    if found is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    base, fraction, zone = found.groups()
    seconds = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))  # any year, UTC
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * NS_PER_S + int((fraction or "").ljust(9, "0"))


# -- Flux queries (module functions: the tests compare their exact text) -----------------------
def _source(bucket: str, start_ns: int, end_ns: int, predicate: str) -> str:
    return (
        f"from(bucket: {flux_string(bucket)})\n"
        f"  |> range(start: {flux_time(start_ns)}, stop: {flux_time(end_ns)})\n"
        f"  |> filter(fn: (r) => {predicate})"
    )


def series_predicate(device_id: str, metric_name: str) -> str:
    """The Flux filter of one series (``"status"``: the device's ``device_status`` series)."""
    if metric_name == STATUS_METRIC:
        return (
            f'r._measurement == "{DEVICE_STATUS}" and r._field == "{FIELD[DEVICE_STATUS]}" '
            f"and r.device_id == {flux_string(device_id)}"
        )
    return (
        f'r._measurement == "{DEVICE_METRICS}" and r._field == "{FIELD[DEVICE_METRICS]}" '
        f"and r.device_id == {flux_string(device_id)} "
        f"and r.metric_name == {flux_string(metric_name)}"
    )


def raw_query(bucket: str, device_id: str, metric_name: str, start_ns: int, end_ns: int) -> str:
    """Every sample of one series in [start, end)."""
    source = _source(bucket, start_ns, end_ns, series_predicate(device_id, metric_name))
    return f'{source}\n  |> keep(columns: ["_time", "_value"])\n'


def stepped_query(
    bucket: str,
    device_id: str,
    metric_name: str,
    start_ns: int,
    end_ns: int,
    step_ns: int,
    stats: Sequence[str],
) -> str:
    """Per window of ``step_ns`` from ``start_ns``, one yield per statistic (count, min, ...)."""
    source = _source(bucket, start_ns, end_ns, series_predicate(device_id, metric_name))
    windows = f"  |> window(every: {step_ns}ns, offset: {start_ns % step_ns}ns)"
    yields = "".join(f'data() |> {stat}() |> yield(name: "{stat}")\n' for stat in stats)
    return f"data = () => {source}\n{windows}\n\n{yields}"


def latest_query(bucket: str, measurement: str, device_id: str | None) -> str:
    """The newest sample of every series of ``measurement`` (of one device)."""
    predicate = f'r._measurement == "{measurement}" and r._field == "{FIELD[measurement]}"'
    if device_id is not None:
        predicate += f" and r.device_id == {flux_string(device_id)}"
    columns = '"_time", "_value", "device_id"'
    if measurement == DEVICE_METRICS:
        columns += ', "metric_name"'
    source = _source(bucket, MIN_TIME_NS, MAX_TIME_NS, predicate)
    return f"{source}\n  |> last()\n  |> keep(columns: [{columns}])\n"


def series_query(bucket: str, device_id: str | None) -> str:
    """One row per series of either measurement (of one device)."""
    predicate = (
        f'((r._measurement == "{DEVICE_METRICS}" and r._field == "{FIELD[DEVICE_METRICS]}") '
        f'or (r._measurement == "{DEVICE_STATUS}" and r._field == "{FIELD[DEVICE_STATUS]}"))'
    )
    if device_id is not None:
        predicate += f" and r.device_id == {flux_string(device_id)}"
    source = _source(bucket, MIN_TIME_NS, MAX_TIME_NS, predicate)
    columns = '"_measurement", "device_id", "metric_name"'
    return f"{source}\n  |> last()\n  |> keep(columns: [{columns}])\n"


def rounds_query(bucket: str, device_id: str, kind: str, start_ns: int, end_ns: int) -> str:
    """Every ``<kind>.*`` sample of one device in [start, end)."""
    predicate = (
        f'r._measurement == "{DEVICE_METRICS}" and r._field == "{FIELD[DEVICE_METRICS]}" '
        f"and r.device_id == {flux_string(device_id)} "
        f"and r.metric_name =~ {flux_regex_prefix(kind + '.')}"
    )
    source = _source(bucket, start_ns, end_ns, predicate)
    return f'{source}\n  |> keep(columns: ["_time", "_value", "metric_name"])\n'


# -- annotated CSV -----------------------------------------------------------------------------
def _typed(text: str, datatype: str) -> Any:
    if datatype == "double":
        return float(text)  # "+Inf", "-Inf" and "NaN" included
    if datatype in ("long", "unsignedLong"):
        return int(text)
    if datatype == "boolean":
        return text == "true"
    if datatype.startswith("dateTime"):
        return parse_time_ns(text)
    return text


def parse_annotated_csv(text: str) -> list[dict[str, Any]]:
    """Every row of every table of every result, as {column: value} (typed by ``#datatype``;
    an empty cell takes the ``#default`` of its column, or None). An ``error`` table raises
    :class:`PermanentStorageError` with its message."""
    rows: list[dict[str, Any]] = []
    header: list[str] | None = None
    annotations: dict[str, list[str]] = {}
    for record in csv.reader(io.StringIO(text, newline="")):
        if not record:  # an empty line: a new block of annotations and a header follow
            header, annotations = None, {}
        elif record[0].startswith("#"):
            if header is not None:
                header, annotations = None, {}
            annotations[record[0]] = record
        elif header is None:
            header = record
        elif header[1:2] == ["error"]:
            raise PermanentStorageError(f"influxdb2 query failed: {record[1]}")
        else:
            rows.append(_row(header, annotations, record))
    if header is not None and header[1:2] == ["error"]:
        raise PermanentStorageError("influxdb2 query failed (no message)")
    return rows


def _row(header: list[str], annotations: dict[str, list[str]], record: list[str]) -> dict[str, Any]:
    if len(record) != len(header):
        raise RetryableStorageError(f"influxdb2: unreadable CSV row {record!r} for {header!r}")
    types = annotations.get("#datatype") or ["string"] * len(header)
    defaults = annotations.get("#default") or [""] * len(header)
    row: dict[str, Any] = {}
    for name, cell, datatype, default in zip(header, record, types, defaults, strict=True):
        if name:  # the first column holds annotation names only
            value = cell or default
            row[name] = _typed(value, datatype) if value else None
    return row


def _ns(value: Any) -> int:
    return value if isinstance(value, int) else parse_time_ns(str(value))


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:2000]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return resp.text.strip()[:2000]


class InfluxV2Store:
    """InfluxDB 2.x over HTTP (v2 API, token auth): a Sink and a Query (Flux)."""

    name = "influxdb2"

    def __init__(
        self,
        url: str,
        *,
        org: str,
        bucket: str,
        token: str | None,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.org = org
        self.bucket = bucket
        headers = {"Authorization": f"Token {token}"} if token else {}
        self._client = client or httpx.AsyncClient(base_url=self.url, timeout=timeout_s)
        self._client.headers.update(headers)
        self.samples_written = 0
        self.last_write_ns: int | None = None
        self._last_error: str | None = None

    def __repr__(self) -> str:  # never shows the token
        return f"InfluxV2Store({self.url!r}, org={self.org!r}, bucket={self.bucket!r})"

    # -- HTTP --------------------------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await self._client.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise RetryableStorageError(f"influxdb2 at {self.url}: timed out ({exc})") from exc
        except httpx.TransportError as exc:
            raise RetryableStorageError(
                f"influxdb2 at {self.url}: {exc or type(exc).__name__}"
            ) from exc

    def _check(self, resp: httpx.Response, what: str, lines: Sequence[str] = ()) -> None:
        status = resp.status_code
        if 200 <= status < 300:
            return
        message = f"influxdb2 {what} refused ({status}): {_error_text(resp)}"
        if status in _WHY:
            message += f" [{_WHY[status]}: org {self.org!r}, bucket {self.bucket!r}]"
        if status == 400 and lines:
            message += _offending_line(resp, lines)
        if resp.headers.get("Retry-After"):
            message += f" (retry after {resp.headers['Retry-After']} s)"
        if status >= 500 or status in _RETRYABLE:
            raise RetryableStorageError(message)
        raise PermanentStorageError(message)

    async def _flux(self, query: str) -> list[dict[str, Any]]:
        """Run one Flux query: the rows of its answer."""
        body = json.dumps({"query": query, "type": "flux", "dialect": _DIALECT}).encode()
        resp = await self._request(
            "POST",
            "/api/v2/query",
            params={"org": self.org},
            content=body,
            headers={"Accept": "application/csv", "Content-Type": "application/json"},
        )
        self._check(resp, "query")
        return parse_annotated_csv(resp.text)

    # -- Sink --------------------------------------------------------------------------------
    async def write(self, batch: Sequence[Sample]) -> list[Refusal]:
        """POST ``batch`` as gzip-compressed line protocol to ``/api/v2/write`` (ns
        precision; 2.x reads doubled backslashes, so only a line break is refused)."""
        encoded = encode(batch, escape_tag_v2)
        if not encoded.lines:
            return encoded.refused
        try:
            resp = await self._request(
                "POST",
                "/api/v2/write",
                params={"org": self.org, "bucket": self.bucket, "precision": "ns"},
                content=encoded.body,
                headers={
                    "Content-Encoding": "gzip",
                    "Content-Type": "text/plain; charset=utf-8",
                    "Accept": "application/json",
                },
            )
            self._check(resp, "write", encoded.lines)
        except StorageError as exc:
            self._last_error = str(exc)
            raise
        self.samples_written += len(encoded.lines)
        self.last_write_ns = encoded.newest_ns
        self._last_error = None
        return encoded.refused

    async def health(self) -> SinkHealth:
        """Reachable when ``/health`` answers 200 (status ``pass``); counters of this process."""
        error = self._last_error
        try:
            resp = await self._request("GET", "/health")
            reachable = resp.status_code == 200 and _health_status(resp) in ("pass", None)
            if not reachable:
                error = f"influxdb2 /health answered {resp.status_code}: {_error_text(resp)}"
        except RetryableStorageError as exc:
            reachable, error = False, str(exc)
        return SinkHealth(self.name, reachable, self.samples_written, self.last_write_ns, error)

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    # -- Query -------------------------------------------------------------------------------
    async def points(
        self,
        device_id: str,
        metric_name: str,
        start_ns: int,
        end_ns: int,
        step_s: float | None = None,
        agg: Aggregation = "avg",
    ) -> list[Point]:
        """Raw samples in [start, end), or per-step buckets starting at ``start_ns``."""
        start_ns, end_ns = max(start_ns, MIN_TIME_NS), min(end_ns, MAX_TIME_NS)
        if end_ns <= start_ns:
            return []  # Flux refuses an empty range
        if step_s is None or agg == "p95":
            query = raw_query(self.bucket, device_id, metric_name, start_ns, end_ns)
            raw = sorted((_ns(r["_time"]), float(r["_value"])) for r in await self._flux(query))
            if step_s is None:
                return [Point(ts, v, v, v, 1) for ts, v in raw]
            return _bucketed(raw, start_ns, max(1, int(step_s * 1e9)), agg)
        step_ns = max(1, int(step_s * 1e9))
        stats = ["count", "min", "max"] + (["sum"] if agg == "avg" else [])
        query = stepped_query(self.bucket, device_id, metric_name, start_ns, end_ns, step_ns, stats)
        by_stat: dict[str, dict[int, float]] = {stat: {} for stat in stats}
        for row in await self._flux(query):
            by_stat[str(row["result"])][_ns(row["_start"])] = float(row["_value"])
        points = []
        for b, count in sorted(by_stat["count"].items()):
            lo, hi = by_stat["min"][b], by_stat["max"][b]
            value = {"min": lo, "max": hi, "count": count}.get(agg)
            if value is None:  # avg, as the embedded store: sum / count
                value = by_stat["sum"][b] / count
            points.append(Point(b, value, lo, hi, int(count)))
        return points

    async def latest(self, measurement: str, device_id: str | None = None) -> list[LatestValue]:
        """Newest value per series of ``measurement`` (``last()`` of each series)."""
        if measurement not in FIELD:
            return []
        found = [
            LatestValue(
                str(row["device_id"]),
                str(row.get("metric_name") or STATUS_METRIC),
                _ns(row["_time"]),
                float(row["_value"]),
            )
            for row in await self._flux(latest_query(self.bucket, measurement, device_id))
            if row.get("device_id") is not None
        ]
        return sorted(found, key=lambda v: (v.device_id, v.metric_name))

    async def series(self, device_id: str | None = None) -> list[tuple[str, str, str]]:
        """Every known series, optionally of one device."""
        found: set[tuple[str, str, str]] = set()
        for row in await self._flux(series_query(self.bucket, device_id)):
            measurement, device, metric = (
                row.get("_measurement"),
                row.get("device_id"),
                row.get("metric_name"),
            )
            if device is None or (measurement == DEVICE_METRICS and metric is None):
                continue
            metric = STATUS_METRIC if measurement == DEVICE_STATUS else metric
            found.add((str(measurement), str(device), str(metric)))
        return sorted(found, key=lambda t: (t[1], t[2], t[0]))

    async def rounds(
        self, device_id: str, kind: str, start_ns: int, end_ns: int, limit: int
    ) -> list[tuple[int, dict[str, float]]]:
        """Per timestamp, the ``<kind>.*`` metrics of one device: the newest ``limit`` rounds."""
        start_ns, end_ns = max(start_ns, MIN_TIME_NS), min(end_ns, MAX_TIME_NS)
        if end_ns <= start_ns or limit <= 0:
            return []
        query = rounds_query(self.bucket, device_id, kind, start_ns, end_ns)
        rows = sorted(
            (_ns(r["_time"]), str(r["metric_name"]), float(r["_value"]))
            for r in await self._flux(query)
        )
        grouped: dict[int, dict[str, float]] = {}
        for ts, name, value in rows:
            grouped.setdefault(ts, {})[name[len(kind) + 1 :]] = value
        return list(grouped.items())[-limit:]


def _bucketed(
    raw: list[tuple[int, float]], start_ns: int, step_ns: int, agg: Aggregation
) -> list[Point]:
    """Sorted samples as step buckets from ``start_ns``, summarised as the embedded store does."""
    return bucketed(raw, start_ns, step_ns, agg)


def _offending_line(resp: httpx.Response, lines: Sequence[str]) -> str:
    """`` (line N: <the line>)`` when InfluxDB's answer gives the line number."""
    try:
        number = resp.json().get("line")
    except (ValueError, AttributeError):
        return ""
    if isinstance(number, int) and 1 <= number <= len(lines):
        return f" (line {number}: {lines[number - 1]})"
    return ""


def _health_status(resp: httpx.Response) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return str(body.get("status")) if isinstance(body, dict) else None
