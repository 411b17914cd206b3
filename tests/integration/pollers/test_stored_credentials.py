"""Credentials entered through the API: sealed at rest, never shown again, used by the next
run against a real snmpd with no restart, re-sealed on key rotation; what each role and
each odd request can make of them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.service import Service
from tests.conftest import as_admin, service_of, wait_for
from tests.integration.conftest import StartApp
from tests.integration.pollers.test_snmp_job import run_job
from tests.lab.snmpd import Snmpd
from tests.lab.sshd import Sshd

KEY_A = "a" * 40
KEY_B = "b" * 40


def config(port: int) -> str:
    return f"""
credentials:
  - {{name: from-file, kind: snmp, env: {{community: NETGAUGE_TEST_UNSET}}}}
jobs:
  - {{name: health, kind: snmp, params: {{port: {port}}}, selector: {{tags: [lab]}},
     interval: 1h, enabled: false}}
"""


def start(settings: Settings, snmpd: Snmpd) -> TestClient:
    service = Service(settings, load_config_text(config(snmpd.port), "c.yaml").config, "c.yaml")
    client = TestClient(create_app(service), raise_server_exceptions=False)
    return as_admin(client.__enter__())


@pytest.fixture
def keyed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NETGAUGE_SECRET_KEY", KEY_A)
    return settings.model_copy(update={"secret_key": KEY_A})


@pytest.fixture
def client(keyed: Settings, snmpd: Snmpd, start_app: StartApp) -> TestClient:
    return start_app(
        config(snmpd.port), name="c.yaml", settings=keyed, raise_server_exceptions=False
    )


def attach(client: TestClient, credentials: str) -> None:
    """The device ``agent`` (made through the API: a restart keeps it) with ``credentials``."""
    body = {"name": "agent", "address": "127.0.0.1", "type": "device", "tags": ["lab"]}
    r = client.put("/api/v1/targets/agent", json=body | {"credentials": credentials})
    assert r.status_code in (200, 201), r.text


def database_bytes(settings: Settings) -> bytes:
    db = settings.data_dir / "inventory.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    return b"".join(p.read_bytes() for p in settings.data_dir.glob("inventory.db*"))


def test_a_community_typed_into_the_api_polls_a_real_agent_and_is_never_shown(
    client: TestClient, keyed: Settings, snmpd: Snmpd
) -> None:
    r = client.put(
        "/api/v1/credentials/lab", json={"kind": "snmp", "secrets": {"community": snmpd.community}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["fields"] == {"community": "stored"}
    attach(client, "lab")
    run = run_job(client)  # the next run, no restart
    assert (run["status"], run["targets_ok"]) == ("ok", 1), run
    # the agent answered with its own uptime: it took the community
    params = {"target": "agent", "metric": "uptime_seconds"}
    wait_for(
        lambda: client.get("/api/v1/metrics", params=params).json()["points"],
        what="the agent's uptime to be stored",
    )
    # never in clear: not in any answer, not in the change log, not in the database files
    for path in ("/api/v1/credentials", "/api/v1/credentials/lab", "/api/v1/changes"):
        assert snmpd.community not in client.get(path).text
    assert snmpd.community.encode() not in database_bytes(keyed)
    change = client.get("/api/v1/changes", params={"entity_type": "credentials"}).json()
    assert any("secret.community" in c["changes"] for c in change), change


def test_a_wrong_community_stored_fails_the_poll_and_a_fixed_one_works_at_once(
    client: TestClient, snmpd: Snmpd
) -> None:
    client.put("/api/v1/credentials/lab", json={"kind": "snmp", "secrets": {"community": "nope"}})
    attach(client, "lab")
    assert run_job(client)["status"] == "failed"
    fixed = client.put(
        "/api/v1/credentials/lab", json={"kind": "snmp", "secrets": {"community": snmpd.community}}
    )
    assert fixed.status_code == 200
    assert run_job(client)["status"] == "ok"
    # changing the scope only keeps the stored community (no field sent: kept)
    scoped = {"kind": "snmp", "scope": {"addresses": ["127.0.0.0/8"]}}
    assert client.put("/api/v1/credentials/lab", json=scoped).json()["fields"] == {
        "community": "stored"
    }
    assert run_job(client)["status"] == "ok"


def test_key_rotation_reseals_and_a_lost_key_is_said_in_words(
    keyed: Settings, snmpd: Snmpd, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = start(keyed, snmpd)
    first.put(
        "/api/v1/credentials/lab", json={"kind": "snmp", "secrets": {"community": snmpd.community}}
    )
    attach(first, "lab")
    first.__exit__(None, None, None)
    before = database_bytes(keyed)

    rotated = keyed.model_copy(update={"secret_key": KEY_B, "previous_secret_keys": KEY_A})
    second = start(rotated, snmpd)
    assert run_job(second)["status"] == "ok"  # opened with the previous key, re-sealed
    second.__exit__(None, None, None)
    assert database_bytes(keyed) != before

    only_new = keyed.model_copy(update={"secret_key": KEY_B})
    third = start(only_new, snmpd)  # the old key dropped after the rotation: still fine
    assert run_job(third)["status"] == "ok"
    third.__exit__(None, None, None)

    lost = keyed.model_copy(update={"secret_key": "c" * 40})
    fourth = start(lost, snmpd)
    run = run_job(fourth)
    assert run["status"] == "failed" and "does not open with the secret key in use" in run["error"]
    fourth.__exit__(None, None, None)


def test_a_sealed_value_copied_to_another_entry_does_not_open(
    client: TestClient, keyed: Settings, snmpd: Snmpd
) -> None:
    client.put(
        "/api/v1/credentials/lab", json={"kind": "snmp", "secrets": {"community": snmpd.community}}
    )
    client.put("/api/v1/credentials/other", json={"kind": "snmp", "secrets": {"community": "x"}})
    with sqlite3.connect(keyed.data_dir / "inventory.db") as conn:  # an attacker with the DB
        conn.execute(
            "UPDATE credentials SET sealed = (SELECT sealed FROM credentials WHERE name='lab') "
            "WHERE name='other'"
        )
    attach(client, "other")
    run = run_job(client)
    assert run["status"] == "failed" and "sealed for another credential" in run["error"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"kind": "snmp", "secrets": {"password": "x"}}, 422, "secrets.password"),
        ({"kind": "snmp", "secrets": {"community": ""}}, 422, "send null to remove"),
        ({"kind": "snmp", "secrets": {"community": "x" * 20000}}, 422, "longer than"),
        (
            {"kind": "snmp", "env": {"community": "SOME_VAR"}, "secrets": {"community": "x"}},
            422,
            "store it or reference it, not both",
        ),
        ({"kind": "telnet"}, 422, "kind"),
        ({"kind": "snmp", "secret": {"community": "x"}}, 422, "secret"),
    ],
)
def test_bad_requests_name_the_field(
    client: TestClient, body: dict[str, Any], status: int, words: str
) -> None:
    r = client.put("/api/v1/credentials/lab", json=body)
    assert r.status_code == status and words in r.text, r.text
    assert client.get("/api/v1/credentials/lab").status_code == 404  # nothing half-saved


def test_who_may_do_what(client: TestClient) -> None:
    service = service_of(client)
    client.put(
        "/api/v1/credentials/lab",
        json={"kind": "ssh", "username": "u", "secrets": {"password": "pw-1"}},
    )
    tokens = {
        role: service.accounts.create_api_token(role.value, role, FIRST_ADMIN, "tests")[0]
        for role in (Role.VIEWER, Role.OPERATOR)
    }

    def as_role(role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    assert client.get("/api/v1/credentials", headers=as_role(Role.VIEWER)).status_code == 403
    listed = client.get("/api/v1/credentials", headers=as_role(Role.OPERATOR))
    assert listed.status_code == 200 and "pw-1" not in listed.text
    body = {"kind": "ssh", "username": "u", "secrets": {"password": "mine"}}
    for verb in ("put", "delete"):
        kwargs: dict[str, Any] = {"json": body} if verb == "put" else {}
        r = getattr(client, verb)(
            "/api/v1/credentials/lab", headers=as_role(Role.OPERATOR), **kwargs
        )
        assert r.status_code == 403
    # the file's entries are the file's
    r = client.put(
        "/api/v1/credentials/from-file", json={"kind": "snmp", "secrets": {"community": "x"}}
    )
    assert r.status_code == 409 and "configuration file" in r.text
    # in use: not deleted
    attach(client, "lab")
    r = client.delete("/api/v1/credentials/lab")
    assert r.status_code == 409 and "agent" in r.text
    attach(client, "from-file")
    assert client.delete("/api/v1/credentials/lab").status_code == 204


def test_a_private_key_pasted_into_the_api_logs_in_to_a_real_sshd(
    keyed: Settings, sshd: Sshd
) -> None:
    """The key's text, not a path: what an admin pastes into the console."""
    known_hosts = keyed.data_dir / "known_hosts"
    keyed.data_dir.mkdir(parents=True, exist_ok=True)
    known_hosts.write_bytes(sshd.known_hosts.read_bytes())
    text = f"""
jobs:
  - {{name: health, kind: ssh, selector: {{tags: [lab]}}, interval: 1h, enabled: false,
     params: {{port: {sshd.port}, known_hosts: "{known_hosts.resolve()}"}}}}
"""
    loaded = load_config_text(text, "ssh.yaml", data_dir=keyed.data_dir)
    with TestClient(create_app(Service(keyed, loaded.config, "ssh.yaml"))) as client:
        as_admin(client)
        key = Path(sshd.client_key).read_text()
        body = {"kind": "ssh", "username": "root", "secrets": {"private_key": key}}
        assert client.put("/api/v1/credentials/lab-ssh", json=body).status_code == 201
        attach(client, "lab-ssh")
        run = run_job(client)
        assert (run["status"], run["targets_ok"]) == ("ok", 1), run
        assert "PRIVATE KEY" not in client.get("/api/v1/credentials/lab-ssh").text
        assert b"PRIVATE KEY" not in database_bytes(keyed)
