"""Issue: a job's file params (known_hosts, ca_file, tls_ca_file, resolv_conf,
profiles_dir) were paths the server (often root) read, created and appended to wherever an
operator pointed them. They must now lie inside the data directory or an admin's
``file_dirs``, with the same answer whether or not the file exists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from netgauge.auth.roles import Role
from netgauge.inventory.tables import JobRow
from tests.integration.security.conftest import bearer

TARGETS = """
credentials:
  - {name: ssh-creds, kind: ssh, username: monitor, env: {password: NG_ATTACK_SSH_PASSWORD}}
targets:
  - {name: box, address: 127.0.0.1, type: device, credentials: ssh-creds}
"""


def ssh_job(known_hosts: str, name: str = "ssh-poll") -> dict[str, object]:
    return {"name": name, "kind": "ssh", "targets": ["box"], "interval": "1h",
            "params": {"known_hosts": known_hosts, "connect_timeout": 1}}  # fmt: skip


def test_a_job_cannot_name_files_outside_the_data_directory(
    serve: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = serve(TARGETS)
    admin, operator = bearer(client, Role.ADMIN), bearer(client, Role.OPERATOR)
    outside = tmp_path / "elsewhere" / "made-by-netgauge" / "known_hosts"
    for who in (operator, admin):  # nobody names files over the API: admins list dirs
        refused = client.post("/api/v1/jobs", json=ssh_job(str(outside)), headers=who)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "params.known_hosts"
        assert "must lie inside the data directory" in refused.json()["detail"]
    escape = str(client.app.state.service.settings.data_dir / ".." / "escape")  # type: ignore[attr-defined]
    assert client.post("/api/v1/jobs", json=ssh_job(escape), headers=admin).status_code == 422
    relative = client.post("/api/v1/jobs", json=ssh_job("known_hosts"), headers=admin)
    assert relative.status_code == 422 and "absolute path" in relative.json()["detail"]
    assert not (tmp_path / "elsewhere").exists()
    # inside the data directory is fine
    data_dir = client.app.state.service.settings.data_dir.resolve()  # type: ignore[attr-defined]
    inside = client.post("/api/v1/jobs", json=ssh_job(str(data_dir / "kh")), headers=operator)
    assert inside.status_code == 201, inside.text


def test_the_answer_is_the_same_whether_the_file_exists_or_not(
    serve: Callable[..., TestClient],
) -> None:
    client = serve(TARGETS)
    operator = bearer(client, Role.OPERATOR)

    def answer(kind: str, params: dict[str, object]) -> str:
        job = {"name": f"{kind}-x", "kind": kind, "targets": ["box"], "params": params}
        r = client.post("/api/v1/jobs", json=job, headers=operator)
        assert r.status_code == 422, r.text
        return str(r.json()["detail"])

    for kind, field, extra in (
        ("http", "ca_file", {}),
        ("dns", "tls_ca_file", {"name": "example.org"}),
        ("dns", "resolv_conf", {"name": "example.org", "server": "system"}),
        ("snmp", "profiles_dir", {}),
        ("winrm", "ca_file", {}),
    ):
        there = answer(kind, {**extra, field: "/etc/passwd"})
        missing = answer(kind, {**extra, field: "/etc/no-such-file-anywhere"})
        assert there.replace("/etc/passwd", "P") == missing.replace(
            "/etc/no-such-file-anywhere", "P"
        )
        assert there.startswith(f"params.{field}: must lie inside")
    # the ad-hoc probes API is held to the same rule
    probe = client.post(
        "/api/v1/probes/dns",
        json={"targets": ["127.0.0.1"], "params": {"name": "x", "resolv_conf": "/etc/shadow"}},
        headers=operator,
    )
    assert probe.status_code == 422 and probe.json()["field"] == "params.resolv_conf"
    # netgauge's own defaults are not the job's choice and stay allowed
    default = {"name": "dns-sys", "kind": "dns", "targets": ["box"],
               "params": {"name": "x", "resolv_conf": "/etc/resolv.conf"}}  # fmt: skip
    assert client.post("/api/v1/jobs", json=default, headers=operator).status_code == 201


def test_an_admin_can_allow_more_directories(
    serve: Callable[..., TestClient], tmp_path: Path
) -> None:
    allowed = tmp_path / "pki"
    allowed.mkdir()
    client = serve(TARGETS, file_dirs=[allowed])
    operator = bearer(client, Role.OPERATOR)
    job = {"name": "web", "kind": "http", "targets": ["box"],
           "params": {"scheme": "https", "ca_file": str(allowed / "ca.pem")}}  # fmt: skip
    assert client.post("/api/v1/jobs", json=job, headers=operator).status_code == 201
    # a symbolic link inside an allowed directory does not lead out of it
    (allowed / "link").symlink_to("/etc")
    sneaky = {**job, "name": "web2", "params": {"ca_file": str(allowed / "link" / "passwd")}}
    assert client.post("/api/v1/jobs", json=sneaky, headers=operator).status_code == 422


def test_a_stored_job_naming_a_file_elsewhere_is_not_run(
    serve: Callable[..., TestClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job stored before the rule (or written into the database by hand) is run by
    today's rules: refused at run time, nothing created."""
    monkeypatch.setenv("NG_ATTACK_SSH_PASSWORD", "x")
    client = serve(TARGETS)
    admin = bearer(client, Role.ADMIN)
    service = client.app.state.service  # type: ignore[attr-defined]
    data_dir = service.settings.data_dir.resolve()
    assert (
        client.post("/api/v1/jobs", json=ssh_job(str(data_dir / "kh")), headers=admin).status_code
        == 201
    )
    outside = tmp_path / "elsewhere" / "known_hosts"
    with service.inventory.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.name == "ssh-poll")
            .values(params={"known_hosts": str(outside), "accept_new_host_keys": True})
        )
    (result,) = client.post("/api/v1/targets/box/test", headers=admin).json()["results"]
    assert result["status"] == "failed" and "must lie inside" in result["error"]
    assert client.post("/api/v1/jobs/ssh-poll/run", headers=admin).status_code == 202
    from tests.conftest import wait_for

    def finished() -> dict[str, object] | None:
        items = client.get("/api/v1/jobs/ssh-poll/runs", headers=admin).json()["items"]
        return next((r for r in items if r["status"] != "running"), None)

    run = wait_for(finished, timeout=30, what="the run")
    assert run["status"] == "failed" and "must lie inside" in str(run["error"])
    assert not (tmp_path / "elsewhere").exists()
