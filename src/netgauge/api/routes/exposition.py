"""``/metrics``: every series' newest value in the Prometheus text format, so an existing
Prometheus (and Grafana behind it) can scrape netgauge as it is.

**No stale values.** A series is exposed only while the newest result of a job covering
its target still has it: when a round has no value for it (an ICMP round with 100 % loss
has no RTT, a disk unmounted, an interface gone), it disappears at once, and Prometheus
marks it stale instead of storing fresh copies of an old value. Until a target has been
checked since netgauge started, its stored values carry their own timestamps, so a scrape
never dates an old value now.

A stored series becomes one sample of a gauge named after its metric: ``icmp.rtt_avg_ms``
of target ``gw`` is ``netgauge_icmp_rtt_avg_ms{device="gw"}``, and a device metric keeps
its labels: ``disk_percent{mount="/"}`` is ``netgauge_disk_percent{device="sw1",mount="/"}``.
``device_status`` is ``netgauge_status``. netgauge's own health follows: samples written,
pending and dropped per store, refused samples by reason, devices per state.
Rendering and escaping are prometheus_client's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from netgauge.api.deps import ServiceDep
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS
from netgauge.pollers.jobs import REJECTIONS
from netgauge.series import split_series
from netgauge.storage.base import LatestValue

router = APIRouter(tags=["metrics"])

PREFIX = "netgauge_"
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def family_name(metric: str) -> str:
    """``icmp.rtt_avg_ms`` -> ``netgauge_icmp_rtt_avg_ms`` (anything else than [a-zA-Z0-9_]
    becomes ``_``)."""
    return PREFIX + _INVALID.sub("_", metric)


Current = Callable[[str], "set[str] | None"]


def _fresh(row: LatestValue, current: Current) -> tuple[bool, float | None]:
    """(show it, its timestamp in seconds or None for "now") under the staleness rule."""
    names = current(row.device_id)
    if names is None:  # not checked since start: the value is shown as of when it was taken
        return True, row.ts_ns / 1e9
    return row.metric_name in names, None


def series_families(
    rows: Iterable[LatestValue],
    status: Iterable[LatestValue],
    current: Current = lambda _device: None,
) -> list[Metric]:
    """One gauge family per metric name, one sample per series; ``current`` gives the
    metric names of a device's newest results (see the module docstring)."""
    Entry = tuple[dict[str, str], float, float | None]
    grouped: dict[str, list[Entry]] = defaultdict(list)
    for row in rows:
        shown, ts = _fresh(row, current)
        if not shown:
            continue
        name, labels = split_series(row.metric_name)
        grouped[family_name(name)].append(({"device": row.device_id, **labels}, row.value, ts))
    for row in status:
        ts = None if current(row.device_id) is not None else row.ts_ns / 1e9
        grouped[PREFIX + "status"].append(({"device": row.device_id}, row.value, ts))
    out: list[Metric] = []
    for family, samples in sorted(grouped.items()):
        keys = sorted({key for labels, _value, _ts in samples for key in labels})
        gauge = GaugeMetricFamily(family, f"newest {family.removeprefix(PREFIX)}", labels=keys)
        for labels, value, ts in samples:
            gauge.add_metric([labels.get(key, "") for key in keys], value, timestamp=ts)
        out.append(gauge)
    return out


class _Snapshot(Collector):
    """A collector over metric families computed for one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self._families)


@router.get("/metrics", include_in_schema=False)
async def metrics(service: ServiceDep) -> Response:
    """The Prometheus exposition of every series' newest value and of netgauge's health."""
    rows = await service.latest(DEVICE_METRICS)
    status = await service.latest(DEVICE_STATUS)
    current = service.current_metrics
    families = series_families(rows, status, current) + await _health_families(service)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def _health_families(service: ServiceDep) -> list[Metric]:
    health = await service.health()
    written = CounterMetricFamily(
        PREFIX + "store_samples_written", "samples written", labels=["store"]
    )
    pending = GaugeMetricFamily(
        PREFIX + "store_pending_samples", "samples waiting", labels=["store"]
    )
    dropped = CounterMetricFamily(
        PREFIX + "store_dropped_samples",
        "samples the store refused or its full spool dropped",
        labels=["store"],
    )
    spooled = GaugeMetricFamily(
        PREFIX + "store_spooled_bytes", "bytes waiting in the store's disk spool", labels=["store"]
    )
    up = GaugeMetricFamily(
        PREFIX + "store_up",
        "1 unless the store is down (unreachable, or its writes fail)",
        labels=["store"],
    )
    degraded = GaugeMetricFamily(
        PREFIX + "store_degraded",
        "1 while the store is degraded: it lost samples within store_degraded_for_s "
        "(cause: samples_lost); 0 when ok or down",
        labels=["store", "cause"],
    )
    newest = GaugeMetricFamily(
        PREFIX + "store_newest_sample_timestamp_seconds",
        "time of the newest sample the store has taken",
        labels=["store"],
    )
    succeeded = GaugeMetricFamily(
        PREFIX + "store_last_success_timestamp_seconds",
        "when the store last took a batch",
        labels=["store"],
    )
    for store in health["stores"]:
        up.add_metric([store["name"]], 0.0 if store["state"] == "down" else 1.0)
        is_degraded = store["state"] == "degraded"
        degraded.add_metric([store["name"], store["cause"] or ""], 1.0 if is_degraded else 0.0)
        if store.get("last_success_ns") is not None:
            succeeded.add_metric([store["name"]], store["last_success_ns"] / 1e9)
        if store["last_write_ns"] is not None:
            newest.add_metric([store["name"]], store["last_write_ns"] / 1e9)
        written.add_metric([store["name"]], store["samples_written"])
        pending.add_metric([store["name"]], store["pending"])
        spool = store.get("spool")
        lost = store["dropped"] + (spool["dropped_samples"] if spool else 0)
        dropped.add_metric([store["name"]], lost)
        if spool:
            spooled.add_metric([store["name"]], spool["bytes"])
    refused = CounterMetricFamily(
        PREFIX + "samples_refused", "device samples refused by validation", labels=["reason"]
    )
    for reason, count in sorted(REJECTIONS.counts().items()):
        refused.add_metric([reason], count)
    devices = GaugeMetricFamily(PREFIX + "devices", "devices per decided state", labels=["state"])
    counts: dict[str, int] = defaultdict(int)
    for state in service.device_states().values():
        counts[state.value if state else "unknown"] += 1
    for state_name, count in sorted(counts.items()):
        devices.add_metric([state_name], count)
    return [up, degraded, newest, succeeded, written, pending, dropped, spooled, refused, devices]
