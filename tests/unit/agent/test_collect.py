"""The agent's collector on a fake psutil: the metric names and labels of the pollers, no
CPU or rates on the first call, absent (never 0) temperatures, the disk rule of the SSH
poller, and a failing source that does not take the others with it."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from netgauge.agent.collect import Collector, is_disk, load_psutil
from netgauge.pollers.readings import METRIC_LABEL, Metric

S = 1_000_000_000


def part(mount: str, fstype: str = "ext4", opts: str = "rw,relatime") -> SimpleNamespace:
    return SimpleNamespace(device="/dev/x", mountpoint=mount, fstype=fstype, opts=opts)


def nic(received: int, sent: int) -> SimpleNamespace:
    return SimpleNamespace(bytes_recv=received, bytes_sent=sent)


def temp(label: str, current: float) -> SimpleNamespace:
    return SimpleNamespace(label=label, current=current, high=None, critical=None)


class FakePsutil:
    """The psutil functions the collector calls, with values the tests set."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.cpu_calls = 0
        self.memory = SimpleNamespace(total=1000, available=250, percent=75.0)
        self.partitions = [part("/"), part("/boot", "vfat")]
        self.usage = {
            "/": SimpleNamespace(total=100, used=45, free=45, percent=50.0),
            "/boot": SimpleNamespace(total=10, used=1, free=9, percent=10.0),
        }
        self.counters = {"eth0": nic(1_000, 500), "lo": nic(0, 0)}
        self.boot = 1_000.0

    def cpu_percent(self, interval: float | None = None) -> float:
        assert interval is None  # never blocks
        self.cpu_calls += 1
        return self.cpu

    def virtual_memory(self) -> SimpleNamespace:
        return self.memory

    def disk_partitions(self, all: bool = False) -> list[SimpleNamespace]:
        assert all is False
        return self.partitions

    def disk_usage(self, path: str) -> SimpleNamespace:
        if path not in self.usage:
            raise PermissionError(13, "Permission denied", path)
        return self.usage[path]

    def net_io_counters(self, pernic: bool = False) -> Mapping[str, SimpleNamespace]:
        assert pernic
        return self.counters

    def boot_time(self) -> float:
        return self.boot


class WithSensors(FakePsutil):
    def __init__(self, chips: dict[str, list[SimpleNamespace]]) -> None:
        super().__init__()
        self.chips = chips

    def sensors_temperatures(self) -> dict[str, list[SimpleNamespace]]:
        return self.chips


class Clock:
    def __init__(self) -> None:
        self.ns = 50 * S
        self.wall = 4_600.0

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * S)
        self.wall += seconds


def collector(fake: Any, clock: Clock) -> Collector:
    return Collector(fake, monotonic_ns=lambda: clock.ns, wall_s=lambda: clock.wall)


def by_series(metrics: list[Metric]) -> dict[str, float]:
    return {metric.series(): metric.value for metric in metrics}


def test_the_first_collection_has_no_cpu_and_no_rates_and_says_so() -> None:
    clock = Clock()
    metrics = collector(fake := FakePsutil(), clock)
    first = by_series(metrics.collect())
    assert first == {
        "uptime_seconds": 3_600.0,
        "memory_percent": 75.0,
        'disk_percent{mount="/"}': 50.0,
        'disk_percent{mount="/boot"}': 10.0,
    }
    assert fake.cpu_calls == 1  # psutil's baseline was set
    assert any("first reading" in line for line in metrics.problems)


def test_the_second_collection_has_cpu_and_rates_per_interface() -> None:
    clock, fake = Clock(), FakePsutil()
    metrics = collector(fake, clock)
    metrics.collect()
    clock.advance(2.0)
    fake.cpu = 37.5
    fake.counters = {"eth0": nic(5_000, 1_500), "lo": nic(200, 200)}
    second = by_series(metrics.collect())
    assert second["cpu_percent"] == 37.5
    assert second['net_in_bytes_per_sec{interface="eth0"}'] == 2_000.0
    assert second['net_out_bytes_per_sec{interface="eth0"}'] == 500.0
    assert second['net_in_bytes_per_sec{interface="lo"}'] == 100.0
    assert metrics.problems == ()


def test_every_name_and_label_is_the_pollers() -> None:
    clock = Clock()
    metrics = collector(WithSensors({"coretemp": [temp("Package id 0", 45.0)]}), clock)
    metrics.collect()
    clock.advance(1.0)
    found = metrics.collect()
    assert {m.name for m in found} == set(METRIC_LABEL)
    for metric in found:
        label = METRIC_LABEL[metric.name]
        assert list(metric.labels) == ([] if label is None else [label]), metric


