"""VictoriaMetricsStore against a real victoria-metrics server on loopback.

One server per writer holds one mixed batch (written once, then force-flushed); each test
reads it back through the Query methods and compares with what was written and with an
EmbeddedStore fed the same batch. The batch is written twice over, each time to a server of
its own: by VictoriaMetricsStore to ``/write``, and by InfluxV2Store (the InfluxDB 2 store) to
VictoriaMetrics' ``/api/v2/write``, which takes the InfluxDB 2 write API. So the v2 store's
write path (URL, parameters, token header, gzip, line protocol, escaping) is checked against a
real server here; its Flux reads are not (see test_influxdb2.py).

VictoriaMetrics keeps milliseconds: timestamps are compared after flooring to the millisecond
(the batch has no two samples of a series in one ms, and query bounds and steps are whole
milliseconds, so bucket boundaries are not moved).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from netgauge.errors import PermanentStorageError, RetryableStorageError
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.base import Point, Query, Sink
from netgauge.storage.embedded import EmbeddedStore
from netgauge.storage.influxdb2 import InfluxV2Store
from netgauge.storage.victoriametrics import VictoriaMetricsStore, quote
from tests.lab.victoriametrics import VictoriaMetrics, missing_victoriametrics

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        missing_victoriametrics() is not None, reason=str(missing_victoriametrics())
    ),
]

MS = 1_000_000
S = 1_000 * MS
T0 = 1_700_000_000 * S  # 2023-11-14, ms-aligned
DISK = 'disk_percent{mount="/"}'
ODD = 'a\\b,c d=e "q" {x}'  # every character line protocol or MetricsQL must escape
DEV = "r1"
DEV2 = "sw-é 2,x=y"
INF_DEV = "inf-dev"
DENSE = "dense.rtt_ms"  # 60 samples 150 ms apart: a 10 s step holds all, 2.5 s ones 16 or 17


def _batch() -> list[Sample]:
    batch: list[Sample] = []
    # one series with sub-ms nanoseconds, samples on and next to 10 s bucket boundaries
    offsets_ns = [0, 1, 999_999, 3 * S + 123_456, 9 * S + 999 * MS + 999_999, 10 * S, 14 * S + 7]
    offsets_ns += [19 * S + 500 * MS, 25 * S, 31 * S + 250_000, 39 * S + 999 * MS]
    # distinct ms per series: 0 / 1 / 999_999 ns would collide in one ms; spread them
    offsets_ns = [o + i * MS for i, o in enumerate(offsets_ns)]
    for i, off in enumerate(offsets_ns):
        batch.append(Sample(DEVICE_METRICS, DEV, "cpu_percent", 10.0 + i * 1.25, T0 + off))
        batch.append(Sample(DEVICE_METRICS, DEV, DISK, 50.0 - i * 0.5, T0 + off + 2 * MS))
    batch.append(Sample(DEVICE_METRICS, DEV, ODD, -3.5, T0 + 5 * S))
    # (values of one series far apart in magnitude lose precision in VictoriaMetrics, whose
    # blocks share one decimal exponent: -3.5 next to 1e300 reads back as 0.0)
    batch.append(Sample(DEVICE_METRICS, DEV, ODD, 12345.678, T0 + 6 * S + 1))
    for r in range(4):  # probe rounds: icmp.* at one instant each, and a look-alike name
        ts = T0 + r * 15 * S + 333_333
        batch.append(Sample(DEVICE_METRICS, DEV2, "icmp.rtt_ms", 1.5 + r, ts))
        batch.append(Sample(DEVICE_METRICS, DEV2, "icmp.loss_pct", 0.0 if r else 25.0, ts))
        batch.append(Sample(DEVICE_METRICS, DEV2, "icmpx.rtt_ms", 99.0, ts))
        batch.append(Sample(DEVICE_METRICS, DEV2, "tcp.connect_ms", 7.0, ts))
        batch.append(Sample(DEVICE_STATUS, DEV2, "status", float(r % 2), ts))
    batch.append(Sample(DEVICE_STATUS, DEV, "status", 1.0, T0 + 40 * S + 5))
    batch.append(Sample(DEVICE_METRICS, INF_DEV, "up", float("inf"), T0))
    batch.append(Sample(DEVICE_METRICS, INF_DEV, "down", float("-inf"), T0))
    for i in range(60):  # values out of order and repeated; p95 is neither max nor interpolated
        batch.append(Sample(DEVICE_METRICS, DEV, DENSE, ((i * 37) % 23) * 0.5, T0 + i * 150 * MS))
    return batch


BATCH = _batch()


def _floor(ts_ns: int) -> int:
    return ts_ns // MS * MS


def _writer(path: str, url: str) -> VictoriaMetricsStore | InfluxV2Store:
    if path == "/write":
        return VictoriaMetricsStore(url)
    return InfluxV2Store(url, org="netgauge", bucket="netgauge", token="not-checked-by-vm")


@pytest.fixture(scope="module", params=["/write", "/api/v2/write"])
def vm(request: pytest.FixtureRequest) -> Iterator[VictoriaMetrics]:
    with VictoriaMetrics() as server:
        store = _writer(request.param, server.url)

        async def write() -> None:
            try:
                await store.write(BATCH)
            finally:
                await store.close()

        asyncio.run(write())
        server.flush()
        yield server


@pytest.fixture
async def store(vm: VictoriaMetrics) -> AsyncIterator[VictoriaMetricsStore]:
    s = VictoriaMetricsStore(vm.url)
    yield s
    await s.close()


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[EmbeddedStore]:
    e = EmbeddedStore(tmp_path / "m.db")
    await e.write(BATCH)
    yield e
    await e.close()


def _ms(points: list[Point]) -> list[Point]:
    return [p._replace(ts_ns=_floor(p.ts_ns)) for p in points]


async def test_protocols(store: VictoriaMetricsStore) -> None:
    assert isinstance(store, Sink)
    assert isinstance(store, Query)
    health = await store.health()
    assert health.reachable and health.error is None and health.name == "victoriametrics"


@pytest.mark.parametrize("metric", ["cpu_percent", DISK, ODD, "status"])
async def test_raw_points_round_trip(store: VictoriaMetricsStore, metric: str) -> None:
    device = DEV
    written = sorted(
        (_floor(s.ts_ns), s.value)
        for s in BATCH
        if s.device_id == device and s.metric_name == metric
    )
    assert written
    got = await store.points(device, metric, T0 - S, T0 + 100 * S)
    assert [(p.ts_ns, p.value) for p in got] == written
    assert all(p.count == 1 and p.min == p.max == p.value for p in got)


async def test_raw_points_match_embedded(
    store: VictoriaMetricsStore, embedded: EmbeddedStore
) -> None:
    # bounds cut through the series, on and next to sample instants
    for start, end in [(T0, T0 + 20 * S), (T0 + 3 * MS, T0 + 25 * S), (T0 + 10 * S, T0 + 10 * S)]:
        for metric in ("cpu_percent", DISK):
            want = _ms(await embedded.points(DEV, metric, start, end))
            assert await store.points(DEV, metric, start, end) == want, (metric, start, end)


@pytest.mark.parametrize("agg", ["avg", "min", "max", "count", "p95"])
@pytest.mark.parametrize(
    ("start_off", "end_off", "step_s"),
    [(0, 40 * S, 10.0), (-5 * S, 45 * S, 10.0), (0, 33 * S, 10.0), (1 * MS, 40 * S, 2.5)],
)
async def test_stepped_points_match_embedded(
    store: VictoriaMetricsStore,
    embedded: EmbeddedStore,
    agg: str,
    start_off: int,
    end_off: int,
    step_s: float,
) -> None:
    for metric in ("cpu_percent", DISK, DENSE):
        args = (DEV, metric, T0 + start_off, T0 + end_off, step_s, agg)
        want = await embedded.points(*args)  # type: ignore[arg-type]
        got = await store.points(*args)  # type: ignore[arg-type]
        assert [(p.ts_ns, p.count, p.min, p.max) for p in got] == [
            (p.ts_ns, p.count, p.min, p.max) for p in want
        ]
        assert [p.value for p in got] == pytest.approx([p.value for p in want], rel=1e-12)
        assert want, "the windows were chosen to hold samples"


async def test_p95_is_the_nearest_rank_not_quantile_over_time(
    store: VictoriaMetricsStore,
) -> None:
    # 17 samples in [T0, T0 + 2.5 s): the nearest rank rounded half up (the embedded store's and
    # InfluxQL's p95) is the 16th value; VictoriaMetrics interpolates at 0.95 * 16 = 15.2
    got = await store.points(DEV, DENSE, T0, T0 + 10 * S, 2.5, "p95")
    bucket = sorted(s.value for s in BATCH if s.metric_name == DENSE and s.ts_ns < T0 + 2500 * MS)
    n = len(bucket)
    assert (got[0].ts_ns, got[0].count) == (T0, n) and n == 17
    assert got[0].value == bucket[math.floor(n * 0.95 + 0.5) - 1] == 10.0
    selector = f"device_metrics_value{{device_id={quote(DEV)},metric_name={quote(DENSE)}}}"
    at_s = f"{(T0 // MS + 2499) / 1000:.3f}"  # the window (at - 2.5 s, at] is the bucket
    data = await store._query(
        "/api/v1/query", {"query": f"quantile_over_time(0.95, {selector}[2500ms])", "time": at_s}
    )
    rank = 0.95 * (n - 1)
    low = math.floor(rank)
    interpolated = bucket[low] + (bucket[low + 1] - bucket[low]) * (rank - low)
    assert float(data["result"][0]["value"][1]) == pytest.approx(interpolated) == 10.1


async def test_latest_matches_embedded(
    store: VictoriaMetricsStore, embedded: EmbeddedStore
) -> None:
    for measurement in (DEVICE_METRICS, DEVICE_STATUS):
        for device in (None, DEV, DEV2, "nobody"):
            want = [
                dataclasses.replace(v, ts_ns=_floor(v.ts_ns))
                for v in await embedded.latest(measurement, device)
            ]
            assert await store.latest(measurement, device) == want, (measurement, device)


async def test_series_matches_embedded(
    store: VictoriaMetricsStore, embedded: EmbeddedStore
) -> None:
    for device in (None, DEV, DEV2, "nobody"):
        assert await store.series(device) == await embedded.series(device), device
    assert (DEVICE_METRICS, DEV, DISK) in await store.series(DEV)


async def test_rounds_match_embedded(store: VictoriaMetricsStore, embedded: EmbeddedStore) -> None:
    for kind, start, end, limit in [
        ("icmp", T0, T0 + 100 * S, 10),
        ("icmp", T0, T0 + 100 * S, 2),
        ("icmp", T0 + 15 * S, T0 + 45 * S, 10),
        ("tcp", T0, T0 + 100 * S, 3),
        ("nothing", T0, T0 + 100 * S, 3),
    ]:
        want = [(_floor(ts), m) for ts, m in await embedded.rounds(DEV2, kind, start, end, limit)]
        got = await store.rounds(DEV2, kind, start, end, limit)
        assert got == want, (kind, start, end, limit)
    assert len(await store.rounds(DEV2, "icmp", T0, T0 + 100 * S, 10)) == 4


async def test_an_unrepresentable_sample_is_refused_alone(store: VictoriaMetricsStore) -> None:
    bad = Sample(DEVICE_METRICS, "line\nbreak", "cpu_percent", 1.0, T0)
    good = Sample(DEVICE_METRICS, "C:\\", 'disk_percent{mount="C:\\ Label"}', 2.0, T0)
    refused = await store.write([bad, good])
    assert [r.sample for r in refused] == [bad] and "line break" in refused[0].reason
    assert store.samples_written == 1


async def test_refused_body_is_permanent_with_reason(store: VictoriaMetricsStore) -> None:
    # VictoriaMetrics 1.79 skips unparsable lines with 204; a body it cannot read gets a 400
    with pytest.raises(PermanentStorageError, match="400.*gzip"):
        await store._send(b"this is not gzip")
    health = await store.health()
    assert not health.reachable and health.error and "400" in health.error


async def test_stopped_server_is_retryable() -> None:
    with VictoriaMetrics() as server:
        store = VictoriaMetricsStore(server.url, timeout_s=2.0)
        await store.write(BATCH[:2])
        server.stop()
        try:
            with pytest.raises(RetryableStorageError):
                await store.write(BATCH[:2])
            with pytest.raises(RetryableStorageError):
                await store.points(DEV, "cpu_percent", T0, T0 + S)
            health = await store.health()
            assert not health.reachable and health.samples_written == 2
        finally:
            await store.close()


async def test_infinities_round_trip(store: VictoriaMetricsStore) -> None:
    # export writes them as bare +Inf / -Inf, which is not JSON
    for s in BATCH:
        if s.device_id == INF_DEV:
            got = await store.points(INF_DEV, s.metric_name, T0, T0 + S)
            assert [(p.ts_ns, p.value) for p in got] == [(T0, s.value)]


def test_schema_is_exactly_the_specs(vm: VictoriaMetrics) -> None:
    """device_metrics with tags device_id and metric_name and field value, device_status with
    tag device_id and field status: VictoriaMetrics names them <measurement>_<field>."""
    day_s = 86_400
    params = {
        "match[]": '{__name__=~"device_.*"}',
        "start": str(T0 // 10**9 - day_s),
        "end": str(T0 // 10**9 + day_s),
    }
    found = httpx.get(f"{vm.url}/api/v1/series", params=params, timeout=10).json()["data"]
    shapes = {(s["__name__"], tuple(sorted(set(s) - {"__name__"}))) for s in found}
    assert shapes == {
        ("device_metrics_value", ("device_id", "metric_name")),
        ("device_status_status", ("device_id",)),
    }
    names = httpx.get(f"{vm.url}/api/v1/label/__name__/values", params=params, timeout=10).json()[
        "data"
    ]
    assert set(names) == {"device_metrics_value", "device_status_status"}
