"""InfluxV1Store against a real influxd on 127.0.0.1: exact round trips, the same answers as
the embedded store for the same batch, refused lines, and a server that goes away."""

from __future__ import annotations

import math
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from netgauge.errors import PermanentStorageError, RetryableStorageError
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.base import Query, Sink
from netgauge.storage.embedded import EmbeddedStore
from netgauge.storage.influxdb import InfluxV1Store
from netgauge.storage.line_protocol import (
    NOT_FINITE,
    TRAILING_BACKSLASH,
    encode,
    escape_tag,
    split_series_key,
)
from tests.lab.influxdb import InfluxDB, missing_influxdb

T0 = 1_700_000_000_123_456_789  # odd nanoseconds on purpose
DISK = 'disk_percent{mount="/"}'
DEVICES = ("core router 1", "edge,sw=2 a", "plain")
METRICS = (DISK, "ping.rtt_ms", "ping.loss", "ping.jitter ms", 'if{name="eth0, x=1"}.in')
VALUES = (0.1, 1e-300, 123456789.125, -2.5, 0.0, 1e20, 7.0, 3.3333333333333335, 42.0)
# 60 samples 150 ms apart, values out of order and repeated: steps of 2.5 s and 7 s hold 11 to
# 19 and more than 20 of them, where the p95 rank is neither the maximum nor a ceil() rank
DENSE = "dense.rtt_ms"
ALL_METRICS = (*METRICS, DENSE)


def _batch() -> list[Sample]:
    out: list[Sample] = []
    for d, device in enumerate(DEVICES):
        for m, metric in enumerate(METRICS):
            for i in range(9):
                ts = T0 + i * 1_000_000_007 + (m % 2) * 13  # some rounds share instants
                out.append(
                    Sample(DEVICE_METRICS, device, metric, VALUES[(i + m + d) % 9] * (d + 1), ts)
                )
        for i in range(0, 9, 2):
            out.append(Sample(DEVICE_STATUS, device, "status", float((i + d) % 2), T0 + i * 999))
        for i in range(60):
            value = ((i * 37) % 23) * 0.5 + d
            out.append(Sample(DEVICE_METRICS, device, DENSE, value, T0 + i * 150_000_000 + d))
    # a duplicate (series, ts) later in the batch: the newest value wins in both stores
    out.append(Sample(DEVICE_METRICS, "plain", DISK, 99.5, T0 + 2 * 1_000_000_007))
    return out


BATCH = _batch()
START, END = T0 - 5, T0 + 9 * 1_000_000_007  # the last raw sample of each series is outside


def _expected(device: str, metric: str) -> list[tuple[int, float]]:
    latest: dict[int, float] = {}
    for s in BATCH:
        if s.device_id == device and s.metric_name == metric and START <= s.ts_ns < END:
            latest[s.ts_ns] = s.value
    return sorted(latest.items())


@pytest.fixture
async def store(influxdb: InfluxDB) -> AsyncIterator[InfluxV1Store]:
    st = InfluxV1Store(influxdb.url, f"test_{secrets.token_hex(4)}")
    yield st
    await st.close()


@pytest.fixture
async def both(
    store: InfluxV1Store, tmp_path: Path
) -> AsyncIterator[tuple[InfluxV1Store, EmbeddedStore]]:
    embedded = EmbeddedStore(tmp_path / "m.db")
    await store.write(BATCH)
    await embedded.write(BATCH)
    yield store, embedded
    await embedded.close()


def test_protocols(store: InfluxV1Store) -> None:
    assert isinstance(store, Sink)
    assert isinstance(store, Query)


async def test_round_trip_exact(store: InfluxV1Store) -> None:
    await store.write(BATCH)
    for device in DEVICES:
        for metric in (*ALL_METRICS, "status"):
            got = await store.points(device, metric, START, END)
            want = (
                _expected(device, metric)
                if metric != "status"
                else sorted(
                    (s.ts_ns, s.value)
                    for s in BATCH
                    if s.measurement == DEVICE_STATUS and s.device_id == device
                )
            )
            assert [(p.ts_ns, p.value) for p in got] == want, (device, metric)
            assert all(p.min == p.max == p.value and p.count == 1 for p in got)
    assert (await store.points("plain", DISK, START, END))[2].value == 99.5
    health = await store.health()
    assert health.reachable and health.error is None
    assert health.samples_written == len(BATCH)
    assert health.last_write_ns == max(s.ts_ns for s in BATCH)


