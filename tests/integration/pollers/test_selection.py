"""A device job's ``interfaces`` and ``disks`` against real agents on 127.0.0.1: net-snmp's
snmpd and OpenSSH's sshd on this machine, and snmpsim serving recorded device walks.

The truth is read independently of the poller: ``snmpwalk`` of ifName and ifType (net-snmp's
own tool), /sys/class/net and /proc/mounts read here, df run here, the recorded walks; the
regexes are applied with Python's ``re`` (the poller runs RE2).

Traffic goes only to the servers the fixtures start on 127.0.0.1.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from netgauge.pollers.readings import DeviceReading, DeviceState
from netgauge.pollers.selection import DiskSelection, InterfaceSelection
from netgauge.pollers.snmp import SnmpPoller
from netgauge.pollers.snmp_ber import V2C
from netgauge.pollers.snmp_client import Credentials, Endpoint, SnmpClient
from netgauge.pollers.snmp_profiles import load_profiles
from netgauge.pollers.ssh import SshCredentials, SshEndpoint, SshPoller
from tests.lab.snmpd import Snmpd
from tests.lab.snmpsim import Records, SnmpSim, snmprec_value
from tests.lab.sshd import Sshd

pytestmark = [pytest.mark.network]

IF_TYPE = "1.3.6.1.2.1.2.2.1.3"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
SOFTWARE_LOOPBACK = 24  # IANAifType-MIB
ARPHRD_LOOPBACK = 772  # linux/if_arp.h
DF = ["df", "-P", "-k", "-l", "-x", "tmpfs", "-x", "devtmpfs", "-x", "overlay", "-x", "squashfs"]


def kept(
    names: dict[str, int | None], include: list[str], exclude: list[str], skip: set[int]
) -> set[str]:
    """The truth: names (with their type number) kept by Python's re and the skipped types."""
    return {
        name
        for name, kind in names.items()
        if kind not in skip
        and (not include or any(re.search(p, name) for p in include))
        and not any(re.search(p, name) for p in exclude)
    }


def series_of(reading: DeviceReading, metric: str, label: str) -> set[str]:
    return {m.labels[label] for m in reading.metrics if m.name == metric}


