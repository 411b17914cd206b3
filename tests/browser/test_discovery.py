"""The newcomer's first hour, part 3: run discovery over a lab /28 from the console and
accept its proposals (some of them, one renamed), then see the targets and their checks.

The lab: a namespace with net-snmp's snmpd on one address (its community stored as
credentials scoped to the /28), OpenSSH's sshd on another, a host that only answers pings
and a silent one. Traffic goes only to that namespace."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from netgauge.discovery.identify import params_take
from tests.browser.conftest import VIEWER, VIEWER_PASSWORD, Console, Server
from tests.conftest import wait_for
from tests.lab import Lab, missing_requirement
from tests.lab.snmpd import Snmpd, missing_snmpd
from tests.lab.sshd import Sshd, missing_sshd

pytestmark = [pytest.mark.privileged, pytest.mark.network]
COMMUNITY = "first-hour-community"


@dataclass
class LabNet:
    cidr: str
    agent: Snmpd
    sshd: Sshd
    pinged: str
    silent: str


@pytest.fixture(scope="module")
def lab_net(server: Server) -> Iterator[LabNet]:
    for reason in (missing_requirement(), missing_snmpd(), missing_sshd()):
        if reason:
            pytest.skip(reason)
    with Lab(ipv6=False) as lab:
        network = lab.add_silent_host()  # offset 16: the /28's network address
        agent_ip, ssh_ip, pinged = lab.add_hosts(3)
        silent = lab.add_silent_host()
        with (
            Snmpd(netns=lab.name, address=agent_ip, clients=str(lab.block4),
                  community=COMMUNITY, sys_name="lab-core-sw") as agent,
            Sshd(netns=lab.name, address=ssh_ip) as sshd,
        ):  # fmt: skip
            cidr = f"{network}/28"
            r = server.http.put("/api/v1/credentials/lab-snmp", json={
                "kind": "snmp", "secrets": {"community": COMMUNITY},
                "scope": {"addresses": [cidr]}})  # fmt: skip
            assert r.status_code in (200, 201), r.text
            yield LabNet(cidr, agent, sshd, pinged, silent)


def test_run_discovery_over_a_lab_28_and_accept_its_proposals(
    console: Console, server: Server, lab_net: LabNet
) -> None:
    console.login()
    page = console.goto("/devices")
    page.get_by_role("link", name="Discover…").click()
    page.wait_for_url(re.compile(r"/discover$"))
    page.get_by_label("Network (CIDR)").fill("198.18.0.0/16")  # too wide: named in words
    page.get_by_role("button", name="Sweep").click()
    error = page.locator("#discover-form .field-error")
    error.wait_for(timeout=10_000)
    assert "holds 65536 addresses; a sweep covers at most 1024" in error.inner_text()
    page.get_by_label("Network (CIDR)").fill(lab_net.cidr)
    page.get_by_role("checkbox", name=re.compile(r"\blab-snmp \(snmp")).check()
    assert console.unlabelled() == []
    page.get_by_role("button", name="Sweep").click()
    page.locator("#sweep[data-state='done']").wait_for(timeout=60_000)
    rows = page.locator("#found-table tbody tr")
    found = [rows.nth(i).get_attribute("data-address") for i in range(rows.count())]
    assert found == [lab_net.agent.address, lab_net.sshd.address, lab_net.pinged]
    assert lab_net.silent not in found
    agent = page.locator(f"#found-table tr[data-address='{lab_net.agent.address}']")
    assert agent.locator(".name-input").input_value() == "lab-core-sw"  # its sysName
    assert "SNMP (lab-snmp)" in agent.inner_text() and "net-snmp-linux" in agent.inner_text()
    watched = agent.locator(".watch-list").first
    assert watched.locator("li.off", has_text="lo").count() == 1  # a loopback: not watched
    assert watched.locator("li.on", has_text="eth0").count() == 1
    selects = params_take("snmp", "interfaces")  # the pollers select interfaces
    if selects:
        # one pattern per line: a regex with a comma stays whole
        agent.get_by_label("Exclude interfaces (regexes, one per line)").fill("^eth\nx{1,2}y")
        watched.locator("li.off", has_text="eth0").wait_for(timeout=5_000)  # the preview
    # all new hosts are chosen: add the switch and the pinged host (renamed), not the SSH one
    page.locator(f"#found-table tr[data-address='{lab_net.sshd.address}'] .pick").uncheck()
    pinged = page.locator(f"#found-table tr[data-address='{lab_net.pinged}']")
    pinged.locator(".name-input").fill("lab-printer")
    assert console.unlabelled() == []
    console.shot("40-discovery-found")
    page.get_by_role("button", name="Add selected").click()
    result = page.locator("#accept-result")
    wait_for(lambda: "Added 2 target(s)" in result.inner_text(), timeout=10, what="the answer")
    assert "3 check job(s): lab-core-sw, lab-printer" in result.inner_text()
    target = server.http.get("/api/v1/targets/lab-core-sw").json()
    assert (target["address"], target["type"]) == (lab_net.agent.address, "device")
    assert target["credentials"] == "lab-snmp"
    jobs = {j["name"]: j for j in server.http.get("/api/v1/jobs").json()}
    assert {"lab-core-sw-icmp", "lab-core-sw-snmp", "lab-printer-icmp"} <= set(jobs)
    assert not any(name.startswith(lab_net.sshd.address) for name in jobs)  # left out
    if selects:
        assert jobs["lab-core-sw-snmp"]["params"]["interfaces"]["exclude"] == ["^eth", "x{1,2}y"]
    pinged.locator(".badge", has_text="added as lab-printer").wait_for(timeout=10_000)
    assert "added as lab-printer" in pinged.inner_text()
    assert pinged.locator(".name-input").input_value() == "lab-printer"
    left_out = page.locator(f"#found-table tr[data-address='{lab_net.sshd.address}'] .pick")
    assert not left_out.is_checked() and left_out.is_enabled()  # as the admin left it
    console.shot("41-discovery-added")
    # the new device is on the devices list, its ping coming within one interval
    page.goto(server.url + "/devices?q=lab-core-sw")
    page.locator("#targets-table tr[data-name='lab-core-sw']").wait_for(timeout=10_000)

    def pinged_once() -> bool:
        r = server.http.get("/api/v1/status/lab-printer")
        return r.status_code == 200 and any(c["kind"] == "icmp" for c in r.json()["checks"])

    wait_for(pinged_once, timeout=45, what="lab-printer's first ping")


def test_discovery_is_for_admins_only(console: Console) -> None:
    console.login(VIEWER, VIEWER_PASSWORD)
    page = console.goto("/discover")
    assert "needs the admin role" in page.inner_text("body")
    assert page.locator("#discover-form").count() == 0
