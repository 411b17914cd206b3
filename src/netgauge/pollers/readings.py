"""What a device poll returns, whatever the protocol: the metric names users troubleshoot with.

The names are stable (they are the ``metric_name`` tag in storage and the keys of
``netgauge poll ... --json``); each protocol module maps its own sources onto them:

=========================  =======  =========  ===========================================
name                       unit     label      meaning
=========================  =======  =========  ===========================================
``cpu_percent``            %        -          busy CPU over the last interval, all cores
``memory_percent``         %        -          used memory (total - available) / total
``disk_percent``           %        mount      used space of one fixed file system
``temperature_celsius``    °C       sensor     one sensor's reading
``net_in_bytes_per_sec``   B/s      interface  received bytes per second
``net_out_bytes_per_sec``  B/s      interface  sent bytes per second
``uptime_seconds``         s        -          time since the device (or its agent) started
=========================  =======  =========  ===========================================

A metric the device does not have (no temperature sensor) is *absent*, never 0.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from netgauge.series import series_name

CPU_PERCENT = "cpu_percent"
MEMORY_PERCENT = "memory_percent"
DISK_PERCENT = "disk_percent"
TEMPERATURE_CELSIUS = "temperature_celsius"
NET_IN_BYTES_PER_SEC = "net_in_bytes_per_sec"
NET_OUT_BYTES_PER_SEC = "net_out_bytes_per_sec"
UPTIME_SECONDS = "uptime_seconds"

METRIC_LABEL: dict[str, str | None] = {
    CPU_PERCENT: None,
    MEMORY_PERCENT: None,
    DISK_PERCENT: "mount",
    TEMPERATURE_CELSIUS: "sensor",
    NET_IN_BYTES_PER_SEC: "interface",
    NET_OUT_BYTES_PER_SEC: "interface",
    UPTIME_SECONDS: None,
}
"""Every metric name and the one label that tells its series apart (None: one per device)."""


class DeviceState(enum.StrEnum):
    """A device's state as users see it."""

    ONLINE = "online"
    OFFLINE = "offline"
    DEGRADED = "degraded"  # answers, but not every way it should (e.g. ping yes, SNMP no)
    FLAPPING = "flapping"  # changed state too often in the recent window


@dataclass(frozen=True, slots=True)
class Metric:
    """One value of one series: ``name`` from the table above, ``labels`` telling the series
    apart (``{"interface": "eth0"}``)."""

    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)

    def series(self) -> str:
        """``disk_percent{mount="/"}``: the series' name and labels, Prometheus style."""
        return series_name(self.name, self.labels)


@dataclass(frozen=True, slots=True)
class DeviceReading:
    """One poll of one device: whether it answered, its metrics, and what went wrong.

    ``errors`` are problems that did not stop the poll (a table the device lacks, a
    sample refused by validation); ``state`` is OFFLINE when the device did not answer.
    """

    device: str
    kind: str
    ts_ns: int
    state: DeviceState
    metrics: tuple[Metric, ...] = ()
    errors: tuple[str, ...] = ()
    # where a metric came from when a protocol has several ways ({"uptime_seconds":
    # "hrSystemUptime"}): shown by ``poll --json``, so a number can be checked by hand
    sources: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The documented ``--json`` object of ``netgauge poll``."""
        return {
            "device": self.device,
            "status": self.state.value,
            "metrics": [
                {"name": m.name, "value": m.value, "labels": dict(m.labels)} for m in self.metrics
            ],
            "errors": list(self.errors),
            "sources": dict(self.sources),
        }
