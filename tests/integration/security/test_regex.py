"""Issue: an operator's regex ran with Python's backtracking engine on the event loop:
``expect: "(a+)+$"`` froze the whole server for seconds, beyond the check's timeout. Checks
now match with RE2 (linear time), and patterns RE2 cannot run are refused when saved."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from tests.integration.security.conftest import bearer

EVIL = "(a+)+$"  # catastrophic for a backtracking engine on "aaa...ab"
BODY = b"a" * 30 + b"b"  # 2**30 paths for re: over a minute here; nothing for RE2


def test_a_catastrophic_pattern_costs_nothing(
    serve: Callable[..., TestClient], web_server: Callable[..., tuple[str, int]]
) -> None:
    host, port = web_server({"/": (200, {"Content-Type": "text/plain"}, BODY)})
    client = serve(f"targets: [{{name: site, address: {host}}}]\n")
    operator = bearer(client, Role.OPERATOR)
    job = {"name": "page", "kind": "http", "targets": ["site"], "timeout": "2s",
           "params": {"port": port, "match": EVIL, "timeout": 1}}  # fmt: skip
    assert client.post("/api/v1/jobs", json=job, headers=operator).status_code == 201
    started = time.monotonic()
    (result,) = client.post("/api/v1/targets/site/test", headers=operator).json()["results"]
    # the whole check stays within its own 2 s timeout (plus the test's slack): before, the
    # search held the event loop, and with it every other check and request, for a minute
    assert time.monotonic() - started < 2 + 3
    assert result["status"] == "failed", result
    assert result["metrics"]["content_match"] == 0.0
    assert "match" in (result["error"] or "")


def test_patterns_re2_cannot_run_are_refused_when_saved(serve: Callable[..., TestClient]) -> None:
    client = serve("targets: [{name: site, address: 127.0.0.1}]\n")
    operator = bearer(client, Role.OPERATOR)
    for kind, params in (
        ("http", {"match": r"(a)\1"}),
        ("tcp", {"port": 22, "expect": r"^(?=SSH)"}),
        ("dns", {"name": "example.org", "expect_regex": r"(?<=x)y"}),
    ):
        job = {"name": f"{kind}-re", "kind": kind, "targets": ["site"], "params": params}
        r = client.post("/api/v1/jobs", json=job, headers=operator)
        assert r.status_code == 422, r.text
        assert "RE2" in r.json()["detail"] and r.json()["field"].startswith("params.")
