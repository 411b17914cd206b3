"""What the agent pushes is what its ``--interfaces`` and ``--disks`` select, by the device
jobs' rule: loopbacks (psutil's ``loopback`` flag) left out by default, names by regex,
disks by mount and partition type, after the default disk rule; bad options are exit 2
naming the option and the part, in words."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from netgauge.agent.collect import Collector
from netgauge.pollers.selection import DiskSelection, InterfaceSelection
from tests.unit.agent.test_collect import Clock, FakePsutil, nic, part


class WithFlags(FakePsutil):
    """psutil 5.9.3+ on Unix: net_if_stats() has each interface's flags."""

    def __init__(self) -> None:
        super().__init__()
        self.counters = {"eth0": nic(0, 0), "lo": nic(0, 0), "veth1a2b": nic(0, 0)}
        self.partitions = [part("/"), part("/boot", "vfat"), part("/srv", "xfs")]
        self.usage["/srv"] = SimpleNamespace(total=10, used=5, free=5, percent=50.0)

    def net_if_stats(self) -> dict[str, SimpleNamespace]:
        return {
            "eth0": SimpleNamespace(flags="up,broadcast,running,multicast"),
            "lo": SimpleNamespace(flags="up,loopback,running"),
            "veth1a2b": SimpleNamespace(flags="up,broadcast,running,multicast"),
        }


def pushed(
    interfaces: InterfaceSelection | None = None, disks: DiskSelection | None = None
) -> tuple[set[str], set[str]]:
    """(interfaces with a rate, disks) of the second collection."""
    clock = Clock()
    collector = Collector(
        WithFlags(),
        monotonic_ns=lambda: clock.ns,
        wall_s=lambda: clock.wall,
        interfaces=interfaces,
        disks=disks,
    )
    collector.collect()
    clock.advance(2.0)
    metrics = collector.collect()
    names = {m.labels["interface"] for m in metrics if m.name == "net_in_bytes_per_sec"}
    mounts = {m.labels["mount"] for m in metrics if m.name == "disk_percent"}
    return names, mounts


def test_loopbacks_are_left_out_by_default() -> None:
    assert pushed()[0] == {"eth0", "veth1a2b"}
    assert pushed(InterfaceSelection(skip_types=[]))[0] == {"eth0", "lo", "veth1a2b"}


def test_interfaces_and_disks_by_name_and_type() -> None:
    names, mounts = pushed(
        InterfaceSelection(exclude=["^veth"]), DiskSelection(skip_types=["vfat"])
    )
    assert (names, mounts) == ({"eth0"}, {"/", "/srv"})
    assert pushed(disks=DiskSelection(include=["^/s"]))[1] == {"/srv"}


def agent(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netgauge", "agent", "--server", "http://127.0.0.1:9", *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_options_name_the_option_and_the_part() -> None:
    bad = agent("--interfaces", '{"include": ["^eth", "("]}')
    assert bad.returncode == 2
    assert bad.stderr.startswith(
        "netgauge agent: error: --interfaces: include.1: '(' is not a regular expression"
    ), bad.stderr
    unknown = agent("--disks", '{"skip_type": ["vfat"]}')
    assert unknown.returncode == 2
    assert "--disks: skip_type: unknown key" in unknown.stderr, unknown.stderr
