"""Issue: an HTTP check (and Test now) followed redirects anywhere, so a page that an
operator points a job at could send the server to fetch an address inside the network the
job never named. Redirects to another host are followed only when the job says so."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from tests.integration.security.conftest import bearer


def test_a_redirect_to_another_host_is_not_followed(
    serve: Callable[..., TestClient], web_server: Callable[..., tuple[str, int]]
) -> None:
    inside: list[str] = []
    other, other_port = web_server({"/admin": (200, {}, b"internal")}, "127.0.0.3", inside)
    away = {"Location": f"http://{other}:{other_port}/admin"}
    host, port = web_server(
        {"/": (302, away, b""), "/here": (302, {"Location": "/ok"}, b""), "/ok": (200, {}, b"ok")}
    )
    client = serve(f"targets: [{{name: site, address: {host}}}]\n")
    operator = bearer(client, Role.OPERATOR)
    job = {"name": "page", "kind": "http", "targets": ["site"], "params": {"port": port}}
    assert client.post("/api/v1/jobs", json=job, headers=operator).status_code == 201
    (result,) = client.post("/api/v1/targets/site/test", headers=operator).json()["results"]
    assert result["status"] == "failed"
    assert result["error"] == "redirect to another host (127.0.0.3) not followed " \
        "(follow_other_hosts: true follows it)"  # fmt: skip
    assert inside == []
    # a redirect on the same host is followed as before
    same = {"params": {"port": port, "path": "/here"}}
    assert client.patch("/api/v1/jobs/page", json=same, headers=operator).status_code == 200
    (result,) = client.post("/api/v1/targets/site/test", headers=operator).json()["results"]
    assert result["status"] == "ok" and result["metrics"]["redirects"] == 1
    # and the job may say it wants the other host followed
    anywhere = {"params": {"port": port, "follow_other_hosts": True}}
    assert client.patch("/api/v1/jobs/page", json=anywhere, headers=operator).status_code == 200
    (result,) = client.post("/api/v1/targets/site/test", headers=operator).json()["results"]
    assert result["status"] == "ok" and inside == ["/admin"]
