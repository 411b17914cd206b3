"""schemathesis against the OpenAPI schema, in-process, as an admin: generated requests for
every operation (valid and invalid bodies, wrong types, odd strings) must never get a 5xx,
and every answer must match what the schema says.

Operations that make netgauge send traffic are left out (the network rule: loopback and own
namespaces only): running probes, and creating, changing or running jobs. With no job, the
targets the fuzzer creates are never probed.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks

from netgauge.api import create_app
from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.service import Service
from tests.conftest import free_port, wait_for

CONFIG = "targets:\n  - {name: localhost, address: 127.0.0.1}\n"
_DIR = Path(tempfile.mkdtemp(prefix="netgauge-fuzz-"))
APP = create_app(
    Service(
        Settings(data_dir=_DIR / "data", port=0),
        load_config_text(CONFIG, "fuzz.yaml").config,
        "fuzz.yaml",
    )
)
_server: dict[str, str] = {}
# what makes netgauge send traffic is left out (see the module docstring)
SENDS_TRAFFIC = [
    "/api/v1/probes/{kind}",
    "/api/v1/jobs",
    "/api/v1/jobs/{name}",
    "/api/v1/jobs/{name}/run",
    "/api/v1/jobs/{name}/enable",
    "/api/v1/targets/{name}/test",  # "test now" probes the target
    "/api/v1/discover",  # a sweep probes a network
    "/api/v1/discover/{sweep_id}/accept",  # makes jobs
]
# Two checks are left out, each for a stated reason:
# - positive_data_acceptance: the schema cannot say "an IP address or a host name" or "a
#   known probe kind" in full; such bodies get a 422 naming the field, which is the promise.
# - allow_header_conformance: the Allow header of a 405 comes from FastAPI's router, which
#   lists the methods of the first route matching the path only.
EXCLUDED = [checks.positive_data_acceptance, checks.allow_header_conformance]
schema = (
    schemathesis.openapi.from_dict(APP.openapi())
    .exclude(path=SENDS_TRAFFIC, method=["POST", "PUT", "PATCH"])
    .exclude(path="/api/v1/auth/logout")
)


@schema.auth()
class AdminToken:
    """Every generated request carries an admin API token (schemathesis also tries none)."""

    def get(self, case: Any, context: Any) -> str:
        return _server.get("token", "")

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@pytest.fixture(scope="module", autouse=True)
def running_server() -> Iterator[None]:
    """The app served by uvicorn on 127.0.0.1 in a thread of its own (its own event loop, as
    in production), for the whole module."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(APP, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=30, what="uvicorn to start")
        token, _ = APP.state.service.accounts.create_api_token(
            "fuzz", Role.ADMIN, FIRST_ADMIN, "tests"
        )
        _server.update(url=f"http://127.0.0.1:{port}", token=token)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        shutil.rmtree(_DIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_5xx_and_every_answer_matches_the_schema(case: Any) -> None:
    case.call_and_validate(base_url=_server["url"], excluded_checks=EXCLUDED)
