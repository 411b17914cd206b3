"""Error patterns in Chromium, end to end: a real `netgauge serve` runs TCP checks of two
loopback addresses where nothing listens; their failures ("Connection refused", stored as
data in the job runs) show up in /analytics/patterns as one template over both targets,
listed as a new pattern, with no script error or CSP violation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import Console, Server
from tests.conftest import free_port, wait_for

pytestmark = [pytest.mark.network]

CONFIG = """
targets:
  - {{name: closed-a, address: 127.0.0.1}}
  - {{name: closed-b, address: 127.0.0.2}}
jobs:
  - {{name: tcp-closed, kind: tcp, params: {{port: {port}}}, targets: [closed-a, closed-b],
     interval: 2s}}
"""


@pytest.fixture(scope="module")
def patterns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("patterns-console")
    config = root / "netgauge.yaml"
    config.write_text(CONFIG.format(port=free_port()))  # nothing listens on the port
    (root / "data").mkdir()
    s = Server(free_port(), root / "data", config)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def console(browser: Browser, patterns_server: Server) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    c = Console(context, patterns_server)
    try:
        yield c
    finally:
        context.close()
    assert not c.problems, c.problems


def refused(server: Server) -> dict[str, Any] | None:
    body = server.http.get("/api/v1/analytics/patterns").json()
    for p in body["patterns"]:
        if "Connection refused" in p["template"] and p["targets_total"] == 2:
            return dict(p)
    return None


def test_the_refusals_are_one_template_over_both_targets(
    console: Console, patterns_server: Server
) -> None:
    found = wait_for(
        lambda: refused(patterns_server), timeout=60, interval=0.5, what="the refusals"
    )
    assert found["sources"] == {"target": found["count"]}
    console.login()
    page = console.goto("/analytics/patterns")
    row = page.locator(f'#patterns-table tr[data-template-id="{found["id"]}"]')
    text = row.inner_text()
    assert "closed-a" in text and "closed-b" in text
    assert "Connection refused" in page.locator("#new-patterns").inner_text()
    assert console.unlabelled() == []
    console.shot("60-analytics-patterns")
