"""The stages of a discovery sweep over one CIDR: ICMP, then SNMP, then the SSH banner.

1. **ICMP**: every address of the CIDR in one paced round of the ICMP pinger (the probe's
   own engine: one socket, bounded sends).
2. **SNMP**: every address, with each chosen SNMP credentials entry *whose scope admits the
   address* (its networks, and the sweep's site and tags), in the order given, until one
   answers the system group (sysDescr, sysObjectID, sysName); then its interfaces (IF-MIB)
   and file systems (HOST-RESOURCES hrStorage) are walked for the selection preview.
   An address no entry admits gets no SNMP packet at all: a community is never sent
   outside its scope.
3. **SSH**: the banner on port 22 (``SSH-2.0-...``), read without logging in.

Every address is probed (a host may drop pings and still answer SNMP), never one outside
the CIDR; the network and broadcast addresses of IPv4 networks of 4 addresses or more are
left out. Stages 2 and 3 run together per address, with at most ``concurrency`` addresses
in flight, each request bounded by its timeout (a /22 of silent addresses: about a
minute). The network edge is :class:`Prober` (:class:`NetworkProber` for real, fakes in
tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from netgauge.discovery.identify import HostFacts, SystemInfo
from netgauge.errors import InventoryError, NetgaugeError
from netgauge.models import CredentialRef, IpAddress, Target
from netgauge.pollers.snmp import (
    HR_FS_ACCESS,
    HR_FS_STORAGE_INDEX,
    HR_STORAGE_DESCR,
    HR_STORAGE_TYPE,
    HR_STORAGE_TYPES,
    IF_DESCR,
    IF_NAME,
    IF_TYPE,
    SYS_OBJECT_ID,
)
from netgauge.pollers.snmp_ber import Value, VarBindException
from netgauge.pollers.snmp_client import Credentials, Endpoint, SnmpClient, SnmpError
from netgauge.probes.icmp_options import IcmpOptions
from netgauge.probes.icmp_pinger import IcmpPinger

MAX_ADDRESSES = 1024  # a /22: a sweep is a look at a segment, not a scan of a company
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
# the hrStorage types that are file systems (not RAM, swap, a RAM disk or "other"), by the
# MIB names a device poll's disk selection reads for SNMP
_NOT_FILE_SYSTEMS = {"hrStorageOther", "hrStorageRam", "hrStorageVirtualMemory", "hrStorageRamDisk"}
_FILE_SYSTEMS = {
    oid: name for oid, name in HR_STORAGE_TYPES.items() if name not in _NOT_FILE_SYSTEMS
}
_MAX_ROWS = 500  # a preview needs names, not a core router's every subinterface
_BANNER_BYTES = 255  # RFC 4253: the identification line is at most 255 characters


class DiscoveryError(NetgaugeError):
    """A sweep could not run at all (its failures per address are data)."""


def sweep_addresses(cidr: str, max_addresses: int = MAX_ADDRESSES) -> list[str]:
    """The addresses a sweep of ``cidr`` probes; InventoryError naming ``cidr`` otherwise."""
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        raise InventoryError(
            f"cidr: {cidr!r} is not a network (write it as 198.18.3.0/28 or 2001:db8::/120)"
        ) from None
    if network.num_addresses > max_addresses:
        raise InventoryError(
            f"cidr: {network} holds {network.num_addresses} addresses; a sweep covers at "
            f"most {max_addresses} (a /{_prefix_for(network, max_addresses)} or smaller)"
        )
    if network.version == 4 and network.num_addresses >= 4:
        return [str(a) for a in network.hosts()]  # not the network and broadcast addresses
    return [str(a) for a in network]


def _prefix_for(network: ipaddress.IPv4Network | ipaddress.IPv6Network, count: int) -> int:
    return network.max_prefixlen - max(count.bit_length() - 1, 0)


def admits(ref: CredentialRef, address: str, site: str | None, tags: Sequence[str]) -> bool:
    """Whether ``ref`` may be sent to ``address`` (of a target at ``site`` with ``tags``): the
    same rule as every poll (``credentials.scope``); no scope: wherever an admin sends it."""
    if ref.scope is None:
        return True
    ip: IpAddress = ipaddress.ip_address(address)
    return ref.scope.admits_address(ip) and ref.scope.admits_placement(site, tags)


def snmp_version(ref: CredentialRef) -> str:
    """``2c`` for an entry with a community, else ``3`` (a USM user)."""
    has = set(ref.env) | set(ref.files) | set(ref.sealed)
    return "2c" if "community" in has else "3"


@dataclass(frozen=True)
class SweepOptions:
    """Bounds of one sweep."""

    concurrency: int = 64
    ping_count: int = 2
    ping_timeout_s: float = 1.0
    ping_pace_ms: float = 2.0  # between two addresses: a /22 is pinged twice in about 4 s
    snmp_timeout_s: float = 1.0
    snmp_retries: int = 1
    tables_timeout_s: float = 10.0  # the interface and storage walks of one host, together
    ssh_timeout_s: float = 3.0
    ssh_port: int = 22
    snmp_port: int = 161


class Prober(Protocol):
    """The network edge of a sweep."""

    async def ping(self, addresses: Sequence[str]) -> dict[str, float | None]:
        """Round-trip time (ms) per address; None when it did not answer."""
        ...

    async def snmp_system(self, address: str, ref: CredentialRef) -> SystemInfo | None:
        """The system group, or None when the agent does not answer these credentials."""
        ...

    async def snmp_tables(
        self, address: str, ref: CredentialRef
    ) -> tuple[list[tuple[str, int | None]], list[tuple[str, str | None, bool]]]:
        """(interfaces as (name, ifType), file systems as (mount, type, read-only))."""
        ...

    async def ssh_banner(self, address: str) -> str | None:
        """The SSH identification line on the SSH port, or None."""
        ...


Progress = Callable[[str, int], None]  # (stage, addresses done in it)


async def run_sweep(
    addresses: Sequence[str],
    refs: Sequence[CredentialRef],
    prober: Prober,
    *,
    snmp: bool = True,
    ssh: bool = True,
    site: str | None = None,
    tags: Sequence[str] = (),
    concurrency: int = 64,
    progress: Progress | None = None,
) -> list[HostFacts]:
    """Probe ``addresses`` stage by stage; the facts of those that answered something."""
    report = progress or (lambda _stage, _done: None)
    report("icmp", 0)
    rtts = await prober.ping(addresses)
    facts = {a: HostFacts(a, icmp=rtts.get(a) is not None, rtt_ms=rtts.get(a)) for a in addresses}
    report("icmp", len(addresses))
    snmp_refs = [r for r in refs if r.kind == "snmp"] if snmp else []
    ssh_refs = [r for r in refs if r.kind == "ssh"]
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    report("snmp+ssh" if snmp and ssh else "snmp" if snmp else "ssh", 0)

    async def one(address: str) -> None:
        nonlocal done
        async with gate:  # an address's SNMP and SSH at once: one slot, the longer wait
            host = facts[address]
            inside = [r for r in snmp_refs if admits(r, address, site, tags)]
            near = [r for r in ssh_refs if admits(r, address, site, tags)]
            await asyncio.gather(
                _snmp_stage(host, inside, prober), _ssh_stage(host, near, prober, ssh)
            )
        done += 1
        report("snmp+ssh" if snmp and ssh else "snmp" if snmp else "ssh", done)

    if snmp or ssh:
        await asyncio.gather(*(one(a) for a in addresses))
    return [host for host in facts.values() if host.answered]


async def _snmp_stage(host: HostFacts, refs: Sequence[CredentialRef], prober: Prober) -> None:
    """Each entry in turn until one answers; then the tables of the one that did."""
    for ref in refs:
        system = await prober.snmp_system(host.address, ref)
        if system is None:
            continue
        host.system, host.snmp_credentials = system, ref.name
        host.snmp_version = snmp_version(ref)
        host.interfaces, host.disks = await prober.snmp_tables(host.address, ref)
        return


async def _ssh_stage(
    host: HostFacts, refs: Sequence[CredentialRef], prober: Prober, enabled: bool
) -> None:
    """The banner, and the first ssh entry that may go there (nothing is sent with it)."""
    if not enabled:
        return
    host.ssh_banner = await prober.ssh_banner(host.address)
    if host.ssh_banner is not None and refs:
        host.ssh_credentials = refs[0].name


def _text(value: Value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00").strip()
    if value is None or isinstance(value, VarBindException):
        return ""
    if isinstance(value, tuple):
        return ".".join(map(str, value))
    return str(value)


class NetworkProber:
    """The real edge: the ICMP pinger, one SNMP client, TCP connections for banners."""

    def __init__(
        self,
        options: SweepOptions,
        *,
        credentials_of: Callable[[CredentialRef, str], Credentials] | None = None,
    ) -> None:
        from netgauge.pollers.jobs import snmp_credentials

        self.options = options
        self._pinger = IcmpPinger()
        self._snmp = SnmpClient(timeout=options.snmp_timeout_s, retries=options.snmp_retries)
        self._credentials_of = credentials_of or snmp_credentials
        self._secrets: dict[str, Credentials] = {}

    async def close(self) -> None:
        await self._snmp.close()

    async def ping(self, addresses: Sequence[str]) -> dict[str, float | None]:
        o = self.options
        targets = [Target(a, a) for a in addresses]
        icmp = IcmpOptions(
            count=o.ping_count, interval=0.2, timeout=o.ping_timeout_s, pace_ms=o.ping_pace_ms
        )
        results = await self._pinger.run_batch(targets, icmp, resolved=True)
        return {
            r.target: r.metrics.get("rtt_avg_ms") if r.status == "ok" else None for r in results
        }

    def _credentials(self, ref: CredentialRef) -> Credentials:
        if ref.name not in self._secrets:  # opened once per sweep, not per address
            self._secrets[ref.name] = self._credentials_of(ref, snmp_version(ref))
        return self._secrets[ref.name]

    async def snmp_system(self, address: str, ref: CredentialRef) -> SystemInfo | None:
        endpoint = Endpoint(address, self.options.snmp_port)
        oids = (SYS_DESCR, SYS_OBJECT_ID, SYS_NAME)
        try:
            got = await self._snmp.get(endpoint, self._credentials(ref), oids)
        except SnmpError:
            return None
        oid = got.get(SYS_OBJECT_ID)
        return SystemInfo(
            _text(got.get(SYS_DESCR)),
            oid if isinstance(oid, tuple) else (),
            _text(got.get(SYS_NAME)),
        )

    async def snmp_tables(
        self, address: str, ref: CredentialRef
    ) -> tuple[list[tuple[str, int | None]], list[tuple[str, str | None, bool]]]:
        endpoint, credentials = Endpoint(address, self.options.snmp_port), self._credentials(ref)
        try:  # bounded as a whole: an agent with endless tables must not hold the sweep
            async with asyncio.timeout(self.options.tables_timeout_s):
                ifs = await self._snmp.walk(endpoint, credentials, (IF_NAME, IF_DESCR, IF_TYPE))
                hr = await self._snmp.walk(
                    endpoint, credentials, (HR_STORAGE_TYPE, HR_STORAGE_DESCR)
                )
                fs = await self._snmp.walk(
                    endpoint, credentials, (HR_FS_ACCESS, HR_FS_STORAGE_INDEX)
                )
        except (SnmpError, TimeoutError):
            return [], []
        return _interfaces(ifs), _file_systems(hr, fs)

    async def ssh_banner(self, address: str) -> str | None:
        o = self.options
        try:
            async with asyncio.timeout(o.ssh_timeout_s):
                reader, writer = await asyncio.open_connection(address, o.ssh_port)
                try:
                    line = await reader.readline()
                finally:
                    writer.close()
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            return None
        text = line[:_BANNER_BYTES].decode("ascii", "replace").strip()
        return text if text.startswith("SSH-") else None


def _interfaces(
    tables: Mapping[tuple[int, ...], Mapping[tuple[int, ...], Value]],
) -> list[tuple[str, int | None]]:
    names, descrs, types = tables[IF_NAME], tables[IF_DESCR], tables[IF_TYPE]
    found = []
    for index in sorted(set(descrs) | set(names))[:_MAX_ROWS]:
        kind = types.get(index)
        name = _text(names.get(index)) or _text(descrs.get(index)) or ".".join(map(str, index))
        found.append((name, kind if isinstance(kind, int) else None))
    return found


def _file_systems(
    hr: Mapping[tuple[int, ...], Mapping[tuple[int, ...], Value]],
    fs: Mapping[tuple[int, ...], Mapping[tuple[int, ...], Value]],
) -> list[tuple[str, str | None, bool]]:
    read_only = {
        (index,)
        for row, access in fs[HR_FS_ACCESS].items()
        if access == 2 and isinstance(index := fs[HR_FS_STORAGE_INDEX].get(row), int)
    }
    return [
        (_text(hr[HR_STORAGE_DESCR].get(index)), _FILE_SYSTEMS[kind], index in read_only)
        for index, kind in sorted(hr[HR_STORAGE_TYPE].items())[:_MAX_ROWS]
        if isinstance(kind, tuple)
        and kind in _FILE_SYSTEMS
        and _text(hr[HR_STORAGE_DESCR].get(index))
    ]


__all__ = [
    "MAX_ADDRESSES",
    "DiscoveryError",
    "NetworkProber",
    "Prober",
    "SweepOptions",
    "admits",
    "run_sweep",
    "snmp_version",
    "sweep_addresses",
]
