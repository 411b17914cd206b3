"""Collectors in the console: an admin makes one for the lab site on Admin › Collectors,
copies its token into a real ``netgauge collector``, sees it online with the site's checks,
sees the destination's smoke chart from that vantage point, and revokes it (the process
stops); a viewer cannot open the page."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import VIEWER, VIEWER_PASSWORD, Console, Server
from tests.conftest import wait_for


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_an_admin_makes_runs_and_revokes_a_collector(
    console: Console, server: Server, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    console.login()
    page = console.goto("/admin/collectors")
    form = page.locator("#collector-form")
    form.get_by_label("Name").fill("lab-1")
    form.get_by_label("Site").select_option("lab")
    assert console.unlabelled() == []
    form.get_by_role("button", name="Create collector").click()
    page.locator("#collector-result").wait_for(state="visible", timeout=10_000)
    token = page.locator("#collector-token").inner_text().strip()
    assert token.startswith("ngc_")
    assert f"--server {server.url}" in page.locator("#collector-command").inner_text()
    console.shot("60-collector-created")

    token_file = tmp_path / "lab-1.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    log = open(tmp_path / "collector.log", "wb")  # noqa: SIM115 (the process keeps it)
    processes.append(subprocess.Popen(
        [sys.executable, "-m", "netgauge", "collector", "--server", server.url,
         "--token-file", str(token_file), "--data-dir", str(tmp_path / "lab-1")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    ))  # fmt: skip
    log.close()

    row = page.locator("#collectors-table tr[data-collector='lab-1']")

    def online() -> bool:
        page.goto(server.url + "/admin/collectors")
        return row.count() == 1 and "online" in row.inner_text()

    wait_for(online, timeout=60, what="lab-1 online on the page")
    cells = row.locator("td")
    assert cells.nth(1).inner_text() == "lab" and int(cells.nth(4).inner_text()) >= 1
    console.shot("61-collector-online")

    # the lab destination measured from lab-1: its own smoke chart on the page
    def drawn_from_lab_1() -> bool:
        page.goto(server.url + "/destinations/lab-dns")
        return page.locator("#chart-icmp-smoke-lab-1").count() == 1

    wait_for(drawn_from_lab_1, timeout=60, what="a smoke chart from lab-1")
    assert "from lab-1" in (
        page.locator("#chart-icmp-smoke-lab-1").get_attribute("aria-label") or ""
    )
    page.locator("#chart-icmp-smoke-lab-1 canvas").first.wait_for(timeout=20_000)
    console.shot("62-smoke-from-a-collector")

    # revoke: confirmed, the row goes, the process stops with status 1 (token refused)
    page.goto(server.url + "/admin/collectors")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    wait_for(lambda: row.count() == 0, timeout=20, what="the row to go")
    assert processes[0].wait(30) == 1

    # a viewer is refused the page
    viewer = console.context.new_page()
    viewer.goto(server.url + "/login")
    viewer.get_by_label("Username").fill(VIEWER)
    viewer.get_by_label("Password").fill(VIEWER_PASSWORD)
    viewer.get_by_role("button", name="Log in").click()
    viewer.wait_for_url(lambda url: "/login" not in url)
    assert viewer.goto(server.url + "/admin/collectors").status == 403  # type: ignore[union-attr]
