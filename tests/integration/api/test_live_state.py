"""A target's live state is one value everywhere (issue 15): the targets API, the console's
list, the export and /status agree, a device's being its decided state; the state filter
pages and counts in SQL (10,000 targets), and reads only the page's rows."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from netgauge.api import create_app
from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.inventory.tables import TargetRow
from netgauge.models import ProbeResult, ProbeStatus, now_ns
from netgauge.service import Service
from tests.conftest import wait_for

CONFIG = """
targets:
  - {name: sw1, address: 127.0.0.1, type: device}
  - {name: gw, address: 127.0.0.2}
"""


def _client(settings: Settings, config: str) -> TestClient:
    service = Service(settings, load_config_text(config, "live.yaml").config, "live.yaml")
    return TestClient(create_app(service), raise_server_exceptions=False)


def _viewer(client: TestClient) -> dict[str, str]:
    service = client.app.state.service  # type: ignore[attr-defined]
    token, _ = service.accounts.create_api_token("live-viewer", Role.VIEWER, FIRST_ADMIN, "t")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with _client(settings, CONFIG) as c:
        c.headers.update(_viewer(c))
        yield c


def _fold(client: TestClient, target: str, ok: bool, ts_ns: int, device: bool) -> None:
    """A result through the one folding step (stored, tracker, hysteresis), in the app's loop."""
    service = client.app.state.service  # type: ignore[attr-defined]
    status = ProbeStatus.OK if ok else ProbeStatus.FAILED
    result = ProbeResult(target, "icmp", ts_ns, status, {"rtt_avg_ms": 1.0 if ok else None})
    fold = partial(service.folder.fold, "ping", result, device=device, interval_s=60.0)
    client.portal.call(fold)  # type: ignore[union-attr]


def _states(client: TestClient, query: str) -> dict[str, str]:
    page = client.get(f"/api/v1/targets?{query}").json()
    return {item["name"]: item["status"] for item in page["items"]}


def _console(client: TestClient, query: str) -> dict[str, str]:
    html = client.get(f"/devices?{query}").text
    rows = re.findall(r'<tr data-name="([^"]+)">.*?<span class="badge (\w+)">', html, re.S)
    return dict(rows)


def _exported(client: TestClient, query: str) -> set[str]:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = client.get("/api/v1/export/csv", params={**dict(_pairs(query)), "from": since})
    assert r.status_code == 200, r.text
    return {line.split(",")[2] for line in r.text.splitlines()[1:] if line}


def _pairs(query: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in query.split("&")]  # type: ignore[misc]


def test_a_device_the_tracker_calls_up_is_offline_everywhere(client: TestClient) -> None:
    """Offline after three failed checks; one answer since: the tracker's newest result is
    up, the hysteresis waits for a second (recover_after 2). Every view says offline."""
    service = client.app.state.service  # type: ignore[attr-defined]
    start = now_ns() - 10 * 60 * 10**9
    for i, ok in enumerate([False, False, False, True]):
        _fold(client, "sw1", ok, start + i * 60 * 10**9, device=True)
    _fold(client, "gw", True, start, device=False)
    assert service.status.get("sw1").state == "up"  # the check's own view
    assert service.devices.state("sw1").value == "offline"  # the decided one

    assert _states(client, "") == {"gw": "up", "sw1": "offline"}
    assert client.get("/api/v1/targets/sw1").json()["status"] == "offline"
    assert _states(client, "state=offline") == {"sw1": "offline"}
    assert _states(client, "state=up") == {"gw": "up"}  # not the device
    assert _states(client, "state=online") == {}
    assert _console(client, "") == {"sw1": "offline"}
    assert _console(client, "state=offline") == {"sw1": "offline"}
    assert _console(client, "state=online") == {}
    detail = client.get("/devices/sw1").text
    assert 'class="badge offline"' in detail and 'class="badge up"' not in detail
    assert client.get("/api/v1/status/sw1").json()["state"] == "offline"
    # the export picks by the same state (its samples reach the store a moment later)
    wait_for(lambda: _exported(client, "state=offline") == {"sw1"}, what="sw1 exported")
    assert "sw1" not in _exported(client, "state=up")
    assert _exported(client, "state=up") == {"gw"}


