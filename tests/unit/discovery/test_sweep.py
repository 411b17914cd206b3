"""The sweep's stages over a fake network edge: which addresses are probed, with which
credentials (never outside their scope), and the CIDR limits."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from netgauge.discovery.identify import SystemInfo
from netgauge.discovery.sweep import admits, run_sweep, snmp_version, sweep_addresses
from netgauge.errors import InventoryError
from netgauge.models import CredentialRef, CredentialScope

LINUX = (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)


class FakeNetwork:
    """Hosts by address: which answer pings, which community, which banner; records every
    probe sent, per address and credentials entry."""

    def __init__(
        self,
        pings: set[str],
        communities: dict[str, str],
        banners: dict[str, str],
    ) -> None:
        self.pings, self.communities, self.banners = pings, communities, banners
        self.pinged: list[str] = []
        self.snmp_sent: list[tuple[str, str]] = []  # (address, credentials name)
        self.ssh_asked: list[str] = []

    async def ping(self, addresses: Sequence[str]) -> dict[str, float | None]:
        self.pinged.extend(addresses)
        return {a: (0.5 if a in self.pings else None) for a in addresses}

    async def snmp_system(self, address: str, ref: CredentialRef) -> SystemInfo | None:
        self.snmp_sent.append((address, ref.name))
        if self.communities.get(address) != ref.env.get("community"):
            return None
        return SystemInfo(f"Linux host {address}", LINUX, f"host-{address.split('.')[-1]}")

    async def snmp_tables(
        self, address: str, ref: CredentialRef
    ) -> tuple[list[tuple[str, int | None]], list[tuple[str, str | None, bool]]]:
        return [("lo", 24), ("eth0", 6)], [
            ("/", "hrStorageFixedDisk", False),
            ("/run", "hrStorageFixedDisk", False),
        ]

    async def ssh_banner(self, address: str) -> str | None:
        self.ssh_asked.append(address)
        return self.banners.get(address)


def snmp_ref(name: str, community: str, *networks: str) -> CredentialRef:
    scope = None
    if networks:
        scope = CredentialScope(tuple(ipaddress.ip_network(n) for n in networks))
    return CredentialRef(name, "snmp", env={"community": community}, scope=scope)


def test_a_28_skips_network_and_broadcast() -> None:
    got = sweep_addresses("198.18.3.0/28")
    assert got[0] == "198.18.3.1" and got[-1] == "198.18.3.14" and len(got) == 14


def test_host_bits_are_the_network_and_small_networks_keep_every_address() -> None:
    assert sweep_addresses("198.18.3.5/28") == sweep_addresses("198.18.3.0/28")
    assert sweep_addresses("198.18.3.4/31") == ["198.18.3.4", "198.18.3.5"]
    assert sweep_addresses("198.18.3.4/32") == ["198.18.3.4"]
    assert len(sweep_addresses("fd5e:6e67::/124")) == 16


def test_a_22_is_the_most_by_default() -> None:
    assert len(sweep_addresses("10.0.0.0/22")) == 1022
    with pytest.raises(InventoryError) as caught:
        sweep_addresses("10.0.0.0/21")
    assert str(caught.value) == (
        "cidr: 10.0.0.0/21 holds 2048 addresses; a sweep covers at most 1024 (a /22 or smaller)"
    )
    with pytest.raises(InventoryError, match=r"^cidr: fd00::/64 holds .* \(a /118 or smaller\)"):
        sweep_addresses("fd00::/64")


@pytest.mark.parametrize("bad", ["", "not-a-net", "10.0.0.0/33", "300.1.2.3/24"])
def test_a_bad_cidr_is_named(bad: str) -> None:
    with pytest.raises(InventoryError, match=r"^cidr: .* is not a network"):
        sweep_addresses(bad)


def test_scope_decides_by_address_site_and_tags() -> None:
    ref = CredentialRef(
        "core",
        "snmp",
        scope=CredentialScope(
            (ipaddress.ip_network("198.18.3.0/29"),), frozenset({"lab"}), frozenset({"core"})
        ),
    )
    assert admits(ref, "198.18.3.2", "lab", ["core"])
    assert not admits(ref, "198.18.3.9", "lab", ["core"])  # outside its networks
    assert not admits(ref, "198.18.3.2", None, ["core"])  # not at its site
    assert not admits(ref, "198.18.3.2", "lab", [])  # none of its tags
    assert admits(CredentialRef("free", "snmp"), "203.0.113.9", None, [])  # no scope


def test_version_by_what_the_entry_holds() -> None:
    assert snmp_version(snmp_ref("a", "x")) == "2c"
    assert snmp_version(CredentialRef("v3", "snmp", username="u", sealed={"auth_key": "s"})) == "3"


async def test_credentials_go_only_inside_their_scope() -> None:
    addresses = sweep_addresses("198.18.3.0/29")  # .1 .. .6
    net = FakeNetwork(
        pings={"198.18.3.1", "198.18.3.2", "198.18.3.3"},
        communities={"198.18.3.2": "lab-secret", "198.18.3.5": "lab-secret"},
        banners={"198.18.3.3": "SSH-2.0-OpenSSH_9.2"},
    )
    scoped = snmp_ref("lab", "lab-secret", "198.18.3.0/30")  # .0 - .3 only
    ssh = CredentialRef("root-key", "ssh", username="root")
    found = await run_sweep(addresses, [scoped, ssh], net, concurrency=2)
    assert net.pinged == addresses  # every address once, nothing else
    assert {a for a, _ in net.snmp_sent} == {"198.18.3.1", "198.18.3.2", "198.18.3.3"}
    assert "198.18.3.5" not in {a for a, _ in net.snmp_sent}  # its agent would have answered
    assert net.ssh_asked == addresses
    by = {f.address: f for f in found}
    assert set(by) == {"198.18.3.1", "198.18.3.2", "198.18.3.3"}  # .4 .5 .6 answered nothing
    assert by["198.18.3.2"].snmp_credentials == "lab" and by["198.18.3.2"].system is not None
    assert by["198.18.3.3"].ssh_banner == "SSH-2.0-OpenSSH_9.2"
    assert by["198.18.3.3"].ssh_credentials == "root-key"
    assert by["198.18.3.1"].system is None and by["198.18.3.1"].icmp


async def test_entries_are_tried_in_order_until_one_answers() -> None:
    net = FakeNetwork(set(), {"198.18.3.2": "second"}, {})
    refs = [snmp_ref("one", "first"), snmp_ref("two", "second"), snmp_ref("three", "third")]
    found = await run_sweep(["198.18.3.2"], refs, net, ssh=False)
    assert net.snmp_sent == [("198.18.3.2", "one"), ("198.18.3.2", "two")]
    assert found[0].snmp_credentials == "two"
    assert found[0].interfaces == [("lo", 24), ("eth0", 6)]


async def test_without_snmp_and_ssh_only_pings_and_progress_counts() -> None:
    net = FakeNetwork({"198.18.3.1"}, {"198.18.3.1": "c"}, {"198.18.3.1": "SSH-2.0-x"})
    seen: list[tuple[str, int]] = []
    refs = [snmp_ref("c", "c")]
    found = await run_sweep(
        ["198.18.3.1", "198.18.3.2"],
        refs,
        net,
        snmp=False,
        ssh=False,
        progress=lambda s, d: seen.append((s, d)),
    )
    assert net.snmp_sent == [] and net.ssh_asked == []
    assert [f.address for f in found] == ["198.18.3.1"]
    assert seen[:2] == [("icmp", 0), ("icmp", 2)]