def test_a_collection_too_soon_after_the_last_has_no_cpu_or_rates() -> None:
    clock, fake = Clock(), FakePsutil()
    metrics = collector(fake, clock)
    metrics.collect()
    clock.advance(0.1)
    assert "cpu_percent" not in by_series(metrics.collect())
    assert fake.cpu_calls == 1  # the baseline was kept for the next one
    clock.advance(1.0)
    assert "cpu_percent" in by_series(metrics.collect())


def test_memory_is_total_minus_available() -> None:
    fake = FakePsutil()
    fake.memory = SimpleNamespace(total=8_000, available=6_000, percent=99.0)
    assert by_series(collector(fake, Clock()).collect())["memory_percent"] == 25.0


def test_disks_are_local_fixed_file_systems_once_each_as_df_counts_them() -> None:
    fake = FakePsutil()
    fake.partitions = [
        part("/"),
        part("/", "ext4"),  # a bind mount of the same mount point
        part("/run", "tmpfs"),
        part("/snap/core/1", "squashfs"),
        part("/proc", "proc"),
        part("/mnt/share", "nfs4"),
        part("/media/cd", "iso9660"),
        part("D:\\", "", "cdrom"),
        part("/var/lib/docker", "overlay"),
        part("/data", "xfs"),
        part("/gone", "ext4"),  # disk_usage fails: left out, the others still count
    ]
    fake.usage["/"] = SimpleNamespace(total=100, used=90, free=5, percent=94.7)
    fake.usage["/data"] = SimpleNamespace(total=0, used=0, free=0, percent=0.0)
    disks = {k: v for k, v in by_series(collector(fake, Clock()).collect()).items() if "disk" in k}
    # used / (used + free): the blocks reserved for root count as unavailable
    assert disks == {'disk_percent{mount="/"}': pytest.approx(100 * 90 / 95)}


def test_is_disk() -> None:
    assert is_disk("ext4", "rw")
    assert is_disk("NTFS", "rw,fixed")
    assert not is_disk("tmpfs", "rw")
    assert not is_disk("", "cdrom")
    assert not is_disk("NTFS", "rw,remote")
    assert not is_disk("ext4", "ro,relatime", "/mnt/image")  # read-only: always 100 %
    assert not is_disk("ext4", "rw", "/run/netns")  # under /run
    assert is_disk("vfat", "rw", "/run/media/ann/USB")  # where desktops mount disks
    assert is_disk("NTFS", "rw,fixed", "C:\\")


def test_no_temperature_source_means_no_temperature_metric() -> None:
    without = collector(FakePsutil(), Clock()).collect()  # Windows, macOS: no such function
    empty = collector(WithSensors({}), Clock()).collect()  # a VM: no sensor
    for found in (without, empty):
        assert not [m for m in found if m.name == "temperature_celsius"]


def test_temperature_sensors_are_chip_and_label_or_index() -> None:
    fake = WithSensors(
        {
            "coretemp": [
                temp("Package id 0", 50.0),
                temp("Core 0", 48.0),
                temp("Package id 1", 52.0),
                temp("Core 0", 47.0),  # second package: the label repeats
            ],
            "acpitz": [temp("", 27.8)],
            "nvme": [temp("Composite", -273.0)],  # a broken sensor's sentinel
        }
    )
    metrics = collector(fake, Clock())
    temperatures = {
        m.labels["sensor"]: m.value for m in metrics.collect() if m.name == "temperature_celsius"
    }
    assert temperatures == {
        "acpitz/0": 27.8,
        "coretemp/Package id 0": 50.0,
        "coretemp/1": 48.0,
        "coretemp/Package id 1": 52.0,
        "coretemp/3": 47.0,
    }
    assert any("refused" in line and "nvme/Composite" in line for line in metrics.problems)
    assert metrics.rejections.total == 1


def test_a_failing_source_is_a_problem_line_and_the_others_still_count() -> None:
    class Broken(FakePsutil):
        def disk_partitions(self, all: bool = False) -> list[SimpleNamespace]:
            raise PermissionError(13, "Permission denied")

        def sensors_temperatures(self) -> dict[str, list[SimpleNamespace]]:
            raise OSError(5, "Input/output error")

    metrics = collector(Broken(), Clock())
    found = by_series(metrics.collect())
    assert set(found) == {"uptime_seconds", "memory_percent"}
    assert any(line.startswith("disks: PermissionError") for line in metrics.problems)
    assert any(line.startswith("temperatures: OSError") for line in metrics.problems)


def test_the_real_psutil_gives_the_host_s_metrics() -> None:
    metrics = Collector(load_psutil())
    first = {m.name for m in metrics.collect()}
    assert {"uptime_seconds", "memory_percent"} <= first
    assert "cpu_percent" not in first
