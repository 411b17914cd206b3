"""From what a host answered to its identity and proposal: names, profiles, checks, the
interface and disk preview."""

from __future__ import annotations

from netgauge.discovery.identify import (
    DEFAULT_DISKS,
    DEFAULT_INTERFACES,
    HostFacts,
    Known,
    SystemInfo,
    describe,
    family_of,
    params_take,
    target_name,
    unique_name,
)
from netgauge.pollers.snmp_profiles import load_profiles

PROFILES = load_profiles()
LINUX_OID = (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)
CISCO_OID = (1, 3, 6, 1, 4, 1, 9, 1, 1208)
NOBODY = Known.of({})


def snmp_host(address: str = "198.18.3.2", oid: tuple[int, ...] = LINUX_OID) -> HostFacts:
    return HostFacts(
        address,
        icmp=True,
        rtt_ms=0.3,
        snmp_credentials="lab-snmp",
        system=SystemInfo("Linux lab 6.1.0 #1 SMP x86_64", oid, "core sw 1"),
        interfaces=[("lo", 24), ("eth0", 6), ("veth12ab", 6), ("docker0", 6), ("wg0", 53)],
        disks=[
            ("/", "hrStorageFixedDisk", False),
            ("/run", "hrStorageFixedDisk", False),
            ("/boot/efi", "hrStorageFixedDisk", False),
            ("/snap/core/1", "hrStorageFixedDisk", True),
        ],
    )


def test_the_profile_is_the_pollers_by_sys_object_id() -> None:
    found = describe(snmp_host(), PROFILES, NOBODY, set())
    assert found.profile == "net-snmp-linux"
    assert found.sys_object_id == "1.3.6.1.4.1.8072.3.2.10"
    assert describe(snmp_host(oid=CISCO_OID), PROFILES, NOBODY, set()).profile == "cisco-ios"
    unknown = describe(snmp_host(oid=(1, 3, 6, 1, 4, 1, 99999)), PROFILES, NOBODY, set())
    assert unknown.profile == "generic"
    assert "sysDescr says Linux: polled with the generic profile" in unknown.notes


def test_families_by_sys_descr() -> None:
    assert family_of("Cisco IOS Software, C2960 Software") == "Cisco IOS"
    assert family_of("Cisco NX-OS(tm) n9000") == "Cisco NX-OS"
    assert family_of("Juniper Networks, Inc. ex2200 , kernel JUNOS 12.3") == "Juniper Junos"
    assert family_of("an unknown box") is None


def test_names_from_sys_name_else_the_address() -> None:
    assert target_name(snmp_host()) == "core-sw-1"
    assert target_name(HostFacts("198.18.3.9", icmp=True)) == "198.18.3.9"
    assert unique_name("core-sw-1", "198.18.3.2", {"core-sw-1"}) == "core-sw-1-198.18.3.2"
    taken = {"x", "x-198.18.3.2"}
    assert unique_name("x", "198.18.3.2", taken) == "x-198.18.3.2-2"


def test_an_snmp_device_gets_ping_and_snmp_with_its_credentials() -> None:
    found = describe(snmp_host(), PROFILES, NOBODY, set(), site="lab", tags=["core"])
    assert found.type == "device" and found.name == "core-sw-1"
    target = found.proposal.target
    assert (target.credentials, target.site, target.tags) == ("lab-snmp", "lab", ["core"])
    assert [c.kind for c in found.proposal.checks] == ["icmp", "snmp"]
    snmp = found.proposal.checks[1].params
    assert "version" not in snmp  # 2c: the job's default
    assert ("interfaces" in snmp) == params_take("snmp", "interfaces")


def test_the_preview_follows_the_default_selections() -> None:
    found = describe(snmp_host(), PROFILES, NOBODY, set())
    watched = {s.name: s.watched for s in found.interfaces}
    assert watched == {
        "lo": False, "eth0": True, "veth12ab": False, "docker0": False, "wg0": True,
    }  # fmt: skip
    assert [s.type for s in found.interfaces][:2] == ["softwareLoopback", "ethernetCsmacd"]
    disks = {s.name: s.watched for s in found.disks}
    assert disks == {"/": True, "/run": False, "/boot/efi": True, "/snap/core/1": False}
    assert DEFAULT_INTERFACES.keeps("eth0", "ethernetCsmacd")
    assert not DEFAULT_DISKS.keeps("/run/netns/x")


def test_ssh_only_when_no_snmp_credentials_and_in_scope() -> None:
    ssh_host = HostFacts("198.18.3.3", icmp=True, ssh_banner="SSH-2.0-OpenSSH_9.2")
    plain = describe(ssh_host, PROFILES, NOBODY, set())
    assert [c.kind for c in plain.proposal.checks] == ["icmp"]
    assert plain.type == "destination"
    assert plain.notes == ["ssh: port 22 answers, but no ssh credentials chosen admit this address"]
    ssh_host.ssh_credentials = "root-key"
    polled = describe(ssh_host, PROFILES, NOBODY, set())
    assert [c.kind for c in polled.proposal.checks] == ["icmp", "ssh"]
    assert polled.proposal.checks[1].params["accept_new_host_keys"] is True
    assert polled.type == "device" and polled.proposal.target.credentials == "root-key"
    both = snmp_host()
    both.ssh_banner, both.ssh_credentials = "SSH-2.0-x", "root-key"
    one = describe(both, PROFILES, NOBODY, set())
    assert [c.kind for c in one.proposal.checks] == ["icmp", "snmp"]
    assert "one credentials entry per target" in one.notes[0]


def test_existing_targets_are_marked_and_names_kept_apart() -> None:
    known = Known.of({"core-sw-1": "198.18.3.2", "web": "198.18.3.7"})
    same = describe(snmp_host(), PROFILES, known, set())
    assert same.exists and same.existing == "core-sw-1" and same.name == "core-sw-1"
    other = describe(snmp_host("198.18.3.4"), PROFILES, known, set())
    assert not other.exists and other.name == "core-sw-1-198.18.3.4"
    by_address = describe(HostFacts("198.18.3.7", icmp=True), PROFILES, known, set())
    assert by_address.exists and by_address.existing == "web"
    taken: set[str] = set()
    first = describe(snmp_host("198.18.3.10"), PROFILES, NOBODY, taken)
    second = describe(snmp_host("198.18.3.11"), PROFILES, NOBODY, taken)
    assert (first.name, second.name) == ("core-sw-1", "core-sw-1-198.18.3.11")
