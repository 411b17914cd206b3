"""The analytics API tests' shared pieces: a loopback TCP target the test can take down,
a config of two destinations in one site, running a job and waiting for stored points."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import wait_for


@pytest.fixture
def web_port() -> Iterator[socket.socket]:
    """A listening socket the test closes to take its target down."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock
    sock.close()


def config(web: int, db: int) -> str:
    return f"""
sites:
  - {{name: lab}}
targets:
  - {{name: web, address: 127.0.0.1, site: lab}}
  - {{name: db, address: 127.0.0.1, site: lab}}
jobs:
  - {{name: tcp-web, kind: tcp, params: {{port: {web}}}, targets: [web], interval: 1h,
     enabled: false}}
  - {{name: tcp-db, kind: tcp, params: {{port: {db}}}, targets: [db], interval: 1h,
     enabled: false}}
"""


def run_job(client: TestClient, job: str) -> None:
    """Run ``job`` once and wait until that run finished."""
    before = client.get(f"/api/v1/jobs/{job}/runs").json()["total"]
    assert client.post(f"/api/v1/jobs/{job}/run").status_code == 202

    def finished() -> Any:
        runs = client.get(f"/api/v1/jobs/{job}/runs").json()
        done = runs["total"] > before and runs["items"][0]["status"] != "running"
        return runs if done else None

    wait_for(finished, what=f"{job}'s run to finish")


def stored(client: TestClient, target: str, metric: str, count: int) -> list[dict[str, Any]]:
    """The stored points of one series, once there are ``count`` of them."""
    params = {"target": target, "metric": metric, "from": "2000-01-01T00:00:00Z"}

    def enough() -> Any:
        points = client.get("/api/v1/metrics", params=params).json()["points"]
        return points if len(points) >= count else None

    return list(wait_for(enough, what=f"{count} {metric} points of {target}"))
