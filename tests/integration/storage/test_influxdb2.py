"""InfluxV2Store, the InfluxDB 2.x store: what is checked, and against what.

* **Writes, against a real server.** ``test_victoriametrics.py`` writes its whole batch through
  this store to VictoriaMetrics' ``/api/v2/write`` (InfluxDB 2 write API: org, bucket,
  ``precision=ns``, ``Authorization: Token``, gzip) and reads every series back, comparing with
  the embedded store. Below, the request itself is checked on the same real server.
* **Flux reads are NOT verified against a real InfluxDB 2.** None can be installed here: Debian
  12's ``influxdb`` is 1.6 (no v2 API, no Flux) and PyPI has only clients. The reads are tested
  against ``tests.lab.influxdb2_stub``, a loopback HTTP server that checks the exact Flux text
  and answers annotated CSV in the shape Flux's CSV encoder writes (several results and tables,
  ``#datatype``/``#group``/``#default`` rows, an empty answer, a JSON error, an error table).
  Where the answer is computed (steps, p95), it is computed as InfluxDB's documented semantics
  say, and the store's points are compared with the embedded store's. Whether a real InfluxDB 2
  answers these queries that way is not shown here; ``tests/unit/storage/test_influxdb2_flux.py``
  at least runs every query through Flux's own parser.
* **Error mapping** of write and query answers (400 naming the line, 401/403/404 permanent,
  429/5xx retryable), against the stub; a server that is gone, against a closed port.
* **Settings and factory**: kind ``influxdb2``, its token from ``token_env`` or ``token_file``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from netgauge.config.settings import Settings, StoreSettings
from netgauge.errors import ConfigError, PermanentStorageError, RetryableStorageError
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.base import Aggregation, Query, Sink
from netgauge.storage.embedded import EmbeddedStore
from netgauge.storage.factory import build_stores, query_store
from netgauge.storage.influxdb2 import (
    InfluxV2Store,
    flux_time,
    latest_query,
    raw_query,
    rounds_query,
    series_query,
    stepped_query,
)
from tests.lab.daemon import free_tcp_port
from tests.lab.influxdb2_stub import JSON, InfluxDB2Stub, Reply, error_reply
from tests.lab.victoriametrics import VictoriaMetrics, missing_victoriametrics

pytestmark = pytest.mark.network

TOKEN = "s3cr3t-t0ken=="
ORG, BUCKET = "acme", "netgauge"
T0 = 1_700_000_000_123_456_789
S = 1_000_000_000
MS = 1_000_000
DEV = "core 1,a=b"
CPU = "cpu_percent"


def _samples() -> list[Sample]:
    out = [
        Sample(DEVICE_METRICS, DEV, CPU, ((i * 37) % 23) * 0.5 - 2.0, T0 + i * 250 * MS + i % 3)
        for i in range(40)
    ]
    out += [Sample(DEVICE_STATUS, DEV, "status", float(i % 2), T0 + i * S + 5) for i in range(8)]
    return out


SAMPLES = _samples()


# -- answers in the shape Flux's CSV encoder writes ----------------------------------------------
def go_float(value: float) -> str:
    """A float as Go's FormatFloat(v, 'f', -1, 64) writes it (Flux's CSV encoder)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return format(Decimal(repr(value)), "f")


Column = tuple[str, str, bool]  # name, datatype, part of the group key


