"""Discovery over a real lab /28: net-snmp's snmpd and OpenSSH's sshd inside a lab
namespace, on lab addresses, swept through the API of a real service.

The lab's /28 (``B.16/28`` of the lab's block)::

    .16  answers pings        the network address: never probed (kernel counter says 0)
    .17  snmpd (community C)  in the scope of the stored credentials "lab-snmp"
    .18  snmpd (community C)  the same community, OUTSIDE the scope: never sent it
    .19  sshd                 ssh credentials "lab-ssh" in scope
    .20  answers pings only
    .21  silent (routed into the namespace, assigned nowhere); .22-.30 likewise
    .31  the broadcast address: never probed (kernel counter says 0)
    .32  answers pings        outside the CIDR: never probed (kernel counter says 0)

The truth each answer is compared with: which daemon runs where (set up here), the
agent's own ``snmpget`` for sysDescr and sysName, the banner read with a plain socket, the
agent's ``snmpInPkts`` counter (every SNMP message it received) and the namespace's
iptables packet counters for the addresses that must stay untouched.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.discovery.identify import DEFAULT_DISKS, DEFAULT_INTERFACES, params_take
from netgauge.service import Service
from tests.conftest import as_admin, wait_for
from tests.lab import Lab, missing_requirement
from tests.lab.netns import run
from tests.lab.snmpd import Snmpd, missing_snmpd
from tests.lab.sshd import Sshd, missing_sshd

pytestmark = [pytest.mark.privileged, pytest.mark.network]
SYS_DESCR, SYS_NAME = "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0"
SNMP_IN_PKTS = "1.3.6.1.2.1.11.1.0"  # SNMPv2-MIB snmpInPkts: every message the agent got
COMMUNITY = "lab-community-7f3e"
HR_STORAGE_TYPE, HR_STORAGE_DESCR = "1.3.6.1.2.1.25.2.3.1.2", "1.3.6.1.2.1.25.2.3.1.3"
HR_FIXED_DISK = "1.3.6.1.2.1.25.2.1.4"


@dataclass
class LabNet:
    lab: Lab
    cidr: str
    network: str
    agent: Snmpd
    outsider: Snmpd  # same community, outside the credentials' scope
    sshd: Sshd
    pinged_only: str
    silent: str
    broadcast: str
    beyond: str  # just outside the CIDR

    def packets_to(self, address: str) -> int:
        """Packets the namespace received for ``address`` (its PREROUTING counter)."""
        out = run("ip", "netns", "exec", self.lab.name, "iptables", "-w", "5", "-t", "mangle",
                  "-nvxL", "PREROUTING")  # fmt: skip
        # "pkts bytes target prot opt in out source destination": a rule without a target
        for fields in (line.split() for line in out.splitlines()[2:]):
            if fields and fields[-1] == address:
                return int(fields[0])
        raise AssertionError(f"no counter for {address}:\n{out}")


@pytest.fixture(scope="module")
def net() -> Iterator[LabNet]:
    for reason in (missing_requirement(iptables=True), missing_snmpd(), missing_sshd()):
        if reason:
            pytest.skip(reason)
    with Lab(ipv6=False) as lab:
        assert lab.block4 is not None
        (network,) = lab.add_hosts(1)  # offset 16: the /28's network address
        agent_ip, outsider_ip, ssh_ip, pinged_only = lab.add_hosts(4)
        silent = lab.add_silent_host()
        rest = [lab.add_silent_host() for _ in range(10)]  # .22 .. .31
        (beyond,) = lab.add_hosts(1)  # .32: the next /28
        for address in (network, rest[-1], beyond, pinged_only):
            run(
                "ip",
                "netns",
                "exec",
                lab.name,
                "iptables",
                "-w",
                "5",
                "-t",
                "mangle",
                "-A",
                "PREROUTING",
                "-d",
                address,
            )  # fmt: skip  (counts, decides nothing)
        clients = str(lab.block4)
        with (
            Snmpd(netns=lab.name, address=agent_ip, clients=clients, community=COMMUNITY,
                  sys_name="lab-agent") as agent,
            Snmpd(netns=lab.name, address=outsider_ip, clients=clients, community=COMMUNITY,
                  sys_name="outsider") as outsider,
            Sshd(netns=lab.name, address=ssh_ip) as sshd,
        ):  # fmt: skip
            yield LabNet(
                lab, f"{network}/28", network, agent, outsider, sshd, pinged_only, silent,
                rest[-1], beyond,
            )  # fmt: skip


@pytest.fixture(scope="module")
def client(net: LabNet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("discovery") / "data", port=0)
    service = Service(settings, load_config_text("{}", "empty.yaml").config, "empty.yaml")
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        as_admin(c)
        scope = {"addresses": [f"{net.agent.address}/32"]}
        r = c.put("/api/v1/credentials/lab-snmp", json={
            "kind": "snmp", "secrets": {"community": COMMUNITY}, "scope": scope})  # fmt: skip
        assert r.status_code == 201, r.text
        r = c.put("/api/v1/credentials/lab-ssh", json={
            "kind": "ssh", "username": "root", "files": {"key": str(net.sshd.client_key)},
            "scope": {"addresses": [net.cidr]}})  # fmt: skip
        assert r.status_code == 201, r.text
        yield c


def finished(client: TestClient, sweep_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        sweep: dict[str, Any] = client.get(f"/api/v1/discover/{sweep_id}").json()
        return sweep if sweep["state"] != "running" else None

    result: dict[str, Any] = wait_for(done, timeout=60, interval=0.2, what="the sweep")
    return result


def banner_of(address: str) -> str:
    with socket.create_connection((address, 22), timeout=5) as sock:
        return sock.makefile("rb").readline(256).decode().strip()


@pytest.fixture(scope="module")
def sweep(net: LabNet, client: TestClient) -> dict[str, Any]:
    before = int(net.outsider.snmpget([SNMP_IN_PKTS])[SNMP_IN_PKTS])
    r = client.post(
        "/api/v1/discover", json={"cidr": net.cidr, "credentials": ["lab-snmp", "lab-ssh"]}
    )
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "running" and r.json()["progress"]["total"] == 14
    result = finished(client, r.json()["id"])
    after = int(net.outsider.snmpget([SNMP_IN_PKTS])[SNMP_IN_PKTS])
    result["outsider_packets"] = after - before - 1  # (the second reading is one itself)
    return result


def test_the_found_set_is_the_truth(net: LabNet, sweep: dict[str, Any]) -> None:
    assert sweep["state"] == "done", sweep["error"]
    assert sweep["progress"] == {"done": 14, "total": 14, "stage": "done"}
    found = {h["address"]: h for h in sweep["found"]}
    assert set(found) == {net.agent.address, net.outsider.address, net.sshd.address,
                          net.pinged_only}  # fmt: skip
    answered = {a: (h["answered"]["icmp"], h["answered"]["snmp"], h["answered"]["ssh"])
                for a, h in found.items()}  # fmt: skip
    assert answered == {
        net.agent.address: (True, True, False),
        net.outsider.address: (True, False, False),  # its agent was never asked
        net.sshd.address: (True, False, True),
        net.pinged_only: (True, False, False),
    }


def test_snmp_identity_is_what_snmpget_says(net: LabNet, sweep: dict[str, Any]) -> None:
    host = next(h for h in sweep["found"] if h["address"] == net.agent.address)
    truth = net.agent.snmpget([SYS_DESCR, SYS_NAME])
    assert host["sys_descr"] == truth[SYS_DESCR]
    assert host["name"] == truth[SYS_NAME] == "lab-agent"
    assert host["sys_object_id"].startswith("1.3.6.1.4.1.8072.3.2")
    assert host["profile"] == "net-snmp-linux"
    assert host["answered"]["snmp_credentials"] == "lab-snmp"
    names = {i["name"]: i for i in host["interfaces"]}
    assert set(names) == {"lo", "eth0"}  # the namespace's own, as the agent lists them
    assert names["lo"]["watched"] is False and names["eth0"]["watched"] is True
    types = net.agent.snmpwalk(HR_STORAGE_TYPE)
    descrs = net.agent.snmpwalk(HR_STORAGE_DESCR)
    fixed = {
        descrs[f"{HR_STORAGE_DESCR}.{oid.rsplit('.', 1)[1]}"]
        for oid, kind in types.items()
        if kind == HR_FIXED_DISK
    }
    assert {d["name"] for d in host["disks"] if d["type"] == "hrStorageFixedDisk"} == fixed
    proposal = host["proposal"]
    assert proposal["target"]["credentials"] == "lab-snmp"
    assert [c["kind"] for c in proposal["checks"]] == ["icmp", "snmp"]
    assert host["type"] == "device" and host["exists"] is False
    if params_take("snmp", "interfaces"):  # the pollers take a selection: it is proposed
        snmp = proposal["checks"][1]["params"]
        assert snmp["interfaces"] == DEFAULT_INTERFACES.model_dump(mode="json")
        assert snmp["disks"] == DEFAULT_DISKS.model_dump(mode="json")


def test_ssh_banner_and_proposal(net: LabNet, sweep: dict[str, Any]) -> None:
    host = next(h for h in sweep["found"] if h["address"] == net.sshd.address)
    assert host["answered"]["ssh_banner"] == banner_of(net.sshd.address)
    assert host["name"] == net.sshd.address  # no sysName: its address
    assert [c["kind"] for c in host["proposal"]["checks"]] == ["icmp", "ssh"]
    assert host["proposal"]["target"]["credentials"] == "lab-ssh"
    assert net.sshd.accepted_logins() == 0  # a banner is read, nobody logs in


def test_the_community_never_left_its_scope(net: LabNet, sweep: dict[str, Any]) -> None:
    assert sweep["outsider_packets"] == 0  # the agent with the same community got nothing


def test_nothing_outside_the_hosts_of_the_cidr_is_touched(
    net: LabNet, sweep: dict[str, Any]
) -> None:
    assert sweep["state"] == "done"
    assert net.packets_to(net.network) == 0
    assert net.packets_to(net.broadcast) == 0
    assert net.packets_to(net.beyond) == 0
    assert net.packets_to(net.pinged_only) > 0  # (the counters do count what is sent)


def test_accept_creates_targets_and_jobs_and_results_come(
    net: LabNet, client: TestClient, sweep: dict[str, Any]
) -> None:
    chosen = [net.agent.address, net.pinged_only, net.sshd.address]
    overrides: dict[str, Any] = {net.pinged_only: {"name": "lab-pinged"}}
    selects = params_take("snmp", "interfaces")
    if selects:
        overrides[net.agent.address] = {"interfaces": {"include": ["^eth"]}}
    r = client.post(
        f"/api/v1/discover/{sweep['id']}/accept",
        json={"addresses": chosen, "overrides": overrides},
    )
    assert r.status_code == 201, r.text
    made = {t["name"]: t for t in r.json()["targets"]}
    assert made == {
        "lab-agent": {
            "name": "lab-agent",
            "address": net.agent.address,
            "checks": ["icmp", "snmp"],
        },
        "lab-pinged": {"name": "lab-pinged", "address": net.pinged_only, "checks": ["icmp"]},
        net.sshd.address: {
            "name": net.sshd.address,
            "address": net.sshd.address,
            "checks": ["icmp", "ssh"],
        },
    }
    jobs = {j["name"]: j for j in client.get("/api/v1/jobs").json()}
    assert jobs["lab-agent-snmp"]["targets"] == ["lab-agent"]
    assert jobs["lab-pinged-icmp"]["interval"] == 30
    if selects:
        assert jobs["lab-agent-snmp"]["params"]["interfaces"]["include"] == ["^eth"]
    target = client.get("/api/v1/targets/lab-agent").json()
    assert (target["type"], target["credentials"]) == ("device", "lab-snmp")
    # the poll with the stored community works (run now: its interval is 5 minutes)
    ran = client.post("/api/v1/jobs/lab-agent-snmp/run")
    assert ran.status_code in (202, 409), ran.text  # (409: its own first run began)

    def checks(name: str) -> dict[str, str]:
        r = client.get(f"/api/v1/status/{name}")
        return {c["kind"]: c["status"] for c in r.json()["checks"]} if r.status_code == 200 else {}

    wait_for(lambda: checks("lab-agent").get("snmp") == "ok", timeout=30, what="the snmp poll")
    # the SSH poll logs in with the stored key, trusting the host key it meets first
    ran = client.post(f"/api/v1/jobs/{net.sshd.address}-ssh/run")
    assert ran.status_code in (202, 409), ran.text
    wait_for(lambda: checks(net.sshd.address).get("ssh") == "ok", timeout=30, what="ssh poll")
    assert net.sshd.accepted_logins() >= 1
    data_dir = client.app.state.service.settings.data_dir  # type: ignore[attr-defined]
    pinned = (data_dir / "known_hosts").read_text()
    assert f"{net.sshd.address} {net.sshd.host_public_key}" in pinned
    # the first ping, at the job's own time (within one 30 s interval)
    wait_for(lambda: checks("lab-pinged").get("icmp") == "ok", timeout=45, what="the first ping")
    again = client.get(f"/api/v1/discover/{sweep['id']}").json()
    assert again["accepted"] == chosen
    assert {h["address"]: h["exists"] for h in again["found"]}[net.pinged_only] is True
    r = client.post(f"/api/v1/discover/{sweep['id']}/accept", json={"addresses": chosen})
    assert r.status_code == 409 and r.json()["field"] == "addresses.0"


def token(client: TestClient, role: Role) -> dict[str, str]:
    service = client.app.state.service  # type: ignore[attr-defined]
    made, _ = service.accounts.create_api_token(f"disc-{role}", role, FIRST_ADMIN, "tests")
    return {"Authorization": f"Bearer {made}"}


def test_only_admins_sweep(net: LabNet, client: TestClient, sweep: dict[str, Any]) -> None:
    body = {"cidr": net.cidr, "credentials": ["lab-snmp"]}
    for role in (Role.VIEWER, Role.OPERATOR):
        headers = token(client, role)
        assert client.post("/api/v1/discover", json=body, headers=headers).status_code == 403
        assert client.get(f"/api/v1/discover/{sweep['id']}", headers=headers).status_code == 403
        accept = {"addresses": [net.sshd.address]}
        r = client.post(f"/api/v1/discover/{sweep['id']}/accept", json=accept, headers=headers)
        assert r.status_code == 403
    bare = client.post("/api/v1/discover", json=body, headers={"Authorization": ""})
    assert bare.status_code == 401


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"cidr": "198.18.0.0/21"}, "cidr", "holds 2048 addresses; a sweep covers at most 1024"),
        ({"cidr": "not-a-net"}, "cidr", "is not a network"),
        ({"cidr": "198.18.0.0/30", "credentials": ["nope"]}, "credentials.0",
         "unknown credentials 'nope'"),
        ({"cidr": "198.18.0.0/30", "extra": 1}, "body.extra", ""),
    ],
)  # fmt: skip
def test_bad_sweeps_are_named(
    client: TestClient, sweep: dict[str, Any], body: dict[str, Any], field: str, words: str
) -> None:
    r = client.post("/api/v1/discover", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and words in r.json()["detail"]


def test_one_sweep_at_a_time_over_http(
    net: LabNet, client: TestClient, sweep: dict[str, Any]
) -> None:
    # silent addresses keep a sweep running for the SSH timeout (3 s): the second comes first
    first = client.post("/api/v1/discover", json={"cidr": net.cidr, "snmp": False})
    assert first.status_code == 202, first.text
    second = client.post("/api/v1/discover", json={"cidr": net.cidr})
    assert second.status_code == 409, second.text
    assert second.json()["detail"].startswith(
        f"a sweep is running already (id {first.json()['id']}, {net.cidr})"
    )
    assert finished(client, first.json()["id"])["state"] == "done"