async def test_braces_quotes_and_equals_in_metric_name(store: InfluxV1Store) -> None:
    sample = Sample(DEVICE_METRICS, "sw 1,a=b", DISK, 12.5, T0)
    await store.write([sample])
    assert await store.series() == [(DEVICE_METRICS, "sw 1,a=b", DISK)]
    [latest] = await store.latest(DEVICE_METRICS)
    assert (latest.device_id, latest.metric_name, latest.ts_ns, latest.value) == (
        "sw 1,a=b",
        DISK,
        T0,
        12.5,
    )


@pytest.mark.parametrize("agg", ["avg", "min", "max", "count", "p95"])
@pytest.mark.parametrize("step_s", [None, 1.0, 2.5, 7.0, 0.000001])
async def test_points_match_embedded(
    both: tuple[InfluxV1Store, EmbeddedStore], step_s: float | None, agg: str
) -> None:
    influx, embedded = both
    for device in DEVICES:
        for metric in (*ALL_METRICS, "status"):
            for start, end in ((START, END), (T0 + 777, T0 + 5_500_000_000), (0, 2**62)):
                want = await embedded.points(device, metric, start, end, step_s, agg)  # type: ignore[arg-type]
                got = await influx.points(device, metric, start, end, step_s, agg)  # type: ignore[arg-type]
                assert got == want, (device, metric, start, end)
                assert got or metric == "status"


async def test_p95_is_the_nearest_rank_rounded_half_up(
    both: tuple[InfluxV1Store, EmbeddedStore],
) -> None:
    influx, _ = both
    end = T0 + 2_500_000_000
    got = await influx.points("plain", DENSE, T0, end, 2.5, "p95")
    bucket = sorted(
        s.value
        for s in BATCH
        if s.metric_name == DENSE and s.device_id == "plain" and s.ts_ns < end
    )
    n = len(bucket)
    assert 11 <= n % 20 <= 19  # where round(0.95 n) and ceil(0.95 n) (Flux's) differ
    wanted = bucket[math.floor(n * 0.95 + 0.5) - 1]
    assert wanted not in (bucket[math.ceil(n * 0.95) - 1], bucket[-1])
    assert [(p.ts_ns, p.value, p.count) for p in got] == [(T0, wanted, n)]


async def test_latest_series_rounds_match_embedded(
    both: tuple[InfluxV1Store, EmbeddedStore],
) -> None:
    influx, embedded = both
    for measurement in (DEVICE_METRICS, DEVICE_STATUS):
        assert await influx.latest(measurement) == await embedded.latest(measurement)
        for device in (*DEVICES, "absent"):
            assert await influx.latest(measurement, device) == await embedded.latest(
                measurement, device
            )
    assert await influx.series() == await embedded.series()
    assert len(await influx.series()) == len(DEVICES) * (len(ALL_METRICS) + 1)
    for device in (*DEVICES, "absent"):
        assert await influx.series(device) == await embedded.series(device)
        for kind in ("ping", 'if{name="eth0, x=1"}', "disk", "pin", "dense"):
            for limit in (1, 3, 100):
                for start, end in ((START, END), (T0 + 1_000_000_000, T0 + 4_000_000_020)):
                    want = await embedded.rounds(device, kind, start, end, limit)
                    got = await influx.rounds(device, kind, start, end, limit)
                    assert got == want, (device, kind, limit, start, end)
    assert await influx.rounds("plain", "ping", START, END, 100)  # not vacuous


