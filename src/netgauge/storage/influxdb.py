"""InfluxDB 1.x backend: a Sink and a Query over the v1 HTTP API (``/write``, ``/query``).

Hand-written on ``httpx.AsyncClient`` on purpose: the official ``influxdb-client`` library
targets the v2 API (its 1.x compatibility needs 1.8+ and v2-style buckets), and the older
``influxdb`` package's v1 client is synchronous. The v1 API is two endpoints and a text
format, so this module speaks it directly.

Writes are the spec's schema in line protocol, encoded by :mod:`netgauge.storage.line_protocol`
(shared with the InfluxDB 2 store), gzip-compressed, with nanosecond timestamps
(``precision=ns`` on write, ``epoch=ns`` on read). Step aggregations are InfluxQL's:
``mean``, ``min``, ``max``, ``count`` and, for p95, ``percentile(value, 95)``, the nearest rank
rounded half up (element ``floor(n * 0.95 + 0.5)`` of the sorted values, 1-based), which is
the embedded store's definition.

Errors: 204 is success; 400 (and other refusals of the data itself) raise
:class:`PermanentStorageError` carrying InfluxDB's text, which names the offending line;
401/403 raise :class:`StoragePermissionError` (retried: a grant fixes it and nothing waiting
is lost), naming the user and database; 5xx, 404/429, connection errors and timeouts raise
:class:`RetryableStorageError`.

The database is never created up front: a least-privilege user (``GRANT WRITE ON db``)
cannot run ``CREATE DATABASE``, and needs not. A write that finds it missing creates it (with
``create_database``, the default) and is sent again; without, the error says what to do.
The optional user and password go in an HTTP Basic ``Authorization`` header (InfluxDB 1.x
takes it like the ``u``/``p`` query parameters), so they never appear in URLs, logs or
error messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx
import structlog

from netgauge.errors import (
    PermanentStorageError,
    RetryableStorageError,
    StorageError,
    StoragePermissionError,
)
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.base import Aggregation, LatestValue, Point, Refusal, SinkHealth
from netgauge.storage.line_protocol import FIELD, STATUS_METRIC, encode, split_series_key

log = structlog.get_logger(__name__)

# percentile() is the nearest rank, rounded half up: the embedded store's p95 is defined so
_AGG_FN = {
    "avg": "mean({})",
    "min": "min({})",
    "max": "max({})",
    "count": "count({})",
    "p95": "percentile({}, 95)",
}
_DB_MISSING = "database not found"
_REGEX_SPECIALS = set("\\.+*?()|[]{}^$/-#&~ ")


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
    """InfluxDB 1.x over HTTP: a Sink and a Query; creates its database when a write finds it
    missing (``create_database``)."""

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
        create_database: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.username = username
        self.create_database = create_database
        auth = httpx.BasicAuth(username, password or "") if username is not None else None
        self._client = client or httpx.AsyncClient(base_url=self.url, timeout=timeout_s, auth=auth)
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

    def _who(self) -> str:
        return f"user {self.username!r}" if self.username is not None else "no user"

    def _check(self, resp: httpx.Response, what: str) -> None:
        if resp.status_code in (200, 204):
            return
        text = _error_text(resp)
        message = f"influxdb {what} refused ({resp.status_code}): {text}"
        if resp.status_code == 401:
            raise StoragePermissionError(
                f"influxdb {what}: authentication failed for {self._who()} (401: {text}); "
                "check username and the password variable"
            )
        if resp.status_code == 403:
            raise StoragePermissionError(
                f"influxdb {what}: permission denied for {self._who()} on database "
                f"{self.database!r} (403: {text})"
            )
        if resp.status_code >= 500 or resp.status_code in (404, 408, 429):
            raise RetryableStorageError(message)
        raise PermanentStorageError(message)

    async def _create_database(self) -> None:
        resp = await self._request(
            "POST", "/query", params={"q": f"CREATE DATABASE {quote_ident(self.database)}"}
        )
        if resp.status_code in (401, 403):
            raise StoragePermissionError(
                f"influxdb: database {self.database!r} does not exist and {self._who()} may not "
                f"create it ({resp.status_code}: {_error_text(resp)}); create it as an admin "
                f"and GRANT WRITE ON {quote_ident(self.database)} to the user, then set "
                "create_database: false"
            )
        self._check(resp, "CREATE DATABASE")
        _results(resp)  # raises on a statement error

    async def _query(self, influxql: str) -> list[dict[str, Any]]:
        """Run one InfluxQL statement: its series (name, tags, columns, values); none while
        the database does not exist yet (nothing was written)."""
        resp = await self._request(
            "GET", "/query", params={"db": self.database, "epoch": "ns", "q": influxql}
        )
        self._check(resp, "query")
        try:
            results = _results(resp)
        except PermanentStorageError as exc:
            if _DB_MISSING in str(exc):
                return []
            raise
        series: list[dict[str, Any]] = results[0].get("series", []) if results else []
        return series

    async def _post_write(self, body: bytes) -> httpx.Response:
        return await self._request(
            "POST",
            "/write",
            params={"db": self.database, "precision": "ns"},
            content=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
        )

    async def _write(self, body: bytes) -> None:
        """One write; a missing database is created (when allowed) and the write sent again."""
        resp = await self._post_write(body)
        if resp.status_code == 404 and _DB_MISSING in _error_text(resp):
            if not self.create_database:
                raise RetryableStorageError(
                    f"influxdb write: database {self.database!r} not found and "
                    "create_database is false: create it, or set create_database: true"
                )
            await self._create_database()
            resp = await self._post_write(body)
        self._check(resp, "write")

    # -- Sink --------------------------------------------------------------------------------
    async def write(self, batch: Sequence[Sample]) -> list[Refusal]:
        """POST ``batch`` as gzip-compressed line protocol to ``/write`` (ns precision);
        samples InfluxDB 1.x cannot carry are refused, the rest written."""
        encoded = encode(batch, finite_only=True)
        if not encoded.lines:
            return encoded.refused
        partial: list[Refusal] = []
        try:
            await self._write(encoded.body)
        except PermanentStorageError as exc:
            # InfluxDB 1.x writes every point it can and says how many it dropped (a field
            # type conflict in a shared database): those are lost, not the whole batch
            dropped = _partial_write(str(exc), len(encoded.lines))
            if dropped is None:
                self._last_error = str(exc)
                raise
            log.warning("influxdb.partial_write", dropped=dropped, error=str(exc))
            partial = [Refusal(None, _partial_reason(str(exc)))] * dropped
        except StorageError as exc:
            self._last_error = str(exc)
            raise
        self.samples_written += len(encoded.lines) - len(partial)
        self.last_write_ns = encoded.newest_ns
        self._last_error = None
        return [*encoded.refused, *partial]

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
            f"SELECT {_AGG_FN[agg].format(field)}, min({field}), max({field}), count({field}) "
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
        if measurement not in FIELD:
            return []
        field = quote_ident(FIELD[measurement])
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
            if measurement not in FIELD or "device_id" not in tags:
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


_QUOTED_LINE = re.compile(r"'[^'\n]*'")
_PARTIAL_DROPPED = re.compile(r"\s*dropped=(\d+)\s*$")


def _partial_write(message: str, lines: int) -> int | None:
    """How many of ``lines`` points a ``partial write`` refusal dropped (None: not one).
    InfluxDB counts in ``dropped=`` the points it refused (a field type conflict), not the
    lines it could not parse (named one by one): both are lost."""
    if "partial write" not in message:
        return None
    found = _PARTIAL_DROPPED.search(message)
    if found is None:
        return None
    return min(int(found.group(1)) + message.count("unable to parse"), lines)


def _partial_reason(message: str) -> str:
    """The rule of a partial write, without the count and without the quoted line (counts
    are kept per reason: a reason holding each refused value would grow without end)."""
    return _QUOTED_LINE.sub("'<line>'", _PARTIAL_DROPPED.sub("", message)).strip()


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