def annotated(
    result: str,
    columns: Sequence[Column],
    tables: Sequence[Sequence[list[str]]],
    first_table: int = 0,
) -> str:
    """Tables of one schema: the annotation rows and header, then each table's rows (ids
    from ``first_table``), CRLF line ends, and the empty line the encoder writes after a
    result and before a change of schema."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["#datatype", "string", "long", *(c[1] for c in columns)])
    writer.writerow(["#group", "false", "false", *("true" if c[2] else "false" for c in columns)])
    writer.writerow(["#default", result, "", *("" for _ in columns)])
    writer.writerow(["", "result", "table", *(c[0] for c in columns)])
    for table_id, rows in enumerate(tables, start=first_table):
        for row in rows:
            writer.writerow(["", "", str(table_id), *row])
    return out.getvalue() + "\r\n"


def _windows(
    samples: Sequence[Sample], start: int, end: int, step: int
) -> dict[int, list[tuple[int, float]]]:
    found: dict[int, list[tuple[int, float]]] = {}
    for s in sorted(samples, key=lambda s: s.ts_ns):
        if start <= s.ts_ns < end:
            found.setdefault(start + (s.ts_ns - start) // step * step, []).append(
                (s.ts_ns, s.value)
            )
    return found


def stepped_answer(
    samples: Sequence[Sample], start: int, end: int, step: int, stats: Sequence[str]
) -> str:
    """What ``window(every: step, offset: start mod step) |> <stat>()`` yields per stat: one
    table per window (``_start``/``_stop`` in the group key, cut by the range), count a long,
    min and max selectors (the first row holding the value), sum a double."""
    windows = _windows(samples, start, end, step)
    answer = ""
    for stat in stats:
        tables = []
        for b, rows in sorted(windows.items()):
            bounds = [flux_time(b), flux_time(min(b + step, end)), "device_metrics", DEV]
            values = [v for _, v in rows]
            if stat == "count":
                tables.append([[*bounds, str(len(rows))]])
            elif stat == "sum":
                tables.append([[*bounds, go_float(sum(values))]])
            else:
                ts, value = next(r for r in rows if r[1] == (min if stat == "min" else max)(values))
                tables.append([[*bounds, flux_time(ts), go_float(value)]])
        keys: list[Column] = [
            ("_start", "dateTime:RFC3339", True),
            ("_stop", "dateTime:RFC3339", True),
            ("_measurement", "string", True),
            ("device_id", "string", True),
        ]
        if stat in ("min", "max"):
            keys.append(("_time", "dateTime:RFC3339", False))
        value_type = "long" if stat == "count" else "double"
        answer += annotated(stat, [*keys, ("_value", value_type, False)], tables)
    return answer


def raw_answer(samples: Sequence[Sample], start: int, end: int) -> str:
    """``keep(columns: ["_time", "_value"])`` of one series: one table, group key empty. The
    rows are split in two tables here, the second first, to show the store sorts them."""
    rows = [[flux_time(s.ts_ns), go_float(s.value)] for s in samples if start <= s.ts_ns < end]
    half = len(rows) // 2
    columns: list[Column] = [("_time", "dateTime:RFC3339", False), ("_value", "double", False)]
    return annotated("_result", columns, [rows[half:], rows[:half]])


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def stub() -> Iterator[InfluxDB2Stub]:
    with InfluxDB2Stub(token=TOKEN) as server:
        yield server
    assert not server.unexpected, f"queries the test did not expect: {server.unexpected}"


@pytest.fixture
async def store(stub: InfluxDB2Stub) -> AsyncIterator[InfluxV2Store]:
    st = InfluxV2Store(stub.url, org=ORG, bucket=BUCKET, token=TOKEN, timeout_s=5.0)
    yield st
    await st.close()


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[EmbeddedStore]:
    e = EmbeddedStore(tmp_path / "m.db")
    await e.write(SAMPLES)
    yield e
    await e.close()


# -- writing -----------------------------------------------------------------------------------
async def test_protocols_and_no_token_in_repr(store: InfluxV2Store) -> None:
    assert isinstance(store, Sink) and isinstance(store, Query)
    assert store.name == "influxdb2"
    assert TOKEN not in repr(store) and ORG in repr(store)


async def test_write_is_gzip_line_protocol_with_the_token(
    store: InfluxV2Store, stub: InfluxDB2Stub
) -> None:
    batch = [
        Sample(DEVICE_METRICS, DEV, 'disk_percent{mount="/"}', 12.5, T0),
        Sample(DEVICE_STATUS, DEV, "status", 1.0, T0 + 1),
        Sample(DEVICE_METRICS, "r2", "rtt ms", 7.0, T0 + 2),
    ]
    await store.write(batch)
    [request] = stub.requests
    assert (request.method, request.path) == ("POST", "/api/v2/write")
    assert request.params == {"org": ORG, "bucket": BUCKET, "precision": "ns"}
    assert request.headers["authorization"] == f"Token {TOKEN}"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "text/plain; charset=utf-8"
    assert request.body.decode() == (
        f'device_metrics,device_id=core\\ 1\\,a\\=b,metric_name=disk_percent{{mount\\="/"}} '
        f"value=12.5 {T0}\n"
        f"device_status,device_id=core\\ 1\\,a\\=b status=1.0 {T0 + 1}\n"
        f"device_metrics,device_id=r2,metric_name=rtt\\ ms value=7.0 {T0 + 2}\n"
    )
    health = await store.health()
    assert health.reachable and health.error is None
    assert (health.samples_written, health.last_write_ns) == (3, T0 + 2)


@pytest.mark.skipif(missing_victoriametrics() is not None, reason=str(missing_victoriametrics()))
async def test_write_request_on_a_real_v2_write_endpoint() -> None:
    # VictoriaMetrics takes the InfluxDB 2 write API; the read-back checks are in
    # test_victoriametrics.py (every test runs once with the batch written by this store)
    with VictoriaMetrics() as server:
        store = InfluxV2Store(server.url, org=ORG, bucket=BUCKET, token=TOKEN)
        try:
            await store.write(SAMPLES)
            (refused,) = await store.write([Sample(DEVICE_METRICS, "a\nb", CPU, 1.0, T0)])
            assert "line break" in refused.reason
            assert (await store.health()).reachable  # /health answers "OK", not JSON
            server.flush()
            params = {"match[]": "device_status_status"}
            exported = httpx.get(f"{server.url}/api/v1/export", params=params, timeout=10)
        finally:
            await store.close()
    series = json.loads(exported.text)
    assert series["metric"] == {"__name__": "device_status_status", "device_id": DEV}
    assert series["timestamps"] == [(T0 + i * S + 5) // MS for i in range(8)]


BAD_LINE_ERROR = "unable to parse 'device_metrics,device_id=r1,metric_name=t value=inf 1': bad"


@pytest.mark.parametrize(
    ("reply", "error", "fragments"),
    [
        (
            error_reply(400, "invalid", BAD_LINE_ERROR, line=2),
            PermanentStorageError,
            ["(400)", "value=inf", "(line 2: device_metrics,device_id=r1,metric_name=b value=inf"],
        ),
        (
            error_reply(401, "unauthorized", "unauthorized access"),
            PermanentStorageError,
            ["(401)", "token was refused", "org 'acme', bucket 'netgauge'"],
        ),
        (
            error_reply(403, "forbidden", "insufficient permissions for write"),
            PermanentStorageError,
            ["(403)", "insufficient permissions", "may not"],
        ),
        (
            error_reply(404, "not found", 'bucket "netgauge" not found'),
            PermanentStorageError,
            ["(404)", 'bucket "netgauge" not found', "no such org or bucket"],
        ),
        (
            error_reply(413, "request too large", "unable to read data: too large", maxLength=10),
            PermanentStorageError,
            ["(413)", "too large for the server"],
        ),
        (
            error_reply(422, "unprocessable entity", "failure writing points"),
            PermanentStorageError,
            ["(422)"],
        ),
        (
            Reply(429, "", JSON, (("Retry-After", "7"),)),
            RetryableStorageError,
            ["(429)", "retry after 7 s"],
        ),
        (
            error_reply(500, "internal error", "unexpected error writing points"),
            RetryableStorageError,
            ["(500)"],
        ),
        (
            Reply(503, '{"code":"unavailable","message":"busy"}', JSON, (("Retry-After", "30"),)),
            RetryableStorageError,
            ["(503)", "busy", "retry after 30 s"],
        ),
        (Reply(408, "timeout", "text/plain"), RetryableStorageError, ["(408)", "timeout"]),
    ],
)
async def test_write_errors_are_mapped(
    store: InfluxV2Store,
    stub: InfluxDB2Stub,
    reply: Reply,
    error: type[Exception],
    fragments: list[str],
) -> None:
    stub.write_replies.append(reply)
    batch = [
        Sample(DEVICE_METRICS, "r1", "a", 1.0, T0),
        Sample(DEVICE_METRICS, "r1", "b", float("inf"), 1),
    ]
    with pytest.raises(error) as info:
        await store.write(batch)
    assert type(info.value) is error
    for fragment in fragments:
        assert fragment in str(info.value)
    assert TOKEN not in str(info.value)
    health = await store.health()
    assert health.reachable and health.error == str(info.value) and health.samples_written == 0
    await store.write(batch[:1])  # the next answer is 204 again
    assert (await store.health()).error is None


async def test_a_wrong_token_is_permanent_and_says_so(stub: InfluxDB2Stub) -> None:
    store = InfluxV2Store(stub.url, org=ORG, bucket=BUCKET, token="wrong")
    try:
        with pytest.raises(PermanentStorageError, match=r"\(401\): unauthorized access.*refused"):
            await store.write([Sample(DEVICE_METRICS, "r1", "a", 1.0, T0)])
        with pytest.raises(PermanentStorageError, match="401"):
            await store.latest(DEVICE_METRICS)
    finally:
        await store.close()


async def test_a_server_that_is_gone_is_retryable() -> None:
    url = f"http://127.0.0.1:{free_tcp_port()}"  # nothing listens there
    store = InfluxV2Store(url, org=ORG, bucket=BUCKET, token=TOKEN, timeout_s=2.0)
    try:
        with pytest.raises(RetryableStorageError, match="influxdb2 at"):
            await store.write(SAMPLES[:1])
        with pytest.raises(RetryableStorageError):
            await store.points(DEV, CPU, T0, T0 + S)
        health = await store.health()
        assert not health.reachable and health.error and "influxdb2 at" in health.error
    finally:
        await store.close()


async def test_health_follows_the_health_endpoint(
    store: InfluxV2Store, stub: InfluxDB2Stub
) -> None:
    stub.health_reply = Reply(503, '{"name":"influxdb","status":"fail","message":"boltdb"}', JSON)
    health = await store.health()
    assert not health.reachable and health.error and "503" in health.error
    stub.health_reply = Reply(200, '{"name":"influxdb","status":"pass"}', JSON)
    assert (await store.health()).reachable


# -- reading -----------------------------------------------------------------------------------
async def test_a_query_is_json_with_annotations_and_the_exact_flux(
    store: InfluxV2Store, stub: InfluxDB2Stub
) -> None:
    flux = (
        f'from(bucket: "{BUCKET}")\n'
        "  |> range(start: 2023-11-14T22:13:20.123456789Z, stop: 2023-11-14T22:13:21.123456789Z)\n"
        '  |> filter(fn: (r) => r._measurement == "device_metrics" and r._field == "value" '
        f'and r.device_id == "{DEV}" and r.metric_name == "{CPU}")\n'
        '  |> keep(columns: ["_time", "_value"])\n'
    )
    stub.queries[flux] = Reply(body="\r\n")
    assert await store.points(DEV, CPU, T0, T0 + S) == []
    [request] = stub.requests
    assert (request.method, request.path, request.params) == ("POST", "/api/v2/query", {"org": ORG})
    assert request.headers["accept"] == "application/csv"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Token {TOKEN}"
    body = json.loads(request.body)
    assert body["type"] == "flux" and body["query"] == flux
    assert body["dialect"]["annotations"] == ["datatype", "group", "default"]


@pytest.mark.parametrize("metric", [CPU, "status"])
async def test_raw_points_match_embedded(
    store: InfluxV2Store, stub: InfluxDB2Stub, embedded: EmbeddedStore, metric: str
) -> None:
    start, end = T0 + 1, T0 + 6 * S + 5
    series = [s for s in SAMPLES if s.metric_name == metric]
    stub.queries[raw_query(BUCKET, DEV, metric, start, end)] = Reply(
        body=raw_answer(series, start, end)
    )
    want = await embedded.points(DEV, metric, start, end)
    assert want and await store.points(DEV, metric, start, end) == want


@pytest.mark.parametrize("agg", ["avg", "min", "max", "count"])
@pytest.mark.parametrize(
    ("start", "end", "step_s"),
    [(T0, T0 + 10 * S, 2.5), (T0 + 777, T0 + 9 * S + 1, 2.5), (T0 - 3 * S, T0 + 20 * S, 7.0)],
)
async def test_stepped_points_match_embedded(
    store: InfluxV2Store,
    stub: InfluxDB2Stub,
    embedded: EmbeddedStore,
    agg: Aggregation,
    start: int,
    end: int,
    step_s: float,
) -> None:
    step = int(step_s * S)
    stats = ["count", "min", "max"] + (["sum"] if agg == "avg" else [])
    series = [s for s in SAMPLES if s.metric_name == CPU]
    query = stepped_query(BUCKET, DEV, CPU, start, end, step, stats)
    stub.queries[query] = Reply(body=stepped_answer(series, start, end, step, stats))
    want = await embedded.points(DEV, CPU, start, end, step_s, agg)
    got = await store.points(DEV, CPU, start, end, step_s, agg)
    assert len(want) > 1 and got == want
    assert f"offset: {start % step}ns" in query


async def test_p95_is_read_raw_and_ranked_like_the_embedded_store(
    store: InfluxV2Store, stub: InfluxDB2Stub, embedded: EmbeddedStore
) -> None:
    # Flux's quantile(method: "exact_selector") picks rank ceil(0.95 n): 17 samples per 4.25 s
    # step here, where that is the maximum and the embedded store's rank is one below
    start, end, step_s = T0, T0 + 10 * S, 4.25
    series = [s for s in SAMPLES if s.metric_name == CPU]
    stub.queries[raw_query(BUCKET, DEV, CPU, start, end)] = Reply(
        body=raw_answer(series, start, end)
    )
    want = await embedded.points(DEV, CPU, start, end, step_s, "p95")
    got = await store.points(DEV, CPU, start, end, step_s, "p95")
    assert got == want and want[0].count == 17
    first = sorted(s.value for s in series if s.ts_ns < start + int(step_s * S))
    assert want[0].value == first[15] != first[16]


async def test_latest_reads_each_series_table(
    store: InfluxV2Store, stub: InfluxDB2Stub, embedded: EmbeddedStore
) -> None:
    columns: list[Column] = [
        ("_time", "dateTime:RFC3339", False),
        ("_value", "double", False),
        ("device_id", "string", True),
        ("metric_name", "string", True),
    ]
    last_cpu = max(SAMPLES, key=lambda s: s.ts_ns if s.metric_name == CPU else 0)
    other = Sample(DEVICE_METRICS, "r0", "mem", 1e20, T0 - 5)
    tables = [
        [[flux_time(last_cpu.ts_ns), go_float(last_cpu.value), DEV, CPU]],
        [[flux_time(other.ts_ns), go_float(other.value), "r0", "mem"]],
    ]
    stub.queries[latest_query(BUCKET, DEVICE_METRICS, None)] = Reply(
        body=annotated("_result", columns, tables)
    )
    await embedded.write([other])
    assert await store.latest(DEVICE_METRICS) == await embedded.latest(DEVICE_METRICS)
    last_status = max((s for s in SAMPLES if s.measurement == DEVICE_STATUS), key=lambda s: s.ts_ns)
    stub.queries[latest_query(BUCKET, DEVICE_STATUS, DEV)] = Reply(
        body=annotated(
            "_result",
            columns[:3],
            [[[flux_time(last_status.ts_ns), go_float(last_status.value), DEV]]],
        )
    )
    assert await store.latest(DEVICE_STATUS, DEV) == await embedded.latest(DEVICE_STATUS, DEV)
    assert await store.latest("no_such_measurement") == []


async def test_series_of_both_measurements(
    store: InfluxV2Store, stub: InfluxDB2Stub, embedded: EmbeddedStore
) -> None:
    # last() keeps one row per series; device_status tables have no metric_name column, so
    # after keep() they are a schema of their own (a new annotation block)
    columns: list[Column] = [
        ("_measurement", "string", True),
        ("device_id", "string", True),
        ("metric_name", "string", True),
    ]
    answer = annotated("_result", columns, [[["device_metrics", DEV, CPU]]]) + annotated(
        "_result", columns[:2], [[["device_status", DEV]]], first_table=1
    )
    stub.queries[series_query(BUCKET, DEV)] = Reply(body=answer)
    assert await store.series(DEV) == await embedded.series(DEV)
    assert len(await embedded.series(DEV)) == 2


async def test_rounds_group_by_instant_and_keep_the_newest(
    store: InfluxV2Store, stub: InfluxDB2Stub
) -> None:
    columns: list[Column] = [
        ("_time", "dateTime:RFC3339", False),
        ("_value", "double", False),
        ("metric_name", "string", True),
    ]
    rtt = [[flux_time(T0 + i * S), go_float(1.5 + i), "icmp.rtt_ms"] for i in range(3)]
    loss = [[flux_time(T0 + i * S), go_float(0.0), "icmp.loss_pct"] for i in range(3)]
    stub.queries[rounds_query(BUCKET, DEV, "icmp", T0, T0 + 10 * S)] = Reply(
        body=annotated("_result", columns, [rtt, loss])
    )
    assert await store.rounds(DEV, "icmp", T0, T0 + 10 * S, 2) == [
        (T0 + S, {"rtt_ms": 2.5, "loss_pct": 0.0}),
        (T0 + 2 * S, {"rtt_ms": 3.5, "loss_pct": 0.0}),
    ]
    assert await store.rounds(DEV, "icmp", T0, T0 + 10 * S, 0) == []


async def test_empty_answers_and_ranges(store: InfluxV2Store, stub: InfluxDB2Stub) -> None:
    for query in (
        raw_query(BUCKET, "nobody", CPU, T0, T0 + S),
        stepped_query(BUCKET, "nobody", CPU, T0, T0 + S, S, ["count", "min", "max", "sum"]),
        latest_query(BUCKET, DEVICE_METRICS, "nobody"),
        series_query(BUCKET, "nobody"),
        rounds_query(BUCKET, "nobody", "icmp", T0, T0 + S),
    ):
        stub.queries[query] = Reply(body="\r\n")
    assert await store.points("nobody", CPU, T0, T0 + S) == []
    assert await store.points("nobody", CPU, T0, T0 + S, 1.0) == []
    assert await store.latest(DEVICE_METRICS, "nobody") == []
    assert await store.series("nobody") == []
    assert await store.rounds("nobody", "icmp", T0, T0 + S, 5) == []
    requests = len(stub.requests)
    assert await store.points(DEV, CPU, T0, T0) == []  # Flux refuses an empty range: not sent
    assert len(stub.requests) == requests


async def test_a_refused_query_carries_influxdbs_message(
    store: InfluxV2Store, stub: InfluxDB2Stub
) -> None:
    stub.queries[series_query(BUCKET, None)] = error_reply(
        400, "invalid", "compilation failed: error @3:6-3:52: undefined identifier fliter"
    )
    with pytest.raises(PermanentStorageError, match=r"\(400\): compilation failed.*fliter"):
        await store.series()


async def test_an_error_after_the_answer_started_raises(
    store: InfluxV2Store, stub: InfluxDB2Stub
) -> None:
    rows = [[flux_time(T0), "1.5"]]
    columns: list[Column] = [("_time", "dateTime:RFC3339", False), ("_value", "double", False)]
    error_table = (
        "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n"
        ',"runtime error: out of memory",\r\n'
    )
    stub.queries[raw_query(BUCKET, DEV, CPU, T0, T0 + S)] = Reply(
        body=annotated("_result", columns, [rows]) + error_table
    )
    with pytest.raises(PermanentStorageError, match="query failed: runtime error: out of memory"):
        await store.points(DEV, CPU, T0, T0 + S)


# -- settings and factory ----------------------------------------------------------------------
def _v2(**fields: object) -> StoreSettings:
    values: dict[str, object] = {
        "kind": "influxdb2",
        "url": "http://127.0.0.1:8086",
        "org": ORG,
        "bucket": BUCKET,
        "token_env": "NG_TEST_INFLUX_TOKEN",
        **fields,
    }
    return StoreSettings.model_validate({k: v for k, v in values.items() if v is not None})


async def test_the_factory_builds_the_v2_store_with_its_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NG_TEST_INFLUX_TOKEN", TOKEN)
    settings = Settings(data_dir=tmp_path, stores=[_v2()], query_store="influxdb2")
    built = build_stores(settings, tmp_path / "m.db")
    try:
        v2 = built[1]
        assert isinstance(v2, InfluxV2Store) and query_store(settings, built) is v2
        assert (v2.url, v2.org, v2.bucket) == ("http://127.0.0.1:8086", ORG, BUCKET)
        assert v2._client.headers["authorization"] == f"Token {TOKEN}"
    finally:
        for each in built:
            await each.close()
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    settings = Settings(data_dir=tmp_path, stores=[_v2(token_env=None, token_file=token_file)])
    built = build_stores(settings, tmp_path / "m2.db")
    try:
        assert isinstance(built[1], InfluxV2Store)
        assert built[1]._client.headers["authorization"] == "Token from-a-file"
    finally:
        for each in built:
            await each.close()


def test_a_missing_token_is_a_clear_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NG_TEST_INFLUX_TOKEN", raising=False)
    settings = Settings(data_dir=tmp_path, stores=[_v2()])
    with pytest.raises(ConfigError) as info:
        build_stores(settings, tmp_path / "m.db")
    assert str(info.value) == (
        "<settings>: stores[0].token_env: environment variable NG_TEST_INFLUX_TOKEN is not set"
    )
    for path, why in ((tmp_path / "absent", "No such file or directory"), (tmp_path, "")):
        settings = Settings(data_dir=tmp_path, stores=[_v2(token_env=None, token_file=path)])
        with pytest.raises(ConfigError, match=rf"stores\[0\]\.token_file: cannot read .*{why}"):
            build_stores(settings, tmp_path / "m.db")
    (tmp_path / "empty").write_text("\n")
    settings = Settings(
        data_dir=tmp_path, stores=[_v2(token_env=None, token_file=tmp_path / "empty")]
    )
    with pytest.raises(ConfigError, match=r"stores\[0\]\.token_file: .*empty is empty"):
        build_stores(settings, tmp_path / "m.db")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"org": None}, "kind influxdb2 needs org"),
        ({"org": None, "bucket": None}, "kind influxdb2 needs org and bucket"),
        ({"token_env": None}, "needs exactly one of token_env or token_file"),
        ({"token_file": "/run/secrets/t"}, "needs exactly one of token_env or token_file"),
        ({"token_env": "lower-case"}, "is not an environment variable name"),
        ({"username": "u"}, "username: InfluxDB 1.x only"),
        ({"database": "d", "password_env": "P"}, "database, password_env: InfluxDB 1.x only"),
        ({"kind": "influxdb"}, "bucket, org, token_env: InfluxDB 2 only (kind influxdb2)"),
        ({"kind": "victoriametrics", "org": None, "bucket": None}, "token_env: InfluxDB 2 only"),
    ],
)
def test_store_settings_of_kind_influxdb2(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _v2(**fields)


def test_query_store_influxdb2_must_be_configured() -> None:
    with pytest.raises(ValueError, match="query_store 'influxdb2' is not among"):
        Settings(query_store="influxdb2")
    assert Settings(query_store="influxdb2", stores=[_v2()]).query_store == "influxdb2"
