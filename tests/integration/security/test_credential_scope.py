"""Issue: an operator could make the server send stored credentials (an SNMP community, an
SSH password) to an address they control, by attaching the credential to a target there
and pressing "Test now". Credentials now have a scope, checked when a target is saved and
again before any packet of a poll leaves."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from tests.integration.security.conftest import bearer

COMMUNITY = "s3cret-community-never-elsewhere"
SSH_PASSWORD = "s3cret-ssh-password-never-elsewhere"
INSIDE, OUTSIDE = "127.0.0.10", "127.0.0.200"  # the scope is 127.0.0.0/25

CONFIG = """
sites: [{name: hq}, {name: lab}]
credentials:
  - name: lab-snmp
    kind: snmp
    env: {community: NG_ATTACK_COMMUNITY}
    scope: {addresses: [127.0.0.0/25]}
  - name: lab-ssh
    kind: ssh
    username: monitor
    env: {password: NG_ATTACK_SSH_PASSWORD}
    scope: {addresses: [127.0.0.0/25]}
  - name: hq-snmp
    kind: snmp
    env: {community: NG_ATTACK_COMMUNITY}
    scope: {sites: [hq], tags: [core, edge]}
  - name: legacy-snmp
    kind: snmp
    env: {community: NG_ATTACK_COMMUNITY}
"""


class UdpTrap:
    """UDP sockets on one port at several loopback addresses: what reached each."""

    def __init__(self, *addresses: str) -> None:
        self.socks: dict[str, socket.socket] = {}
        first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        first.bind((addresses[0], 0))
        self.port = int(first.getsockname()[1])
        self.socks[addresses[0]] = first
        for address in addresses[1:]:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((address, self.port))
            self.socks[address] = sock
        for sock in self.socks.values():
            sock.setblocking(False)

    def received(self, address: str) -> bytes:
        data = b""
        while True:
            try:
                data += self.socks[address].recv(65536)
            except BlockingIOError:
                return data

    def close(self) -> None:
        for sock in self.socks.values():
            sock.close()


@pytest.fixture
def udp() -> Iterator[UdpTrap]:
    trap = UdpTrap(INSIDE, OUTSIDE)
    yield trap
    trap.close()


@pytest.fixture
def api(
    serve: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> tuple[TestClient, dict[str, str], dict[str, str]]:
    monkeypatch.setenv("NG_ATTACK_COMMUNITY", COMMUNITY)
    monkeypatch.setenv("NG_ATTACK_SSH_PASSWORD", SSH_PASSWORD)
    client = serve(CONFIG)
    return client, bearer(client, Role.ADMIN), bearer(client, Role.OPERATOR)


def target(name: str, address: str, credentials: str | None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "address": address, "type": "device", "credentials": credentials, **extra}


# the configuration as it was written before scopes existed
UNSCOPED = """
credentials:
  - {name: core-snmp, kind: snmp, env: {community: NG_ATTACK_COMMUNITY}}