def test_device_states_are_filterable_and_bad_states_named(client: TestClient) -> None:
    r = client.get("/api/v1/targets?state=sideways")
    assert r.status_code == 422 and r.json()["field"] == "query.state"
    assert client.get("/api/v1/targets?state=flapping").json()["total"] == 0
    assert client.get("/api/v1/targets?state=unknown").json()["total"] == 2


N = 10_000
STATES = ("up", "down", "degraded")


def _many(client: TestClient, seed: int) -> dict[str, str]:
    """N destinations straight into the inventory; a random 70 % checked, with a random
    state each (two jobs: both up, both down, or one of each). The states set, by name."""
    service = client.app.state.service  # type: ignore[attr-defined]
    rows = [
        TargetRow(name=f"n{i:05d}", address=f"10.{i // 250}.{i % 250}.1", source="test")
        for i in range(N)
    ]
    with service.inventory.session() as s:
        s.add_all(rows)
    rng = random.Random(seed)
    wanted: dict[str, str] = {}
    ts = now_ns()
    for i in range(N):
        if rng.random() < 0.7:
            name, state = f"n{i:05d}", rng.choice(STATES)
            a, b = {"up": (True, True), "down": (False, False), "degraded": (True, False)}[state]
            for job, ok in (("a", a), ("b", b)):
                status = ProbeStatus.OK if ok else ProbeStatus.FAILED
                service.status.update(job, ProbeResult(name, "icmp", ts, status, {}))
            wanted[name] = state
    return wanted


def _all_pages(client: TestClient, query: str, limit: int) -> tuple[list[str], set[int]]:
    names: list[str] = []
    totals: set[int] = set()
    offset = 0
    while True:
        page = client.get(f"/api/v1/targets?{query}&limit={limit}&offset={offset}").json()
        totals.add(page["total"])
        names += [item["name"] for item in page["items"]]
        if len(page["items"]) < limit:
            return names, totals
        offset += limit


def test_state_filter_pages_and_counts_ten_thousand(client: TestClient) -> None:
    wanted = _many(client, seed=15)
    mine = {f"n{i:05d}" for i in range(N)}
    for state in (*STATES, "unknown"):
        if state == "unknown":
            expected = sorted(mine - set(wanted))
        else:
            expected = sorted(n for n, s in wanted.items() if s == state)
        names, totals = _all_pages(client, f"state={state}&type=destination", 1000)
        # sw1 is a device (type filter); gw was never checked: unknown, and not one of mine
        names = [n for n in names if n in mine]
        assert names == expected, state
        extra = 1 if state == "unknown" else 0  # gw
        assert totals == {len(expected) + extra}, state
    # with a search: the count is the intersection, computed in SQL
    expected_q = sorted(n for n, s in wanted.items() if s == "down" and "n01" in n)
    page = client.get("/api/v1/targets?state=down&q=n01&limit=7&offset=3").json()
    assert page["total"] == len(expected_q)
    assert [i["name"] for i in page["items"]] == expected_q[3:10]
    assert all(i["status"] == "down" for i in page["items"])


def test_the_state_filter_reads_only_the_page(client: TestClient) -> None:
    """Every statement that reads targets' rows pages them (LIMIT 25 OFFSET 100), and the
    tags are read for the page's 25 only."""
    _many(client, seed=16)
    engine = client.app.state.service.engine  # type: ignore[attr-defined]
    executed: list[tuple[str, Any]] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        executed.append((statement, params))

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        for state in ("up", "unknown"):
            executed.clear()
            page = client.get(f"/api/v1/targets?state={state}&limit=25&offset=100").json()
            assert page["total"] > 1000 and len(page["items"]) == 25
            rows = [(s, p) for s, p in executed if "FROM targets" in s]
            assert rows, executed
            for statement, params in rows:
                assert re.search(r"LIMIT \S+ OFFSET \S+", statement), statement
                assert list(params)[-2:] == [25, 100], params
            tags = [p for s, p in executed if "FROM target_tags" in s]
            assert len(tags) == 1 and len(tags[0]) <= 25, tags
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
