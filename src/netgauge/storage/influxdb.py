"""InfluxDB 1.x backend: a Sink and a Query over the v1 HTTP API (``/write``, ``/query``).

Hand-written on ``httpx.AsyncClient`` on purpose: the official ``influxdb-client`` library
targets the v2 API (its 1.x compatibility needs 1.8+ and v2-style buckets), and the older
``influxdb`` package's v1 client is synchronous. The v1 API is two endpoints and a text
format, so this module speaks it directly.

Schema (the spec's): measurement ``device_metrics`` with tags ``device_id``, ``metric_name``
and field ``value``; measurement ``device_status`` with tag ``device_id`` and field
``status`` (netgauge's ``Sample.metric_name`` is ``"status"`` there). Timestamps are
nanoseconds (``precision=ns`` on write, ``epoch=ns`` on read); values are always written as
floats so a field never changes type.

Errors: 204 is success; 400 (and other refusals of the data itself) raise
:class:`PermanentStorageError` carrying InfluxDB's text, which names the offending line;
5xx, 401/403/404/429, connection errors and timeouts raise :class:`RetryableStorageError`.
The optional user and password go in an HTTP Basic ``Authorization`` header (InfluxDB 1.x
takes it like the ``u``/``p`` query parameters), so they never appear in URLs, logs or
error messages.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from typing import Any

import httpx

from netgauge.errors import PermanentStorageError, RetryableStorageError, StorageError
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.base import Aggregation, LatestValue, Point, SinkHealth

STATUS_METRIC = "status"  # Sample.metric_name of device_status; also its field name
_FIELD = {DEVICE_METRICS: "value", DEVICE_STATUS: "status"}
_AGG_FN = {"avg": "mean", "min": "min", "max": "max", "count": "count"}
_TAG_SPECIALS = (",", "=", " ")
_REGEX_SPECIALS = set("\\.+*?()|[]{}^$/-#&~ ")


# -- line protocol -----------------------------------------------------------------------------
def escape_tag(text: str) -> str:
    """A tag value in line protocol: commas, equals signs and spaces backslash-escaped.

    InfluxDB 1.x has no escape for a backslash itself, so a value whose backslash comes right
    before one of those characters (or at its end) cannot round-trip, and a newline ends the
    line: both are refused here with :class:`PermanentStorageError`.
    """
    if "\n" in text or "\r" in text:
        raise PermanentStorageError(f"influxdb: tag value with a line break: {text!r}")
    if text.endswith("\\") or any(f"\\{c}" in text for c in _TAG_SPECIALS):
        raise PermanentStorageError(
            f"influxdb: tag value {text!r} has a backslash line protocol cannot carry"
        )
    for char in _TAG_SPECIALS:
        text = text.replace(char, f"\\{char}")
    return text


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


def to_line(sample: Sample) -> str:
    """One sample as a line of line protocol (float field, ns timestamp)."""
    # repr() is the shortest exact form; InfluxDB refuses inf (400, naming the line)
    field = f"{_FIELD[sample.measurement]}={float(sample.value)!r}"
    tags = f"device_id={escape_tag(sample.device_id)}"
    if sample.measurement == DEVICE_METRICS:
        tags += f",metric_name={escape_tag(sample.metric_name)}"
    return f"{sample.measurement},{tags} {field} {sample.ts_ns}"


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


# -- InfluxQL quoting --------------------------------------------------------------------------
def quote_string(text: str) -> str:
    """An InfluxQL string literal: single quotes, backslash and quote escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_ident(text: str) -> str:
    """An InfluxQL identifier: double quotes, backslash and quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def regex_prefix(prefix: str) -> str:
    """An InfluxQL regex literal matching strings that start with ``prefix`` literally."""
    body = "".join(f"\\{c}" if c in _REGEX_SPECIALS else c for c in prefix)
    return f"/^{body}/"


class InfluxV1Store:
    """InfluxDB 1.x over HTTP: a Sink and a Query; creates its database on first use."""

    name = "influxdb"

    def __init__(
        self,
        url: str,
        database: str = "netgauge",
        *,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        auth = httpx.BasicAuth(username, password or "") if username is not None else None
        self._client = client or httpx.AsyncClient(base_url=self.url, timeout=timeout_s, auth=auth)
        self._db_ready = False
        self.samples_written = 0
        self.last_write_ns: int | None = None
        self._last_error: str | None = None

    def __repr__(self) -> str:  # never shows credentials
        return f"InfluxV1Store({self.url!r}, {self.database!r})"

    # -- HTTP --------------------------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await self._client.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise RetryableStorageError(f"influxdb at {self.url}: timed out ({exc})") from exc
        except httpx.TransportError as exc:
            raise RetryableStorageError(
                f"influxdb at {self.url}: {exc or type(exc).__name__}"
            ) from exc

    def _check(self, resp: httpx.Response, what: str) -> None:
        if resp.status_code in (200, 204):
            return
        text = _error_text(resp)
        message = f"influxdb {what} refused ({resp.status_code}): {text}"
        if resp.status_code == 404 and "database not found" in text:
            self._db_ready = False
        if resp.status_code >= 500 or resp.status_code in (401, 403, 404, 408, 429):
            raise RetryableStorageError(message)
        raise PermanentStorageError(message)

    async def _ensure_db(self) -> None:
        if self._db_ready:
            return
        resp = await self._request(
            "POST", "/query", params={"q": f"CREATE DATABASE {quote_ident(self.database)}"}
        )
        self._check(resp, "CREATE DATABASE")
        _results(resp)  # raises on a statement error
        self._db_ready = True

    async def _query(self, influxql: str) -> list[dict[str, Any]]:
        """Run one InfluxQL statement: its series (name, tags, columns, values)."""
        await self._ensure_db()
        resp = await self._request(
            "GET", "/query", params={"db": self.database, "epoch": "ns", "q": influxql}
        )
        self._check(resp, "query")
        results = _results(resp)
        series: list[dict[str, Any]] = results[0].get("series", []) if results else []
        return series

    # -- Sink --------------------------------------------------------------------------------
    async def write(self, batch: Sequence[Sample]) -> None:
        """POST ``batch`` as gzip-compressed line protocol to ``/write`` (ns precision)."""
        if not batch:
            return
        try:
            body = ("\n".join(to_line(s) for s in batch) + "\n").encode()
            await self._ensure_db()
            resp = await self._request(
                "POST",
                "/write",
                params={"db": self.database, "precision": "ns"},
                content=gzip.compress(body, compresslevel=5),
                headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
            )
            self._check(resp, "write")
        except StorageError as exc:
            self._last_error = str(exc)
            raise
        self.samples_written += len(batch)
        self.last_write_ns = max(s.ts_ns for s in batch)
        self._last_error = None

    async def health(self) -> SinkHealth:
        """Reachable when ``/ping`` answers 204; counters of this process's writes."""
        error = self._last_error
        try:
            resp = await self._request("GET", "/ping", params={})
            reachable = resp.status_code == 204
            if not reachable:
                error = f"influxdb /ping answered {resp.status_code}"
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
        if metric_name == STATUS_METRIC:
            measurement, field = DEVICE_STATUS, quote_ident("status")
            where = f"device_id = {quote_string(device_id)}"
        else:
            measurement, field = DEVICE_METRICS, quote_ident("value")
            where = (
                f"device_id = {quote_string(device_id)} "
                f"AND metric_name = {quote_string(metric_name)}"
            )
        where += f" AND time >= {int(start_ns)} AND time < {int(end_ns)}"
        if step_s is None:
            rows = await self._rows(
                f"SELECT {field} FROM {measurement} WHERE {where} ORDER BY time ASC"
            )
            return [Point(int(r[0]), float(r[1]), float(r[1]), float(r[1]), 1) for r in rows]
        step_ns = max(1, int(step_s * 1e9))
        offset_ns = start_ns % step_ns  # buckets start at start_ns, like the embedded store
        sql = (
            f"SELECT {_AGG_FN[agg]}({field}), min({field}), max({field}), count({field}) "
            f"FROM {measurement} WHERE {where} "
            f"GROUP BY time({step_ns}ns, {offset_ns}ns) fill(none) ORDER BY time ASC"
        )
        return [
            Point(int(r[0]), float(r[1]), float(r[2]), float(r[3]), int(r[4]))
            for r in await self._rows(sql)
            if r[4]
        ]

    async def _rows(self, influxql: str) -> list[list[Any]]:
        rows: list[list[Any]] = []
        for s in await self._query(influxql):
            rows.extend(s.get("values") or [])
        return rows

    async def latest(self, measurement: str, device_id: str | None = None) -> list[LatestValue]:
        """Newest value per series of ``measurement`` (``last()`` grouped by its tags)."""
        if measurement not in _FIELD:
            return []
        field = quote_ident(_FIELD[measurement])
        where = f" WHERE device_id = {quote_string(device_id)}" if device_id is not None else ""
        by = "device_id, metric_name" if measurement == DEVICE_METRICS else "device_id"
        found: list[LatestValue] = []
        for s in await self._query(f"SELECT last({field}) FROM {measurement}{where} GROUP BY {by}"):
            tags = s.get("tags") or {}
            metric = tags.get("metric_name", STATUS_METRIC)
            for ts, value in s.get("values") or []:
                found.append(LatestValue(tags["device_id"], metric, int(ts), float(value)))
        return sorted(found, key=lambda v: (v.device_id, v.metric_name))

    async def series(self, device_id: str | None = None) -> list[tuple[str, str, str]]:
        """Every known series (``SHOW SERIES``), optionally of one device."""
        where = f" WHERE device_id = {quote_string(device_id)}" if device_id is not None else ""
        found: list[tuple[str, str, str]] = []
        for row in await self._rows(f"SHOW SERIES{where}"):
            measurement, tags = split_series_key(str(row[0]))
            if measurement not in _FIELD or "device_id" not in tags:
                continue
            metric = tags.get("metric_name", STATUS_METRIC)
            if measurement == DEVICE_METRICS and "metric_name" not in tags:
                continue
            found.append((measurement, tags["device_id"], metric))
        return sorted(found, key=lambda t: (t[1], t[2], t[0]))

    async def rounds(
        self, device_id: str, kind: str, start_ns: int, end_ns: int, limit: int
    ) -> list[tuple[int, dict[str, float]]]:
        """Per timestamp, the ``<kind>.*`` metrics of one device: the newest ``limit`` rounds."""
        sql = (
            f"SELECT value FROM {DEVICE_METRICS} WHERE device_id = {quote_string(device_id)} "
            f"AND metric_name =~ {regex_prefix(kind + '.')} "
            f"AND time >= {int(start_ns)} AND time < {int(end_ns)} GROUP BY metric_name"
        )
        rows: list[tuple[int, str, float]] = []
        for s in await self._query(sql):
            name = str((s.get("tags") or {}).get("metric_name", ""))
            rows.extend((int(ts), name, float(v)) for ts, v in s.get("values") or [])
        rows.sort(key=lambda r: r[0])
        grouped: dict[int, dict[str, float]] = {}
        for ts, name, value in rows:
            grouped.setdefault(ts, {})[name[len(kind) + 1 :]] = value
        return list(grouped.items())[-limit:]


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:2000]
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return resp.text.strip()[:2000]


def _results(resp: httpx.Response) -> list[dict[str, Any]]:
    """The ``results`` of a /query answer; a statement error becomes a StorageError."""
    try:
        body = resp.json()
    except ValueError as exc:
        raise RetryableStorageError(f"influxdb: unreadable /query answer: {exc}") from exc
    results: list[dict[str, Any]] = body.get("results") or []
    for result in results:
        if "error" in result:
            raise PermanentStorageError(f"influxdb query failed: {result['error']}")
    return results
