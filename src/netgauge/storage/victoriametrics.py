"""VictoriaMetrics as a Sink and a Query (single-node server, HTTP API, tested with 1.79).

Writing: InfluxDB line protocol (:mod:`netgauge.storage.line_protocol`, with this server's tag
escaping), gzip-compressed, to ``/write?precision=ns``. VictoriaMetrics names a series
``<measurement>_<field>`` (whichever endpoint took it: ``/api/v2/write`` of
:class:`~netgauge.storage.influxdb2.InfluxV2Store` gives the same series):

* ``device_metrics,device_id=D,metric_name=M value=V T`` -> ``device_metrics_value{device_id="D",
  metric_name="M"}``;
* ``device_status,device_id=D status=V T`` -> ``device_status_status{device_id="D"}`` (no
  metric_name label: its metric name is ``"status"``, as in :class:`netgauge.models.Sample`).

**Millisecond precision.** VictoriaMetrics stores timestamps in milliseconds: a nanosecond
timestamp is truncated (floored) to its millisecond on write. Every read answers as if each
sample had been written at that floored timestamp (``ts_ns`` of results are multiples of
1_000_000), and range filters ``[start, end)`` apply to the floored timestamps. Two samples
of one series within the same millisecond are both kept (no deduplication is configured), where
the embedded store would keep the newer one only when their nanoseconds are equal.

**Values** are stored as decimals sharing an exponent per block: within one series, values
of very different magnitudes lose precision (-3.5 stored next to 1e300 reads back as 0.0).
Values of ordinary range (percentages, milliseconds, counters) read back exactly.

Reading (Prometheus query API):

* ``points()`` raw: ``/api/v1/export`` of the series, filtered to ``[start, end)``;
* ``points()`` with a step: ``/api/v1/query_range`` of ``min/max/sum/count_over_time(sel[step])``
  evaluated at ``t = b + step - 1 ms`` for each bucket start ``b = start + k*step``. A rollup
  window at ``t`` is ``(t - step, t]``, which is ``[b, b + step)`` at millisecond precision: the
  same buckets as the embedded store (ts = bucket start, empty buckets absent), provided
  ``step`` is a whole number of milliseconds (it is rounded down to one, at least 1 ms). ``avg``
  is ``sum / count``. Long ranges are queried in chunks of at most 10_000 steps (the server
  refuses more than 30_000 points per series);
* ``points()`` with ``agg="p95"``: the same buckets, computed here from ``/api/v1/export`` of the
  raw samples. ``quantile_over_time(0.95, ...)`` interpolates between the two nearest ranks
  (``phi * (n - 1)``, as Prometheus does), while the embedded store and InfluxQL take the sorted
  value of rank ``floor(n * 0.95 + 0.5)``; so p95 reads transfer every sample of the range;
* ``latest()``: ``last_over_time`` and ``tlast_over_time`` over a window from 1990-01-01 to a day
  from now (older samples, or ones dated further in the future, are not seen: a window reaching
  back to the epoch finds nothing in VictoriaMetrics 1.79);
* ``series()``: ``/api/v1/series``;
* ``rounds()``: ``/api/v1/export`` of ``metric_name=~"<kind>\\..*"``, grouped by timestamp.

Errors: connection failures, timeouts and 5xx are :class:`RetryableStorageError`; a 4xx is
:class:`PermanentStorageError` carrying the server's reason. Note that VictoriaMetrics 1.79
skips (and logs) unparsable lines with 204 rather than refusing the request: lines that
cannot be expressed in line protocol (a newline in a tag) are refused here, before sending.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from netgauge.errors import PermanentStorageError, RetryableStorageError, StorageError
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.base import Aggregation, LatestValue, Point, Refusal, SinkHealth
from netgauge.storage.embedded.summary import bucketed
from netgauge.storage.line_protocol import encode, escape_tag_v2

_NS_PER_MS = 1_000_000
_METRIC_OF = {DEVICE_METRICS: "device_metrics_value", DEVICE_STATUS: "device_status_status"}
_MEASUREMENT_OF = {metric: measurement for measurement, metric in _METRIC_OF.items()}
_MAX_STEPS_PER_QUERY = 10_000
_LATEST_SINCE_S = 631_152_000  # 1990-01-01T00:00:00Z
# export JSON writes infinities as bare +Inf/-Inf (and NaN): not JSON
_NON_JSON_NUMBER = re.compile(r"(?<=[\[,])([+-]?)(Inf|NaN)(?=[,\]])")


def quote(value: str) -> str:
    """A MetricsQL string literal: double-quoted, backslash, quote and controls escaped."""
    return json.dumps(value, ensure_ascii=False)


def _series_selector(device_id: str, metric_name: str) -> str:
    """Both measurements' series named ``metric_name`` of ``device_id`` (as the embedded store
    matches on device and name only). ``device_status_status`` has no metric_name label, and
    an absent label matches ``""``: so "status" also selects the status series."""
    names = "device_metrics_value|device_status_status"
    if metric_name == "status":
        name_filter = 'metric_name=~"status|"'
    else:
        name_filter = f"metric_name={quote(metric_name)}"
    return f'{{__name__=~"{names}",device_id={quote(device_id)},{name_filter}}}'


def _seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def _floor_ms(ns: int) -> int:
    return ns // _NS_PER_MS


def _ceil_ms(ns: int) -> int:
    return -(-ns // _NS_PER_MS)


def _parse_export_line(line: str) -> tuple[dict[str, str], list[float], list[int]]:
    """One line of /api/v1/export: labels, values, millisecond timestamps."""
    prefix = '{"metric":'
    if not line.startswith(prefix):
        raise ValueError(f"unexpected export line {line[:80]!r}")
    labels, end = json.JSONDecoder().raw_decode(line, len(prefix))
    rest = _NON_JSON_NUMBER.sub(
        lambda m: (
            ("-" if m.group(1) == "-" else "") + ("Infinity" if m.group(2) == "Inf" else "NaN")
        ),
        line[end:],
    )
    data = json.loads("{" + rest.lstrip(","))
    return labels, [float(v) for v in data["values"]], [int(t) for t in data["timestamps"]]


class VictoriaMetricsStore:
    """A VictoriaMetrics server over HTTP: a Sink and a Query."""

    name = "victoriametrics"

    def __init__(
        self,
        url: str,
        *,
        query_url: str | None = None,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        # one server: url for both. The cluster: url = vminsert's .../insert/<tenant>/influx,
        # query_url = vmselect's .../select/<tenant>/prometheus (the same paths follow)
        self.url = url.rstrip("/")
        self.query_url = (query_url or url).rstrip("/")
        self._client = client or httpx.AsyncClient(base_url=self.url, timeout=timeout_s)
        self._reader = (
            self._client
            if self.query_url == self.url
            else httpx.AsyncClient(base_url=self.query_url, timeout=timeout_s)
        )
        root = httpx.URL(self.url)
        self._health_url = str(root.copy_with(path="/health", query=None))
        self.samples_written = 0
        self.last_write_ns: int | None = None
        self._last_error: str | None = None

    # -- HTTP --------------------------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        reading: bool = False,
    ) -> httpx.Response:
        client = self._reader if reading else self._client
        try:
            response = await client.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:  # refused, reset, timeouts
            raise RetryableStorageError(f"victoriametrics {path}: {exc!r}") from exc
        if response.status_code >= 500:
            raise RetryableStorageError(
                f"victoriametrics {path}: {response.status_code} {response.text.strip()}"
            )
        if response.status_code >= 400:
            raise PermanentStorageError(
                f"victoriametrics {path}: {response.status_code} {response.text.strip()}"
            )
        return response

    async def _query(self, path: str, params: dict[str, str]) -> Any:
        response = await self._request("GET", path, params=params, reading=True)
        body = response.json()
        if body.get("status") != "success":
            raise PermanentStorageError(f"victoriametrics {path}: {body}")
        return body["data"]

    async def _export(
        self, selector: str, start_ms: int, end_ms: int
    ) -> Iterator[tuple[dict[str, str], int, float]]:
        """(labels, ts_ms, value) of raw samples of ``selector`` in [start_ms, end_ms]."""
        params = {"match[]": selector, "start": _seconds(start_ms), "end": _seconds(end_ms)}
        response = await self._request("GET", "/api/v1/export", params=params, reading=True)
        found: list[tuple[dict[str, str], int, float]] = []
        for line in response.text.splitlines():
            if line.strip():
                labels, values, stamps = _parse_export_line(line)
                found.extend((labels, ts, value) for ts, value in zip(stamps, values, strict=True))
        return iter(found)

    # -- writing -----------------------------------------------------------------------------
    async def write(self, batch: Sequence[Sample]) -> list[Refusal]:
        """Send ``batch`` as one gzip line-protocol request (timestamps kept to the ms);
        only a tag value with a line break is refused."""
        encoded = encode(batch, escape_tag_v2)
        if encoded.lines:
            await self._send(encoded.body)
            self.samples_written += len(encoded.lines)
            self.last_write_ns = encoded.newest_ns
        return encoded.refused

    async def _send(self, gzipped: bytes) -> None:
        try:
            await self._request(
                "POST",
                "/write",
                params={"precision": "ns"},
                content=gzipped,
                headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
            )
        except StorageError as exc:
            self._last_error = str(exc)
            raise
        self._last_error = None

    async def health(self) -> SinkHealth:
        """Reachable when ``/health`` answers OK."""
        error: str | None
        try:
            response = await self._request("GET", self._health_url)  # the server's root
            error = None if response.text.strip() == "OK" else f"health: {response.text.strip()}"
        except StorageError as exc:
            error = str(exc)
        error = error or self._last_error
        return SinkHealth(self.name, error is None, self.samples_written, self.last_write_ns, error)

    async def close(self) -> None:
        """Close the HTTP clients."""
        await self._client.aclose()
        if self._reader is not self._client:
            await self._reader.aclose()

    # -- reading -----------------------------------------------------------------------------
    async def points(
        self,
        device_id: str,
        metric_name: str,
        start_ns: int,
        end_ns: int,
        step_s: float | None = None,
        agg: Aggregation = "avg",
    ) -> list[Point]:
        """Raw samples in [start, end) (ms timestamps), or per-step buckets (ts = bucket start)."""
        selector = _series_selector(device_id, metric_name)
        if end_ns <= start_ns:
            return []
        if step_s is None:
            rows = await self._export(selector, _floor_ms(start_ns), _ceil_ms(end_ns))
            raw = sorted(
                (ts * _NS_PER_MS, value)
                for _, ts, value in rows
                if start_ns <= ts * _NS_PER_MS < end_ns
            )
            return [Point(ts, value, value, value, 1) for ts, value in raw]
        if agg == "p95":
            return await self._raw_buckets(selector, start_ns, end_ns, step_s)
        return await self._buckets(selector, start_ns, end_ns, step_s, agg)

    async def _raw_buckets(
        self, selector: str, start_ns: int, end_ns: int, step_s: float
    ) -> list[Point]:
        """p95 buckets from the raw samples: quantile_over_time interpolates, the embedded
        store (and InfluxQL) take the nearest rank; the same buckets as :meth:`_buckets`."""
        step_ns = max(1, int(step_s * 1000)) * _NS_PER_MS
        rows = await self._export(selector, _floor_ms(start_ns), _ceil_ms(end_ns))
        return _bucketed(rows, _ceil_ms(start_ns) * _NS_PER_MS, step_ns, start_ns, end_ns, "p95")

    async def _buckets(
        self, selector: str, start_ns: int, end_ns: int, step_s: float, agg: Aggregation
    ) -> list[Point]:
        step_ms = max(1, int(step_s * 1000))
        step_ns = step_ms * _NS_PER_MS
        first_ms = _ceil_ms(start_ns)  # buckets start at start (ms), as the embedded store's
        n_buckets = -(-(end_ns - first_ms * _NS_PER_MS) // step_ns)
        window = f"[{step_ms}ms]"
        queries = {
            "min": f"min(min_over_time({selector}{window}))",
            "max": f"max(max_over_time({selector}{window}))",
            "sum": f"sum(sum_over_time({selector}{window}))",
            "count": f"sum(count_over_time({selector}{window}))",
        }
        by_stat: dict[str, dict[int, float]] = {name: {} for name in queries}
        for chunk in range(0, n_buckets, _MAX_STEPS_PER_QUERY):
            last = min(n_buckets, chunk + _MAX_STEPS_PER_QUERY) - 1
            # evaluated at b + step - 1ms: the window (t - step, t] is [b, b + step)
            params = {
                "start": _seconds(first_ms + chunk * step_ms + step_ms - 1),
                "end": _seconds(first_ms + last * step_ms + step_ms - 1),
                "step": f"{step_ms}ms",
            }
            answers = await asyncio.gather(
                *(
                    self._query("/api/v1/query_range", {**params, "query": query})
                    for query in queries.values()
                )
            )
            for name, data in zip(queries, answers, strict=True):
                for result in data["result"]:
                    for t, value in result["values"]:
                        t_ms = round(float(t) * 1000)
                        by_stat[name][t_ms - step_ms + 1] = float(value)
        points = []
        for b_ms, count in sorted(by_stat["count"].items()):
            b_ns = b_ms * _NS_PER_MS
            # the last bucket's window may reach past end: not a problem when no samples fall
            # in [end, bucket end); when some do, the ms-exact filter needs raw samples
            if count <= 0 or b_ns >= end_ns:
                continue
            lo, hi, total = by_stat["min"][b_ms], by_stat["max"][b_ms], by_stat["sum"][b_ms]
            value = {"avg": total / count, "min": lo, "max": hi, "count": count}[agg]
            points.append(Point(b_ns, value, lo, hi, int(count)))
        if points and points[-1].ts_ns + step_ns > end_ns:
            # the last bucket, cut at ``end`` (it may be shorter than a step): from raw samples
            b_ns = points[-1].ts_ns
            rows = await self._export(selector, _floor_ms(b_ns), _ceil_ms(end_ns))
            points[-1:] = _bucketed(rows, b_ns, end_ns - b_ns, b_ns, end_ns, agg)
        return points

    async def latest(self, measurement: str, device_id: str | None = None) -> list[LatestValue]:
        """Newest value per series of ``measurement`` (dated 1990 to a day from now)."""
        metric = _METRIC_OF.get(measurement)
        if metric is None:
            return []
        selector = metric
        if device_id is not None:
            selector = f"{metric}{{device_id={quote(device_id)}}}"
        at_s = int(time.time()) + 86_400
        # back to 1990: a window reaching (nearly) to the epoch finds nothing in VM 1.79
        window = f"[{at_s - _LATEST_SINCE_S}s]"
        values, stamps = await asyncio.gather(
            self._query(
                "/api/v1/query", {"query": f"last_over_time({selector}{window})", "time": str(at_s)}
            ),
            self._query(
                "/api/v1/query",
                {"query": f"tlast_over_time({selector}{window})", "time": str(at_s)},
            ),
        )

        def key(labels: dict[str, str]) -> tuple[str, str]:
            return labels.get("device_id", ""), labels.get("metric_name", "status")

        ts_of = {key(r["metric"]): round(float(r["value"][1]) * 1000) for r in stamps["result"]}
        found = [
            LatestValue(
                *key(r["metric"]), ts_of[key(r["metric"])] * _NS_PER_MS, float(r["value"][1])
            )
            for r in values["result"]
            if key(r["metric"]) in ts_of
        ]
        return sorted(found, key=lambda v: (v.device_id, v.metric_name))

    async def series(self, device_id: str | None = None) -> list[tuple[str, str, str]]:
        """Every known series, optionally of one device."""
        device = f",device_id={quote(device_id)}" if device_id is not None else ""
        selector = f'{{__name__=~"device_metrics_value|device_status_status"{device}}}'
        end_s = int(time.time()) + 86_400
        data = await self._query(
            "/api/v1/series", {"match[]": selector, "start": "1", "end": str(end_s)}
        )
        found = {
            (
                _MEASUREMENT_OF[labels["__name__"]],
                labels.get("device_id", ""),
                labels.get("metric_name", "status"),
            )
            for labels in data
            if labels.get("__name__") in _MEASUREMENT_OF
        }
        return sorted(found, key=lambda s: (s[1], s[2], s[0]))

    async def rounds(
        self, device_id: str, kind: str, start_ns: int, end_ns: int, limit: int
    ) -> list[tuple[int, dict[str, float]]]:
        """Per timestamp (ms), the ``<kind>.*`` metrics of one device: the newest ``limit``."""
        if end_ns <= start_ns or limit <= 0:
            return []
        pattern = re.escape(f"{kind}.") + ".*"
        selector = (
            f"device_metrics_value{{device_id={quote(device_id)},metric_name=~{quote(pattern)}}}"
        )
        rows = await self._export(selector, _floor_ms(start_ns), _ceil_ms(end_ns))
        grouped: dict[int, dict[str, float]] = {}
        for labels, ts, value in sorted(rows, key=lambda r: r[1]):
            ts_ns = ts * _NS_PER_MS
            if start_ns <= ts_ns < end_ns:
                grouped.setdefault(ts_ns, {})[labels["metric_name"][len(kind) + 1 :]] = value
        return list(grouped.items())[-limit:]


def _bucketed(
    rows: Iterator[tuple[dict[str, str], int, float]],
    origin_ns: int,
    step_ns: int,
    start_ns: int,
    end_ns: int,
    agg: Aggregation,
) -> list[Point]:
    """Exported samples in [start, end) as step buckets from ``origin_ns``, summarised as the
    embedded store does (its :class:`Bucket`: plain sum in time order, nearest-rank p95)."""
    samples = sorted((ts * _NS_PER_MS, value) for _, ts, value in rows)
    return bucketed(((t, v) for t, v in samples if start_ns <= t < end_ns), origin_ns, step_ns, agg)