async def test_a_field_type_conflict_loses_those_samples_only(
    store: InfluxV1Store, influxdb: InfluxDB
) -> None:
    # a database shared with another tool, whose device_metrics.value is a string this week
    await store.write([Sample(DEVICE_STATUS, "r0", "status", 1.0, T0)])  # creates it
    line = f'device_metrics,device_id=other,metric_name=note value="text" {T0}'
    r = httpx.post(f"{influxdb.url}/write", params={"db": store.database}, content=line)
    assert r.status_code == 204, r.text
    cpu = Sample(DEVICE_METRICS, "r1", "cpu", 1.0, T0)
    up = Sample(DEVICE_STATUS, "r1", "status", 1.0, T0 + 1)
    # InfluxDB writes what it can and answers "partial write: field type conflict ... dropped=1"
    [refusal] = await store.write([cpu, up])
    assert refusal.sample is None  # it says how many, not which
    assert "field type conflict" in refusal.reason and "dropped" not in refusal.reason
    assert [(p.ts_ns, p.value) for p in await store.points("r1", "status", START, END)] == [
        (T0 + 1, 1.0)
    ]
    assert store.samples_written == 2  # the first status and this one


def test_non_finite_values_are_refused_by_the_encoder_one_by_one() -> None:
    good = Sample(DEVICE_METRICS, "r1", "cpu", 1.0, T0)
    bad = [Sample(DEVICE_METRICS, "r1", "t", v, T0 + 1) for v in (math.inf, -math.inf)]
    encoded = encode([good, *bad], finite_only=True)
    assert encoded.lines == [f"device_metrics,device_id=r1,metric_name=cpu value=1.0 {T0}"]
    assert [r.sample for r in encoded.refused] == bad
    assert {r.reason for r in encoded.refused} == {NOT_FINITE}


# tag values as devices report them (Windows volumes, UNC paths, SNMP descriptions)
ODD = (
    'disk_percent{mount="C:\\ Label:  Serial Number 1a2b3c4d"}',
    "\\\\server\\share",
    "a\\,b",
    "a\\=b c",
    "trailing space ",
    "tab\there",
    'quote"d',
)


def test_only_what_influxdb_1_cannot_carry_is_refused() -> None:
    for text in ("ends\\", 'disk_percent{mount="C:\\"}\\', "two\nlines", "cr\rhere"):
        with pytest.raises(PermanentStorageError):
            escape_tag(text)
    assert escape_tag('d{m="/"} x,y=z') == 'd{m\\="/"}\\ x\\,y\\=z'
    assert escape_tag("C:\\ Label") == "C:\\\\ Label"  # the backslash stays as it is
    # a refusal names the rule, not the value: a new odd value in every sample is one reason
    odd = [Sample(DEVICE_METRICS, "d", f"m{i}\\", 1.0, T0) for i in range(100)]
    assert {r.reason for r in encode(odd).refused} == {TRAILING_BACKSLASH}
    assert split_series_key("device_metrics,device_id=a\\ b\\,c,metric_name=x\\=1") == (
        "device_metrics",
        {"device_id": "a b,c", "metric_name": "x=1"},
    )
    assert split_series_key("m,device_id=a\\\\,b,metric_name=C:\\\\ L") == (
        "m",
        {"device_id": "a\\,b", "metric_name": "C:\\ L"},
    )


async def test_odd_tag_values_come_back_byte_for_byte(
    store: InfluxV1Store, influxdb: InfluxDB
) -> None:
    """Every value above written, then read by InfluxDB's own JSON answer (not our parser)
    and by the store: equal to what was sent. One unwritable sample (a trailing backslash)
    is refused alone; the others of its batch are written."""
    batch = [Sample(DEVICE_METRICS, f"dev{i}", odd, float(i), T0 + i) for i, odd in enumerate(ODD)]
    batch += [Sample(DEVICE_METRICS, odd, "cpu_percent", 1.0, T0) for odd in ODD]
    unwritable = Sample(DEVICE_METRICS, "win", 'disk_percent{mount="D:\\"}\\', 5.0, T0)
    refused = await store.write([*batch[:3], unwritable, *batch[3:]])
    assert [r.sample for r in refused] == [unwritable]
    async with httpx.AsyncClient(base_url=influxdb.url) as http:

        async def tag_values(key: str) -> set[str]:
            q = f'SHOW TAG VALUES FROM device_metrics WITH KEY = "{key}"'
            r = await http.get("/query", params={"db": store.database, "q": q})
            rows = r.json()["results"][0]["series"][0]["values"]
            return {str(row[1]) for row in rows}

        assert set(ODD) <= await tag_values("metric_name")
        assert set(ODD) <= await tag_values("device_id")
    stored = {(d, m) for _, d, m in await store.series()}
    assert {(s.device_id, s.metric_name) for s in batch} <= stored
    for sample in batch:
        points = await store.points(sample.device_id, sample.metric_name, T0 - 1, T0 + 100)
        assert [(p.ts_ns, p.value) for p in points] == [(sample.ts_ns, sample.value)]