class Ticks:
    """A clock that moves a second on every call: two polls in a row have rates."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000_000_000

    def __call__(self) -> int:
        self.now += 1_000_000_000
        return self.now


async def snmp_twice(
    endpoint: Endpoint, community: str, interfaces: InterfaceSelection, disks: DiskSelection
) -> DeviceReading:
    """The second of two polls (the first has no rates) by a job with this selection."""
    async with SnmpClient(timeout=1.0, retries=1) as client:
        poller = SnmpPoller(
            client, load_profiles(), clock_ns=Ticks(), interfaces=interfaces, disks=disks
        )
        credentials = Credentials(V2C, community.encode())
        await poller.poll("lab", endpoint, credentials)
        reading = await poller.poll("lab", endpoint, credentials)
    assert reading.state is DeviceState.ONLINE, reading.errors
    return reading


# -- net-snmp's snmpd on this machine ------------------------------------------------------


def walked_interfaces(snmpd: Snmpd) -> dict[str, int | None]:
    """ifName -> ifType number, by snmpwalk."""
    names = snmpd.snmpwalk(IF_NAME)
    types = snmpd.snmpwalk(IF_TYPE)
    return {
        name: int(types[f"{IF_TYPE}.{oid.rsplit('.', 1)[1]}"])
        if f"{IF_TYPE}.{oid.rsplit('.', 1)[1]}" in types
        else None
        for oid, name in names.items()
    }


SNMPD_CASES = [
    ([], [], {SOFTWARE_LOOPBACK}, InterfaceSelection()),  # the default
    ([], ["^eth"], {SOFTWARE_LOOPBACK}, InterfaceSelection(exclude=["^eth"])),
    (["^(lo|eth)"], [], set(), InterfaceSelection(include=["^(lo|eth)"], skip_types=[])),
    (["."], ["^ifb"], set(), InterfaceSelection(include=["."], exclude=["^ifb"], skip_types=[])),
]


@pytest.mark.parametrize(("include", "exclude", "skip", "chosen"), SNMPD_CASES)
async def test_snmpd_interfaces_are_the_walk_filtered(
    snmpd: Snmpd,
    include: list[str],
    exclude: list[str],
    skip: set[int],
    chosen: InterfaceSelection,
) -> None:
    interfaces = walked_interfaces(snmpd)
    assert interfaces.get("lo") == SOFTWARE_LOOPBACK  # what the default leaves out
    reading = await snmp_twice(
        Endpoint(snmpd.address, snmpd.port), snmpd.community, chosen, DiskSelection()
    )
    want = kept(interfaces, include, exclude, skip)
    for metric in ("net_in_bytes_per_sec", "net_out_bytes_per_sec"):
        assert series_of(reading, metric, "interface") == want, metric
    if not skip:
        return
    assert "lo" not in series_of(reading, "net_in_bytes_per_sec", "interface")


async def test_snmpd_job_without_skip_types_watches_loopback_again(snmpd: Snmpd) -> None:
    """Before interfaces were selectable every job had lo's traffic; a job that wants it
    says skip_types: []."""
    reading = await snmp_twice(
        Endpoint(snmpd.address, snmpd.port),
        snmpd.community,
        InterfaceSelection(skip_types=[]),
        DiskSelection(),
    )
    assert "lo" in series_of(reading, "net_in_bytes_per_sec", "interface")


async def test_snmpd_leaving_every_interface_out_says_so(snmpd: Snmpd) -> None:
    reading = await snmp_twice(
        Endpoint(snmpd.address, snmpd.port),
        snmpd.community,
        InterfaceSelection(include=["^no-such-interface$"]),
        DiskSelection(),
    )
    assert not series_of(reading, "net_in_bytes_per_sec", "interface")
    count = len(walked_interfaces(snmpd))
    assert f"interfaces: the job's selection leaves out all {count} interfaces" in reading.errors


# -- recorded walks (snmpsim) --------------------------------------------------------------


def recorded(records: Records, column: str) -> dict[str, object]:
    """{row index: value} of a column of a recorded walk."""
    prefix = tuple(int(arc) for arc in column.split("."))
    return {
        ".".join(map(str, key[len(prefix) :])): snmprec_value(*value)
        for key, value in records.items()
        if key[: len(prefix)] == prefix
    }


def recorded_interfaces(records: Records) -> dict[str, int | None]:
    names, types = recorded(records, IF_NAME), recorded(records, IF_TYPE)
    return {
        name.decode() if isinstance(name, bytes) else str(name): (
            int(kind) if isinstance(kind, int) else None
        )
        for index, name in names.items()
        for kind in [types.get(index)]
    }


@pytest.fixture
async def endpoint(snmpsim: SnmpSim) -> AsyncIterator[Endpoint]:
    yield Endpoint(snmpsim.address, snmpsim.port)


LAG = 161  # IANAifType ieee8023adLag


@pytest.mark.parametrize(
    ("device", "include", "exclude", "skip", "chosen"),
    [
        # Arista: three Ethernet ports and a port channel (ieee8023adLag)
        ("arista-7050sx", [], [], {LAG}, InterfaceSelection(skip_types=["ieee8023adLag"])),
        ("arista-7050sx", ["^Ethernet"], [], set(), InterfaceSelection(include=["^Ethernet"])),
        # Juniper: lo0 is softwareLoopback; fxp0 the management port
        ("juniper-mx480", [], [], {SOFTWARE_LOOPBACK}, InterfaceSelection()),
        (
            "juniper-mx480",
            [r"^xe-\d+/\d+/\d+$"],
            ["/1$"],
            {SOFTWARE_LOOPBACK},
            InterfaceSelection(include=[r"^xe-\d+/\d+/\d+$"], exclude=["/1$"]),
        ),
        # a Linux host: lo, two NICs and docker0 (all ethernetCsmacd but lo)
        (
            "linux-net-snmp",
            [],
            ["^docker", "^veth"],
            {SOFTWARE_LOOPBACK},
            InterfaceSelection(exclude=["^docker", "^veth"]),
        ),
    ],
)
async def test_recorded_interfaces_by_name_and_type(
    snmpsim: SnmpSim,
    endpoint: Endpoint,
    device: str,
    include: list[str],
    exclude: list[str],
    skip: set[int],
    chosen: InterfaceSelection,
) -> None:
    interfaces = recorded_interfaces(snmpsim.records(device))
    want = kept(interfaces, include, exclude, skip)
    assert want and want != set(interfaces)  # the case leaves something out, not everything
    reading = await snmp_twice(endpoint, device, chosen, DiskSelection())
    assert series_of(reading, "net_in_bytes_per_sec", "interface") == want


@pytest.mark.parametrize(
    ("device", "exclude", "chosen"),
    [
        ("windows-server-2019", [r"^D:\\"], DiskSelection(exclude=[r"^D:\\"])),
        ("linux-net-snmp", ["^/boot", "^/srv/"], DiskSelection(exclude=["^/boot", "^/srv/"])),
        # Junos: the regex sees the whole hrStorageDescr, as the series' label shows it
        ("juniper-mx480", ["^/dev/gpt/var:"], DiskSelection(exclude=["^/dev/gpt/var:"])),
    ],
)
async def test_recorded_disks_by_their_label(
    snmpsim: SnmpSim, endpoint: Endpoint, device: str, exclude: list[str], chosen: DiskSelection
) -> None:
    every = series_of(
        await snmp_twice(endpoint, device, InterfaceSelection(), DiskSelection()),
        "disk_percent",
        "mount",
    )
    reading = await snmp_twice(endpoint, device, InterfaceSelection(), chosen)
    want = {m for m in every if not any(re.search(p, m) for p in exclude)}
    assert want and want != every
    assert series_of(reading, "disk_percent", "mount") == want


async def test_recorded_disks_by_hr_storage_type(snmpsim: SnmpSim, endpoint: Endpoint) -> None:
    """Every disk hrStorage reports is an hrStorageFixedDisk: skipping that type leaves none."""
    reading = await snmp_twice(
        endpoint,
        "linux-net-snmp",
        InterfaceSelection(),
        DiskSelection(skip_types=["hrStorageFixedDisk"]),
    )
    assert not series_of(reading, "disk_percent", "mount")


# -- OpenSSH's sshd on this machine ----------------------------------------------------------


def local_interfaces() -> dict[str, int | None]:
    """/proc/net/dev's interfaces -> their /sys/class/net ARPHRD type."""
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    names = {line.split(":")[0].strip() for line in lines if ":" in line}

    def arphrd(name: str) -> int | None:
        try:
            return int(Path(f"/sys/class/net/{name}/type").read_text())
        except (OSError, ValueError):
            return None

    return {name: arphrd(name) for name in names}


