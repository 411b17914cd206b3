"""Sweeps as background tasks and accepting their proposals, over a real inventory and a
fake network edge: one sweep at a time, the newest kept, credentials checked by name and
kind, accept all or nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from netgauge.config.model import CredentialConfig, SiteConfig, TargetConfig
from netgauge.discovery.identify import SystemInfo
from netgauge.discovery.model import AcceptIn, DiscoverIn, Override
from netgauge.discovery.service import DiscoveryManager
from netgauge.discovery.sweep import SweepOptions
from netgauge.errors import ConflictError, InventoryError, NotFoundError
from netgauge.inventory import Inventory
from netgauge.inventory.repository import job_config
from netgauge.models import CredentialRef
from netgauge.pollers.selection import InterfaceSelection

LINUX = (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)


class Lab:
    """.1 pings, .2 answers SNMP (community "c"), .3 banners SSH; ``hold`` keeps pings
    waiting until it is set."""

    def __init__(self) -> None:
        self.hold = asyncio.Event()
        self.hold.set()

    async def ping(self, addresses: Sequence[str]) -> dict[str, float | None]:
        await self.hold.wait()
        return {a: 1.0 if a.endswith((".1", ".2", ".3")) else None for a in addresses}

    async def snmp_system(self, address: str, ref: CredentialRef) -> SystemInfo | None:
        if address.endswith(".2") and ref.env.get("community") == "C":
            return SystemInfo("Linux sw 6.1", LINUX, "sw")
        return None

    async def snmp_tables(
        self, address: str, ref: CredentialRef
    ) -> tuple[list[tuple[str, int | None]], list[tuple[str, str | None, bool]]]:
        return [("lo", 24), ("eth0", 6)], [("/", "hrStorageFixedDisk", False)]

    async def ssh_banner(self, address: str) -> str | None:
        return "SSH-2.0-OpenSSH" if address.endswith(".3") else None


@pytest.fixture
def lab() -> Lab:
    return Lab()


@pytest.fixture
def manager(inventory: Inventory, lab: Lab, monkeypatch: pytest.MonkeyPatch) -> DiscoveryManager:
    monkeypatch.setenv("C", "the community")  # lab-snmp's community: the variable C
    inventory.put_credential(
        CredentialConfig(name="lab-snmp", kind="snmp", env={"community": "C"}), "t"
    )
    inventory.put_credential(CredentialConfig(name="web", kind="http", env={"token": "T"}), "t")
    inventory.put_site(SiteConfig(name="lab"), "t")
    inventory.put_credential(CredentialConfig(name="no-community", kind="snmp"), "t")
    unset = CredentialConfig(name="unset-env", kind="snmp", env={"community": "NG_TEST_UNSET_VAR"})
    inventory.put_credential(unset, "t")
    reloads: list[int] = []

    async def reload() -> None:
        reloads.append(1)

    m = DiscoveryManager(inventory, reload, prober=lambda _o: lab, keep=2)
    m.reloads = reloads  # type: ignore[attr-defined]
    return m


async def finished(manager: DiscoveryManager, sweep_id: str) -> None:
    async with asyncio.timeout(10):
        while manager.get(sweep_id).state == "running":
            await asyncio.sleep(0.01)


async def test_a_sweep_finds_and_proposes(manager: DiscoveryManager) -> None:
    body = DiscoverIn(cidr="198.18.3.0/29", credentials=["lab-snmp"], site="lab")
    started = await manager.start(body, "alice")
    assert started.state == "running" and started.progress.total == 6
    await finished(manager, started.id)
    sweep = manager.get(started.id)
    assert sweep.state == "done" and sweep.progress.done == 6
    assert [h.address for h in sweep.found] == ["198.18.3.1", "198.18.3.2", "198.18.3.3"]
    sw = sweep.found[1]
    assert sw.name == "sw" and sw.answered.snmp_credentials == "lab-snmp"
    assert sw.proposal.target.site == "lab"


async def test_one_sweep_at_a_time(manager: DiscoveryManager, lab: Lab) -> None:
    lab.hold.clear()
    first = await manager.start(DiscoverIn(cidr="198.18.3.0/30"), "alice")
    with pytest.raises(ConflictError, match=f"a sweep is running already \\(id {first.id}"):
        await manager.start(DiscoverIn(cidr="198.18.4.0/30"), "bob")
    lab.hold.set()
    await finished(manager, first.id)
    second = await manager.start(DiscoverIn(cidr="198.18.4.0/30"), "bob")
    await finished(manager, second.id)


async def test_only_the_newest_are_kept(manager: DiscoveryManager) -> None:
    ids = []
    for n in range(3):
        ids.append((await manager.start(DiscoverIn(cidr=f"198.18.{n}.0/30"), "a")).id)
        await finished(manager, ids[-1])
    assert [s.id for s in manager.sweeps()] == [ids[2], ids[1]]
    with pytest.raises(NotFoundError, match="only the newest 2 are kept"):
        manager.get(ids[0])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (DiscoverIn(cidr="10.0.0.0/8"), "cidr: 10.0.0.0/8 holds 16777216 addresses"),
        (DiscoverIn(cidr="x", credentials=["lab-snmp"]), "cidr: 'x' is not a network"),
        (
            DiscoverIn(cidr="198.18.3.0/30", credentials=["lab-snmp", "nope"]),
            "credentials.1: unknown credentials 'nope'",
        ),
        (
            DiscoverIn(cidr="198.18.3.0/30", credentials=["web"]),
            "credentials.0: 'web' are http credentials; a sweep tries snmp and ssh ones",
        ),
        (DiscoverIn(cidr="198.18.3.0/30", site="mars"), "site: unknown site 'mars'"),
        (
            DiscoverIn(cidr="198.18.3.0/30", credentials=["no-community"]),
            "credentials.0: credentials 'no-community' give no SNMPv3 user (username)",
        ),
        (
            DiscoverIn(cidr="198.18.3.0/30", credentials=["unset-env"]),
            "credentials.0: credentials 'unset-env': environment variable NG_TEST_UNSET_VAR",
        ),
    ],
)
async def test_bad_requests_are_named(
    manager: DiscoveryManager, body: DiscoverIn, message: str
) -> None:
    with pytest.raises(InventoryError) as caught:
        await manager.start(body, "a")
    assert str(caught.value).startswith(message)
    assert manager.sweeps() == []


async def test_accept_makes_targets_and_jobs_once(
    manager: DiscoveryManager, inventory: Inventory
) -> None:
    started = await manager.start(DiscoverIn(cidr="198.18.3.0/29", credentials=["lab-snmp"]), "a")
    await finished(manager, started.id)
    body = AcceptIn(
        addresses=["198.18.3.2", "198.18.3.1"], overrides={"198.18.3.1": Override(name="gw")}
    )
    answer = await manager.accept(started.id, body, "alice")
    assert [(m.name, m.address, m.checks) for m in answer.targets] == [
        ("sw", "198.18.3.2", ["icmp", "snmp"]),
        ("gw", "198.18.3.1", ["icmp"]),
    ]
    assert answer.jobs == 3 and manager.reloads == [1]  # type: ignore[attr-defined]
    assert inventory.get_target("sw").credentials == "lab-snmp"
    job = job_config(inventory.get_job("sw-snmp"))
    assert (job.kind, job.targets, job.interval) == ("snmp", ["sw"], 300)
    again = manager.get(started.id)
    assert again.accepted == ["198.18.3.2", "198.18.3.1"]
    gw = next(h for h in again.found if h.address == "198.18.3.1")
    assert (gw.existing, gw.name, gw.exists) == ("gw", "gw", True)
    with pytest.raises(ConflictError, match=r"^addresses.0: 198.18.3.2 was added"):
        await manager.accept(started.id, AcceptIn(addresses=["198.18.3.2"]), "alice")


async def test_accept_is_all_or_nothing_and_names_the_host(
    manager: DiscoveryManager, inventory: Inventory
) -> None:
    inventory.put_target(TargetConfig(name="taken", address="192.0.2.1"), "t", admin=True)
    started = await manager.start(DiscoverIn(cidr="198.18.3.0/29"), "a")
    await finished(manager, started.id)
    body = AcceptIn(
        addresses=["198.18.3.1", "198.18.3.3"], overrides={"198.18.3.3": Override(name="taken")}
    )
    with pytest.raises(ConflictError) as caught:
        await manager.accept(started.id, body, "alice")
    assert str(caught.value) == (
        "addresses.1: 198.18.3.3: name: a target named 'taken' already exists"
    )
    assert inventory.target_addresses() == {"taken": "192.0.2.1"}  # .1 was not made either
    with pytest.raises(InventoryError, match=r"^addresses.0: 198.18.3.9 is not among"):
        await manager.accept(started.id, AcceptIn(addresses=["198.18.3.9"]), "alice")
    with pytest.raises(InventoryError, match=r"^overrides.198.18.3.2: not among"):
        await manager.accept(
            started.id,
            AcceptIn(addresses=["198.18.3.1"], overrides={"198.18.3.2": Override(name="x")}),
            "alice",
        )
    no_device = AcceptIn(
        addresses=["198.18.3.1"],
        overrides={"198.18.3.1": Override(interfaces=InterfaceSelection(include=["eth"]))},
    )
    with pytest.raises(InventoryError, match=r"^overrides.198.18.3.1.interfaces: no check"):
        await manager.accept(started.id, no_device, "alice")


def test_options_are_bounded() -> None:
    options = SweepOptions()
    assert options.concurrency <= 64 and options.snmp_timeout_s <= 1 and options.ssh_timeout_s <= 3
