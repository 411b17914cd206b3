"""What the agent measures on its own host, with psutil, under the poller's metric names.

The names and their meaning are those of :mod:`netgauge.pollers.readings`, so a host that
pushes and a host that is polled over SSH draw the same charts:

=========================  =================================================================
metric                     source and computation
=========================  =================================================================
``cpu_percent``            ``psutil.cpu_percent(interval=None)``: busy share since the
                           previous call. The first call only sets the baseline, so the
                           **first collection has no CPU value**; nor has one taken less than
                           :data:`MIN_SPAN_S` after the previous (the share of a few
                           scheduler ticks is noise).
``memory_percent``         ``virtual_memory()``: (total - available) / total
``disk_percent``           ``disk_usage(mount)`` of each local fixed file system:
                           used / (used + free), df's Capacity, as the SSH poller reports
                           it (blocks reserved for root count as unavailable). What is not
                           a disk by :mod:`netgauge.pollers.filesystems` (pseudo, network and
                           read-only file systems, mounts under /proc /sys /dev /run), CD
                           drives and empty ones are left out.
``temperature_celsius``    ``sensors_temperatures()`` (Linux, FreeBSD): sensor
                           ``<chip>/<label>``, or ``<chip>/<index>`` for an unlabelled or
                           repeated label. Absent where psutil has none (Windows, macOS,
                           most VMs and containers): absent, never 0.
``net_*_bytes_per_sec``    ``net_io_counters(pernic=True)`` byte counters through
                           :class:`~netgauge.pollers.rates.RateTracker`: the first collection
                           has no rates.
``uptime_seconds``         ``time.time() - boot_time()``
=========================  =================================================================

Which interfaces and disks: those the agent's ``--interfaces`` and ``--disks`` select
(:mod:`netgauge.pollers.selection`, the rule of the pollers' jobs). An interface's type is
known only where psutil says it is a loopback (``net_if_stats`` flags, on Unix):
``softwareLoopback``, left out by default; a disk's is its partition's ``fstype``.

Every metric goes through :class:`~netgauge.pollers.validation.Rejections` before it is
spooled, as a poller's would: a broken sensor's -273 °C is refused here, with a reason.

psutil is injected (any object with its functions, :class:`Psutil`): the tests pass a fake
namespace, and importing this module does not import psutil (which has no type hints).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, cast

from netgauge.pollers import filesystems
from netgauge.pollers.rates import CounterReading, RateTracker
from netgauge.pollers.readings import (
    CPU_PERCENT,
    DISK_PERCENT,
    MEMORY_PERCENT,
    NET_IN_BYTES_PER_SEC,
    NET_OUT_BYTES_PER_SEC,
    TEMPERATURE_CELSIUS,
    UPTIME_SECONDS,
    Metric,
)
from netgauge.pollers.selection import DiskSelection, InterfaceSelection
from netgauge.pollers.validation import Rejections

MIN_SPAN_S = 0.5
"""CPU share and rates need at least this long since the previous reading."""

"""File system types that are not a disk of this host."""

SELF = "self"  # the RateTracker's device: this host

_log = logging.getLogger(__name__)


class _VirtualMemory(Protocol):
    @property
    def total(self) -> int: ...
    @property
    def available(self) -> int: ...


class _Partition(Protocol):
    @property
    def mountpoint(self) -> str: ...
    @property
    def fstype(self) -> str: ...
    @property
    def opts(self) -> str: ...


class _DiskUsage(Protocol):
    @property
    def used(self) -> int: ...
    @property
    def free(self) -> int: ...


class _NetCounters(Protocol):
    @property
    def bytes_recv(self) -> int: ...
    @property
    def bytes_sent(self) -> int: ...


class _Temperature(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def current(self) -> float: ...


class _NicStats(Protocol):
    @property
    def flags(self) -> str: ...


class Psutil(Protocol):
    """The psutil functions the collector calls (``sensors_temperatures`` and
    ``net_if_stats`` are optional: they are looked up, as psutil has the first on Linux
    and FreeBSD only, and the flags of the second since 5.9.3, on Unix)."""

    def cpu_percent(self, interval: float | None = None) -> float: ...
    def virtual_memory(self) -> _VirtualMemory: ...
    def disk_partitions(self, all: bool = False) -> Sequence[_Partition]: ...
    def disk_usage(self, path: str) -> _DiskUsage: ...
    def net_io_counters(self, pernic: bool = False) -> Mapping[str, _NetCounters]: ...
    def boot_time(self) -> float: ...


def load_psutil() -> Psutil:
    """The real psutil module (imported when the agent starts, not with this module)."""
    return cast(Psutil, importlib.import_module("psutil"))


class Collector:
    """Collects this host's metrics; keeps the CPU and counter baselines between calls.

    ``collect`` returns the metrics that passed validation; ``problems`` holds the lines
    about the last call's absent or refused ones (for the log).
    """

    def __init__(
        self,
        psutil: Psutil,
        *,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        wall_s: Callable[[], float] = time.time,
        interfaces: InterfaceSelection | None = None,
        disks: DiskSelection | None = None,
    ) -> None:
        self._psutil = psutil
        self._interfaces = interfaces if interfaces is not None else InterfaceSelection()
        self._chosen_disks = disks if disks is not None else DiskSelection()
        self._monotonic_ns = monotonic_ns
        self._wall_s = wall_s
        self._rates = RateTracker()
        self._rejections = Rejections()
        self._baseline_ns: int | None = None  # when the CPU and counter baselines were taken
        self.problems: tuple[str, ...] = ()

    @property
    def rejections(self) -> Rejections:
        return self._rejections

    def collect(self) -> list[Metric]:
        """One collection: every metric this host has now (CPU and rates from the second)."""
        metrics: list[Metric] = []
        problems: list[str] = []
        for source in (self._uptime, self._memory, self._disks, self._temperatures):
            metrics += _guarded(source, problems)
        metrics += self._baseline_metrics(problems)
        kept, refused = self._rejections.screen(metrics)
        self.problems = (*problems, *refused)
        return kept

    # -- sources -------------------------------------------------------------------------

    def _uptime(self) -> list[Metric]:
        return [Metric(UPTIME_SECONDS, self._wall_s() - self._psutil.boot_time())]

    def _memory(self) -> list[Metric]:
        memory = self._psutil.virtual_memory()
        if memory.total <= 0:
            return []
        return [Metric(MEMORY_PERCENT, 100.0 * (memory.total - memory.available) / memory.total)]

    def _disks(self) -> list[Metric]:
        metrics: list[Metric] = []
        seen: set[str] = set()
        for partition in self._psutil.disk_partitions(all=False):
            mount = partition.mountpoint
            listed = is_disk(partition.fstype, partition.opts, mount, self._chosen_disks)
            if mount in seen or not listed:
                continue
            seen.add(mount)
            try:
                usage = self._psutil.disk_usage(mount)
            except OSError as exc:  # a stale or unreadable mount: the others still count
                _log.debug("disk_usage(%s) failed: %s", mount, exc)
                continue
            if usage.used + usage.free > 0:
                percent = 100.0 * usage.used / (usage.used + usage.free)
                metrics.append(Metric(DISK_PERCENT, percent, {"mount": mount}))
        return metrics

    def _temperatures(self) -> list[Metric]:
        read = getattr(self._psutil, "sensors_temperatures", None)
        if read is None:
            return []
        chips = cast(Mapping[str, Sequence[_Temperature]], read())
        return [
            Metric(TEMPERATURE_CELSIUS, float(entry.current), {"sensor": sensor})
            for chip, entries in sorted(chips.items())
            for sensor, entry in sensor_names(chip, entries)
        ]

    def _baseline_metrics(self, problems: list[str]) -> list[Metric]:
        """CPU share and interface rates: from the second reading at least MIN_SPAN_S on."""
        now_ns = self._monotonic_ns()
        if self._baseline_ns is not None and now_ns - self._baseline_ns < MIN_SPAN_S * 1e9:
            problems.append(f"cpu_percent and rates: less than {MIN_SPAN_S} s since the last")
            return []
        first, self._baseline_ns = self._baseline_ns is None, now_ns
        cpu = _guarded(self._cpu, problems)  # the first call sets psutil's baseline only
        rates = _guarded(lambda: self._read_counters(now_ns), problems, "net_io_counters")
        if first:
            problems.append("cpu_percent and rates: first reading; the values come next time")
            return []
        return cpu + rates

    def _cpu(self) -> list[Metric]:
        return [Metric(CPU_PERCENT, float(self._psutil.cpu_percent(interval=None)))]

    def _read_counters(self, now_ns: int) -> list[Metric]:
        metrics: list[Metric] = []
        counters = self._psutil.net_io_counters(pernic=True)
        types = self._interface_types()
        for name in sorted(n for n in counters if self._interfaces.keeps(n, types.get(n))):
            for metric, value in (
                (NET_IN_BYTES_PER_SEC, counters[name].bytes_recv),
                (NET_OUT_BYTES_PER_SEC, counters[name].bytes_sent),
            ):
                reading = CounterReading(int(value), now_ns, 64)
                rate = self._rates.rate(SELF, f"{metric}.{name}", reading)
                if rate is not None:
                    metrics.append(Metric(metric, rate, {"interface": name}))
        return metrics

    def _interface_types(self) -> dict[str, str]:
        """``softwareLoopback`` for the interfaces psutil flags as loopbacks; no other type
        is known here."""
        stats = getattr(self._psutil, "net_if_stats", None)
        if stats is None:
            return {}
        nics = cast(Mapping[str, _NicStats], stats())
        return {
            name: "softwareLoopback"
            for name, nic in nics.items()
            if "loopback" in str(getattr(nic, "flags", "")).split(",")
        }


def _guarded(
    source: Callable[[], list[Metric]], problems: list[str], name: str | None = None
) -> list[Metric]:
    """The source's metrics; a failure of one source (psutil raising AccessDenied, a
    sensor read failing) is a problem line, and the other sources still count."""
    try:
        return source()
    except Exception as exc:  # psutil's errors, OSError, whatever a platform raises
        problems.append(f"{name or source.__name__.lstrip('_')}: {type(exc).__name__}: {exc}")
        return []


def is_disk(fstype: str, opts: str, mount: str = "", disks: DiskSelection | None = None) -> bool:
    """Whether a partition is a local, writable fixed file system (the rule of
    :mod:`netgauge.pollers.filesystems`; Windows: not a CD drive, not an empty card reader,
    whose type is empty) that ``disks`` keeps."""
    options = set(opts.split(","))
    if not fstype or options & {"cdrom", "remote"}:
        return False
    chosen = disks if disks is not None else DiskSelection()
    return filesystems.is_disk(mount, fstype=fstype, read_only="ro" in options, disks=chosen)


def sensor_names(chip: str, entries: Sequence[_Temperature]) -> list[tuple[str, _Temperature]]:
    """``<chip>/<label>`` per entry; ``<chip>/<index>`` when the label is empty or repeated
    (two CPU packages both have a ``Core 0``)."""
    labels = [entry.label for entry in entries]
    return [
        (f"{chip}/{label}" if label and labels.count(label) == 1 else f"{chip}/{index}", entry)
        for index, (label, entry) in enumerate(zip(labels, entries, strict=True))
    ]