def local_mount_types() -> dict[str, str]:
    """mount point -> file system type by /proc/mounts (the last mount of a point wins)."""
    found = {}
    for line in Path("/proc/mounts").read_text().splitlines():
        words = line.split()
        found[words[1].replace("\\040", " ")] = words[2]
    return found


def local_df_mounts() -> set[str]:
    done = subprocess.run(DF, capture_output=True, text=True, timeout=30, check=False)
    return {line.split(None, 5)[5] for line in done.stdout.splitlines()[1:] if line.strip()}


SshPoll = Callable[..., Awaitable[DeviceReading]]


@pytest.fixture
def ssh_poll(sshd: Sshd) -> Iterator[SshPoll]:
    async def poll(**selection: object) -> DeviceReading:
        async with SshPoller(
            known_hosts=sshd.known_hosts,
            clock_ns=Ticks(),
            **selection,  # type: ignore[arg-type]
        ) as poller:
            credentials = SshCredentials("root", sshd.client_key)
            endpoint = SshEndpoint(sshd.address, sshd.port)
            await poller.poll("lab", endpoint, credentials)
            reading = await poller.poll("lab", endpoint, credentials)
        assert reading.state is DeviceState.ONLINE, reading.errors
        return reading

    yield poll


@pytest.mark.parametrize(
    ("include", "exclude", "skip", "chosen"),
    [
        ([], [], {ARPHRD_LOOPBACK}, InterfaceSelection()),
        ([], ["^ifb"], {ARPHRD_LOOPBACK}, InterfaceSelection(exclude=["^ifb"])),
        (["^(lo|eth)"], [], set(), InterfaceSelection(include=["^(lo|eth)"], skip_types=[])),
    ],
)
async def test_ssh_interfaces_are_sys_class_net_filtered(
    ssh_poll: SshPoll,
    include: list[str],
    exclude: list[str],
    skip: set[int],
    chosen: InterfaceSelection,
) -> None:
    reading = await ssh_poll(interfaces=chosen)
    want = kept(local_interfaces(), include, exclude, skip)
    assert series_of(reading, "net_out_bytes_per_sec", "interface") == want


async def test_ssh_disks_skip_types_by_proc_mounts(ssh_poll: SshPoll) -> None:
    types = local_mount_types()
    disks = local_df_mounts()
    assert disks, "df lists a local file system here"
    every = await ssh_poll(mounts=["*"])
    assert series_of(every, "disk_percent", "mount") == disks
    skipped = types[sorted(disks)[0]]  # the type of one of this machine's disks
    reading = await ssh_poll(mounts=["*"], disks=DiskSelection(skip_types=[skipped]))
    want = {mount for mount in disks if types.get(mount) != skipped}
    assert series_of(reading, "disk_percent", "mount") == want
    # and by mount point: every disk but the root
    reading = await ssh_poll(mounts=["*"], disks=DiskSelection(exclude=["^/$"]))
    assert series_of(reading, "disk_percent", "mount") == disks - {"/"}