async def test_write_is_gzip_line_protocol(influxdb: InfluxDB) -> None:
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    client = httpx.AsyncClient(base_url=influxdb.url, event_hooks={"request": [record]})
    store = InfluxV1Store(influxdb.url, f"test_{secrets.token_hex(4)}", client=client)
    try:
        await store.write([Sample(DEVICE_STATUS, "r1", "status", 1.0, T0)])
    finally:
        await store.close()
    # the first write finds the database missing, creates it and is sent again
    assert [r.url.path for r in seen] == ["/write", "/query", "/write"]
    for write in (seen[0], seen[2]):
        assert write.headers["content-encoding"] == "gzip"
        assert write.url.params["precision"] == "ns"
    assert seen[1].url.params["q"].startswith("CREATE DATABASE")


async def test_credentials_stay_out_of_urls(influxdb: InfluxDB) -> None:
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    store = InfluxV1Store(
        influxdb.url, f"test_{secrets.token_hex(4)}", username="u1", password="s3cret"
    )
    store._client.event_hooks["request"].append(record)
    try:
        await store.write([Sample(DEVICE_STATUS, "r1", "status", 1.0, T0)])  # auth is off here
    finally:
        await store.close()
    assert seen and all("s3cret" not in str(r.url) for r in seen)
    assert all(r.headers["authorization"].startswith("Basic ") for r in seen)
    assert "s3cret" not in repr(store)


async def test_server_gone_is_retryable_and_writes_resume() -> None:
    reason = missing_influxdb()
    if reason:
        pytest.skip(reason)
    with InfluxDB() as server:
        store = InfluxV1Store(server.url, "gone", timeout_s=2.0)
        try:
            await store.write([Sample(DEVICE_METRICS, "r1", "cpu", 1.0, T0)])
            server.halt()
            with pytest.raises(RetryableStorageError):
                await store.write([Sample(DEVICE_METRICS, "r1", "cpu", 2.0, T0 + 1)])
            health = await store.health()
            assert not health.reachable and health.error
            with pytest.raises(RetryableStorageError):
                await store.points("r1", "cpu", START, END)
            server.restart()
            await store.write([Sample(DEVICE_METRICS, "r1", "cpu", 2.0, T0 + 1)])
            got = await store.points("r1", "cpu", START, END)
            assert [(p.ts_ns, p.value) for p in got] == [(T0, 1.0), (T0 + 1, 2.0)]
            assert (await store.health()).reachable
        finally:
            await store.close()


async def test_schema_is_exactly_the_specs(store: InfluxV1Store, influxdb: InfluxDB) -> None:
    """measurement device_metrics: tags device_id, metric_name, field value (float);
    measurement device_status: tag device_id, field status; nothing else."""
    await store.write(BATCH)

    def show(statement: str) -> list[list[str]]:
        params = {"db": store.database, "q": statement}
        body = httpx.get(f"{influxdb.url}/query", params=params, timeout=10).json()
        series = body["results"][0].get("series") or []
        return [row for s in series for row in s["values"]]

    assert show("SHOW MEASUREMENTS") == [["device_metrics"], ["device_status"]]
    assert show("SHOW TAG KEYS FROM device_metrics") == [["device_id"], ["metric_name"]]
    assert show("SHOW FIELD KEYS FROM device_metrics") == [["value", "float"]]
    assert show("SHOW TAG KEYS FROM device_status") == [["device_id"]]
    assert show("SHOW FIELD KEYS FROM device_status") == [["status", "float"]]