"""


def test_the_reported_attack_sends_nothing(
    serve: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch, udp: UdpTrap
) -> None:
    """The attack as reported: an operator makes a target at an address they control,
    attaches an existing credential, covers it with an SNMP job and presses Test now."""
    monkeypatch.setenv("NG_ATTACK_COMMUNITY", COMMUNITY)
    client = serve(UNSCOPED)
    operator = bearer(client, Role.OPERATOR)
    made = client.post(
        "/api/v1/targets", json=target("mine", OUTSIDE, "core-snmp"), headers=operator
    )
    assert made.status_code == 403, made.text
    # the rest of the attack, tried anyway
    client.post("/api/v1/targets", json=target("mine", OUTSIDE, None), headers=operator)
    client.patch("/api/v1/targets/mine", json={"credentials": "core-snmp"}, headers=operator)
    job = {"name": "grab", "kind": "snmp", "targets": ["mine"],
           "params": {"port": udp.port, "timeout": 0.2, "retries": 0}}  # fmt: skip
    client.post("/api/v1/jobs", json=job, headers=operator)
    client.post("/api/v1/targets/mine/test", headers=operator)
    assert COMMUNITY.encode() not in udp.received(OUTSIDE)


def test_an_operator_cannot_attach_a_credential_outside_its_scope(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, admin, operator = api
    evil = client.post(
        "/api/v1/targets", json=target("evil", OUTSIDE, "lab-snmp"), headers=operator
    )
    assert evil.status_code == 403, evil.text
    assert evil.json()["field"] == "credentials" and "127.0.0.0/25" in evil.json()["detail"]
    # a host name's address is whatever its DNS says at poll time: not the operator's to vouch
    named = client.post(
        "/api/v1/targets", json=target("named", "localhost", "lab-snmp"), headers=operator
    )
    assert named.status_code == 403 and "host name" in named.json()["detail"]
    # an unscoped credential: only an admin decides where it goes
    legacy = client.post(
        "/api/v1/targets", json=target("old", INSIDE, "legacy-snmp"), headers=operator
    )
    assert legacy.status_code == 403 and "no scope" in legacy.json()["detail"]
    # inside the scope is the operator's own business
    ok = client.post("/api/v1/targets", json=target("ok", INSIDE, "lab-snmp"), headers=operator)
    assert ok.status_code == 201, ok.text
    # ... but moving a target that holds credentials is not, even inside the range
    moved = client.patch("/api/v1/targets/ok", json={"address": "127.0.0.11"}, headers=operator)
    assert moved.status_code == 403 and moved.json()["field"] == "address"
    put = client.put("/api/v1/targets/ok", json=target("ok", OUTSIDE, "lab-snmp"), headers=operator)
    assert put.status_code == 403
    # other fields stay the operator's to change
    described = client.patch("/api/v1/targets/ok", json={"description": "x"}, headers=operator)
    assert described.status_code == 200
    # sites and tags scopes: on the site and with one of the tags
    on_hq = target("hq-dev", OUTSIDE, "hq-snmp", site="hq", tags=["edge"])
    assert client.post("/api/v1/targets", json=on_hq, headers=operator).status_code == 201
    on_lab = target("lab-dev", INSIDE, "hq-snmp", site="lab", tags=["edge"])
    assert client.post("/api/v1/targets", json=on_lab, headers=operator).status_code == 403
    untagged = client.patch("/api/v1/targets/hq-dev", json={"tags": ["lab"]}, headers=operator)
    assert untagged.status_code == 403
    # an admin may do all of it
    assert (
        client.post(
            "/api/v1/targets", json=target("evil", OUTSIDE, "lab-snmp"), headers=admin
        ).status_code
        == 201
    )
    assert (
        client.patch("/api/v1/targets/ok", json={"address": OUTSIDE}, headers=admin).status_code
        == 200
    )
    assert (
        client.post(
            "/api/v1/targets", json=target("old", INSIDE, "legacy-snmp"), headers=admin
        ).status_code
        == 201
    )
    # and every refusal is in no change log: nothing was saved
    changes = client.get("/api/v1/changes", params={"name": "named"}, headers=admin).json()
    assert changes == []


def test_a_poll_outside_the_scope_sends_nothing(
    api: tuple[TestClient, dict[str, str], dict[str, str]], udp: UdpTrap
) -> None:
    client, admin, operator = api
    # an admin put a device outside the scope (by mistake, or the scope was narrowed since)
    for name, address in (("evil", OUTSIDE), ("good", INSIDE)):
        made = client.post("/api/v1/targets", json=target(name, address, "lab-snmp"), headers=admin)
        assert made.status_code == 201, made.text
    job = {"name": "snmp-poll", "kind": "snmp", "targets": ["evil", "good"], "interval": "1h",
           "params": {"port": udp.port, "timeout": 0.2, "retries": 0}}  # fmt: skip
    assert client.post("/api/v1/jobs", json=job, headers=admin).status_code == 201
    tested = client.post("/api/v1/targets/evil/test", headers=operator)
    assert tested.status_code == 200, tested.text
    (result,) = tested.json()["results"]
    assert result["status"] == "failed"
    assert result["error"] == f"credentials 'lab-snmp' not allowed for {OUTSIDE}"
    # a scheduled (here: run now) poll is held to the same rule
    assert client.post("/api/v1/jobs/snmp-poll/run", headers=operator).status_code == 202
    runs = _finished_run(client, admin, "snmp-poll")
    outcomes = client.get(f"/api/v1/runs/{runs['id']}/targets", headers=admin).json()
    evil = next(o for o in outcomes if o["target"] == "evil")
    assert evil["error"] == f"credentials 'lab-snmp' not allowed for {OUTSIDE}"
    # not one byte went to the address outside the scope; the one inside got the poll
    assert udp.received(OUTSIDE) == b""
    assert COMMUNITY.encode() in udp.received(INSIDE)


def test_an_ssh_poll_outside_the_scope_never_connects(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, admin, operator = api
    with socket.socket() as trap:
        trap.bind((OUTSIDE, 0))
        trap.listen(8)
        trap.setblocking(False)
        made = client.post(
            "/api/v1/targets", json=target("evil", OUTSIDE, "lab-ssh"), headers=admin
        )
        assert made.status_code == 201
        port = trap.getsockname()[1]
        job = {"name": "ssh-poll", "kind": "ssh", "targets": ["evil"], "params": {"port": port}}
        assert client.post("/api/v1/jobs", json=job, headers=admin).status_code == 201
        (result,) = client.post("/api/v1/targets/evil/test", headers=operator).json()["results"]
        assert result["error"] == f"credentials 'lab-ssh' not allowed for {OUTSIDE}"
        with pytest.raises(BlockingIOError):
            trap.accept()  # nobody connected


def test_accepting_unknown_host_keys_or_any_certificate_is_for_admins(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, admin, operator = api
    client.post("/api/v1/targets", json=target("box", INSIDE, "lab-ssh"), headers=admin)
    tofu = {"name": "ssh-tofu", "kind": "ssh", "targets": ["box"],
            "params": {"accept_new_host_keys": True}}  # fmt: skip
    refused = client.post("/api/v1/jobs", json=tofu, headers=operator)
    assert refused.status_code == 403, refused.text
    assert refused.json()["field"] == "params.accept_new_host_keys"
    assert client.post("/api/v1/jobs", json=tofu, headers=admin).status_code == 201
    # the admin's job stays the admin's: an operator cannot widen who it polls
    widened = client.patch("/api/v1/jobs/ssh-tofu", json={"selector": {"type": "device"}},
                           headers=operator)  # fmt: skip
    assert widened.status_code == 403
    blind = {"name": "winrm-blind", "kind": "winrm", "targets": ["box"],
             "params": {"verify": False}}  # fmt: skip
    assert client.post("/api/v1/jobs", json=blind, headers=operator).status_code == 403
    assert client.post("/api/v1/jobs", json=blind, headers=admin).status_code == 201


def _finished_run(client: TestClient, headers: dict[str, str], job: str) -> dict[str, Any]:
    from tests.conftest import wait_for

    def done() -> dict[str, Any] | None:
        runs = client.get(f"/api/v1/jobs/{job}/runs", headers=headers).json()["items"]
        return next((r for r in runs if r["status"] != "running"), None)

    found: dict[str, Any] = wait_for(done, timeout=30, what=f"a finished run of {job}")
    return found
