"""From what a host answered to what it is and how to watch it: pure functions, no I/O.

* The SNMP profile is the one the poller would pick (``snmp_profiles.profile_for``, by
  sysObjectID); sysDescr names the family when the profile is the generic one, as a note.
* The name is the host's sysName made a valid target name, else its address; a name taken
  by another target or another proposal gets the address appended.
* Every host is pinged; a host that answered SNMP (with the credentials that answered) is
  a device polled over SNMP; one whose port 22 banners, with ssh credentials in scope, is
  polled over SSH when it does not hold SNMP credentials already (a target holds one
  credentials entry: SNMP wins, and the note says so).
* Interfaces and disks to watch: :data:`DEFAULT_INTERFACES` and :data:`DEFAULT_DISKS`
  (``pollers.selection``'s job params), previewed on what the device listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netgauge.discovery.model import (
    Answered,
    FoundHost,
    Proposal,
    Seen,
    TargetProposal,
)
from netgauge.inventory.checks import CheckIn
from netgauge.pollers import filesystems
from netgauge.pollers.selection import DiskSelection, InterfaceSelection, if_type_name
from netgauge.pollers.snmp_profiles import GENERIC, Profile, profile_for
from netgauge.probes.base import PROBES
from netgauge.probes.builtin import load_builtin_probes

# what a proposed device check watches unless the admin says otherwise: no loopbacks, no
# container plumbing (a Docker host lists a veth per container), no pseudo file systems
DEFAULT_INTERFACES = InterfaceSelection(
    exclude=["^veth", "^docker[0-9]", "^br-[0-9a-f]{12}$", "^virbr[0-9]+-nic$"],
    skip_types=["softwareLoopback"],
)
DEFAULT_DISKS = DiskSelection(
    exclude=["^/run(/|$)", "^/snap/", "^/var/lib/docker/"],
    skip_types=["tmpfs", "devtmpfs", "cgroup", "cgroup2", "squashfs", "overlay", "nsfs"],
)
# sysDescr words → the family, for the note when the generic profile polls it
_FAMILIES = (
    ("Cisco NX-OS", re.compile(r"NX-OS", re.I)),
    ("Cisco IOS", re.compile(r"Cisco IOS", re.I)),
    ("Juniper Junos", re.compile(r"JUNOS", re.I)),
    ("MikroTik RouterOS", re.compile(r"RouterOS", re.I)),
    ("HP ProCurve", re.compile(r"ProCurve", re.I)),
    ("FortiGate", re.compile(r"FortiGate", re.I)),
    ("Windows", re.compile(r"Windows", re.I)),
    ("Linux", re.compile(r"\bLinux\b")),
    ("FreeBSD", re.compile(r"FreeBSD")),
)
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.:-]+")


@dataclass(frozen=True)
class SystemInfo:
    """The SNMPv2-MIB system group of a host that answered."""

    sys_descr: str
    sys_object_id: tuple[int, ...]
    sys_name: str


@dataclass
class HostFacts:
    """What the sweep learnt of one address (whatever it answered)."""

    address: str
    icmp: bool = False
    rtt_ms: float | None = None
    snmp_credentials: str | None = None
    snmp_version: str = "2c"
    system: SystemInfo | None = None
    interfaces: list[tuple[str, int | None]] = field(default_factory=list)  # (name, ifType)
    disks: list[tuple[str, str | None, bool]] = field(default_factory=list)  # (mount, type, ro)
    ssh_banner: str | None = None
    ssh_credentials: str | None = None  # ssh credentials in scope (not tried: no login)

    @property
    def answered(self) -> bool:
        return self.icmp or self.system is not None or self.ssh_banner is not None


@dataclass(frozen=True)
class Known:
    """The inventory as a proposal needs it: targets by name and by address."""

    by_name: Mapping[str, str]  # name → address
    by_address: Mapping[str, str]  # address → name

    @classmethod
    def of(cls, addresses: Mapping[str, str]) -> Known:
        """From ``{target name: address}``."""
        return cls(dict(addresses), {a: n for n, a in sorted(addresses.items())})


def family_of(sys_descr: str) -> str | None:
    """The device family sysDescr names (``Linux``, ``Cisco IOS``...), if any."""
    return next((name for name, words in _FAMILIES if words.search(sys_descr)), None)


def target_name(facts: HostFacts) -> str:
    """sysName as a valid target name (spaces and the like become ``-``), else the address."""
    raw = facts.system.sys_name if facts.system is not None else ""
    name = _NOT_IN_NAME.sub("-", raw.strip()).strip("-_.:")[:128]
    return name or facts.address


def unique_name(wanted: str, address: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted-<address>`` when another target or proposal has it."""
    name = wanted
    if name in taken and name != address:
        name = f"{wanted}-{address}"[:128]
    n = 2
    while name in taken:
        name, n = f"{wanted}-{address}-{n}"[:128], n + 1
    return name


def params_take(kind: str, key: str) -> bool:
    """Whether jobs of ``kind`` take the param ``key`` (``interfaces`` and ``disks`` come with
    the pollers' selection support: a proposal only sets them where the poller reads them)."""
    load_builtin_probes()
    try:
        model = PROBES.get(kind).params_model
    except KeyError:
        return False
    return key in model.model_fields


