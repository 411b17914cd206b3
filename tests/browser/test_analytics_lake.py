"""The data lake view in Chromium, against a real `netgauge serve` whose settings name a
``lake_dir``: serve's schedule exports at start (``/health`` says ``lake: ok``), the view
lists the tables the manifest holds, "Export now" (admins) runs one more export through the
API with the session's CSRF token, and a viewer sees the status without the button."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import VIEWER, VIEWER_PASSWORD, Console, Server
from tests.conftest import free_port, wait_for

pytestmark = [pytest.mark.network, pytest.mark.privileged]
CONFIG = """
settings: {{lake_dir: {lake}, lake_interval_s: 3600}}
targets:
  - {{name: lab-router, address: 127.0.0.2, type: device}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's own serve (the shared one has no lake_dir)."""
    root = tmp_path_factory.mktemp("lake-console")
    config = root / "netgauge.yaml"
    config.write_text(CONFIG.format(lake=json.dumps(str(root / "lake"))))
    (root / "data").mkdir()
    s = Server(free_port(), root / "data", config)
    s.start()
    r = s.http.post(
        "/api/v1/users", json={"username": VIEWER, "password": VIEWER_PASSWORD, "role": "viewer"}
    )
    assert r.status_code == 201, r.text
    try:
        yield s
    finally:
        s.stop()


def test_the_lake_view_shows_the_export_and_runs_one(console: Console, server: Server) -> None:
    wait_for(
        lambda: server.http.get("/api/v1/health").json()["lake"] == "ok",
        timeout=60,
        what="the export serve runs at start",
    )
    lake = Path(server.http.get("/api/v1/analytics/lake").json()["out"])
    console.login()
    page = console.goto("/analytics/lake")
    assert str(lake) in page.locator("#lake-out").inner_text()
    tables = page.locator("#lake-tables tbody tr td:first-child").all_inner_texts()
    assert "config_changes" in tables  # the YAML sync's changes, exported at start
    before = json.loads((lake / "_netgauge_lake_status.json").read_text())["started_at"]
    page.get_by_role("button", name="Export now").click()
    wait_for(
        lambda: (
            json.loads((lake / "_netgauge_lake_status.json").read_text())["started_at"] != before
        ),
        timeout=60,
        what="the export the button asked for",
    )
    page.wait_for_load_state()
    page.locator("#lake-last", has_text="files written").wait_for()
    console.shot("analytics-lake")
    assert console.problems == []


def test_a_viewer_sees_the_status_without_the_button(console: Console, server: Server) -> None:
    console.login(VIEWER, VIEWER_PASSWORD)
    page = console.goto("/analytics/lake")
    page.locator("#lake-facts").wait_for()
    assert page.get_by_role("button", name="Export now").count() == 0