def interfaces_seen(facts: HostFacts, selection: InterfaceSelection) -> list[Seen]:
    """The host's interfaces, each with whether ``selection`` watches it."""
    return [
        Seen(
            name=name,
            type=if_type_name(kind) if kind is not None else None,
            watched=selection.keeps(name, if_type_name(kind) if kind is not None else None),
        )
        for name, kind in facts.interfaces
    ]


def disks_seen(facts: HostFacts, selection: DiskSelection) -> list[Seen]:
    """The host's file systems, each with whether it is a disk the selection keeps (SNMP's
    hrStorage types are hrStorageFixedDisk and the like, not file system types: the default
    rule goes by the mount point)."""
    seen = []
    for mount, kind, read_only in facts.disks:
        disk = filesystems.is_disk(filesystems.mount_point(mount), read_only=read_only)
        watched = disk and selection.keeps(mount, kind)
        seen.append(Seen(name=mount, type=kind, eligible=disk, watched=watched))
    return seen


def device_params(
    kind: str,
    interfaces: InterfaceSelection,
    disks: DiskSelection,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A device check's params: ``extra`` and the selections its poller takes."""
    params = dict(extra or {})
    if params_take(kind, "interfaces"):
        params["interfaces"] = interfaces.model_dump(mode="json")
    if params_take(kind, "disks"):
        params["disks"] = disks.model_dump(mode="json")
    return params


def checks_for(
    facts: HostFacts,
    interfaces: InterfaceSelection = DEFAULT_INTERFACES,
    disks: DiskSelection = DEFAULT_DISKS,
) -> tuple[list[CheckIn], str | None, list[str]]:
    """The checks proposed for a host, the credentials its target holds, and notes."""
    checks, notes = [CheckIn(kind="icmp")], []
    credentials = None
    if facts.snmp_credentials is not None:
        version = {} if facts.snmp_version == "2c" else {"version": facts.snmp_version}
        checks.append(
            CheckIn(kind="snmp", params=device_params("snmp", interfaces, disks, version))
        )
        credentials = facts.snmp_credentials
    if facts.ssh_banner is not None and facts.ssh_credentials is not None:
        if credentials is None:
            # the host key is learnt at the first poll and pinned after (trust on first use)
            first_use = {"accept_new_host_keys": True}
            params = device_params("ssh", interfaces, disks, first_use)
            checks.append(CheckIn(kind="ssh", params=params))
            credentials = facts.ssh_credentials
        else:
            notes.append(
                f"ssh: not proposed, the target holds the snmp credentials {credentials!r} "
                "(one credentials entry per target)"
            )
    elif facts.ssh_banner is not None:
        notes.append("ssh: port 22 answers, but no ssh credentials chosen admit this address")
    return checks, credentials, notes


def profile_of(
    system: SystemInfo | None, profiles: Mapping[str, Profile], notes: list[str]
) -> str | None:
    """The SNMP profile the poller would use; a note when sysDescr knows better."""
    if system is None:
        return None
    profile = profile_for(dict(profiles), system.sys_object_id).name
    family = family_of(system.sys_descr)
    if profile == GENERIC and family:
        notes.append(f"sysDescr says {family}: polled with the generic profile")
    return profile


def answered(facts: HostFacts) -> Answered:
    """What the host answered, as the API says it."""
    return Answered(
        icmp=facts.icmp,
        rtt_ms=facts.rtt_ms,
        snmp=facts.system is not None,
        snmp_credentials=facts.snmp_credentials,
        ssh=facts.ssh_banner is not None,
        ssh_banner=facts.ssh_banner,
    )


def describe(
    facts: HostFacts,
    profiles: Mapping[str, Profile],
    known: Known,
    taken: set[str],
    *,
    site: str | None = None,
    tags: Sequence[str] = (),
) -> FoundHost:
    """A found host with its proposal; its name is added to ``taken``."""
    system = facts.system
    checks, credentials, notes = checks_for(facts)
    existing = known.by_address.get(facts.address)
    wanted = target_name(facts)
    if existing is None and known.by_name.get(wanted) == facts.address:
        existing = wanted
    name = existing or unique_name(wanted, facts.address, taken | set(known.by_name))
    taken.add(name)
    device = system is not None or any(c.kind == "ssh" for c in checks)
    profile = profile_of(system, profiles, notes)
    if existing is not None:
        notes.append(f"exists: the target {existing!r} has this address or name")
    kind = "device" if device else "destination"
    return FoundHost(
        address=facts.address,
        name=name,
        type=kind,
        answered=answered(facts),
        sys_descr=system.sys_descr if system else None,
        sys_object_id=".".join(map(str, system.sys_object_id)) if system else None,
        profile=profile,
        interfaces=interfaces_seen(facts, DEFAULT_INTERFACES),
        disks=disks_seen(facts, DEFAULT_DISKS),
        exists=existing is not None,
        existing=existing,
        notes=notes,
        proposal=Proposal(
            target=TargetProposal(
                name=name,
                address=facts.address,
                type=kind,
                site=site,
                tags=list(tags),
                credentials=credentials,
                description=(system.sys_descr[:200] if system else "found by discovery"),
            ),
            checks=checks,
        ),
    )


__all__ = [
    "DEFAULT_DISKS",
    "DEFAULT_INTERFACES",
    "HostFacts",
    "Known",
    "SystemInfo",
    "checks_for",
    "describe",
    "family_of",
    "params_take",
    "target_name",
    "unique_name",
]
