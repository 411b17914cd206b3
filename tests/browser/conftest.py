"""The web console in a real browser: Debian's Chromium, headless, driven by Playwright's sync
API, against a real `netgauge serve` on loopback (the lab's targets are 127.0.0.x).

Screenshots of every page go to ``artifacts/screenshots/`` (or ``$NETGAUGE_ARTIFACTS``).
Any script error or CSP violation in the browser's console fails the test that caused it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, TEST_ADMIN_PASSWORD, NetgaugeServe, free_port

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("NETGAUGE_ARTIFACTS", ROOT / "artifacts")) / "screenshots"
VIEWER, VIEWER_PASSWORD = "vera-viewer", "viewer-password-for-tests"

pytest.importorskip("playwright", reason="playwright (pip) is missing: ./scripts/test installs it")
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"{CHROMIUM} is missing: Debian package chromium (the test command installs it as root)",
        allow_module_level=True,
    )

# the lab: one device (fed by a real agent token through the ingest API) and a fast ICMP job
# over every destination, so a destination added in the browser gets results in seconds.
# The writer flushes every 5 s: a destination's page is opened while its first results are on
# the overview (the live stream) but not yet stored, and must still draw its charts.
CONFIG = """
settings: {write_flush_interval_s: 5}
sites:
  - {name: lab, description: the browser tests' loopback lab}
targets:
  - {name: lab-router, address: 127.0.0.2, type: device, site: lab, tags: [core]}
  - {name: lab-dns, address: 127.0.0.3, site: lab, tags: [core]}
jobs:
  - name: ping-destinations
    kind: icmp
    params: {count: 5, interval: 0.05, timeout: 1.0, pace_ms: 0}
    selector: {type: destination}
    interval: 2s
    timeout: 10s
"""


class Server(NetgaugeServe):
    """A `netgauge serve` for the console (JSON logs, a minute to start) and an admin's API
    client to it."""

    def __init__(self, port: int, data: Path, config: Path) -> None:
        super().__init__(data, config, port=port, env={"NETGAUGE_LOG_FORMAT": "json"})

    def start(self, timeout: float = 60.0, login: bool = True) -> None:
        super().start(timeout, login)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("console")
    config = root / "netgauge.yaml"
    config.write_text(CONFIG)
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        # Debian's chromium; no background traffic of its own (updates, sync, safe browsing)
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-sandbox",  # root in a container: chromium's sandbox needs user namespaces
            ],
        )
        try:
            yield b
        finally:
            b.close()


class Console:
    """A browser tab on the console, collecting script errors and CSP violations."""

    def __init__(self, context: BrowserContext, server: Server) -> None:
        self.context, self.server = context, server
        self.page: Page = context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and not _expected(text):
            self.problems.append(f"console error: {text}")

    def goto(self, path: str) -> Page:
        self.page.goto(self.server.url + path)
        return self.page

    def login(self, username: str = "admin", password: str = TEST_ADMIN_PASSWORD) -> None:
        self.goto("/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(lambda url: "/login" not in url)

    def unlabelled(self) -> list[str]:
        """Form controls and buttons of the current page without an accessible name (a
        label, aria-label or aria-labelledby, or for a button its text): a screen reader
        would announce them as nothing."""
        found: list[str] = self.page.evaluate(UNLABELLED_JS)
        return found

    def shot(self, name: str, page: Page | None = None) -> Path:
        """A full-page screenshot, kept as a test artifact."""
        path = ARTIFACTS / f"{name}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path


UNLABELLED_JS = """() => {
  const named = (el) => (el.labels && el.labels.length) || el.getAttribute("aria-label")
    || el.getAttribute("aria-labelledby") || el.getAttribute("title")
    || ((el.tagName === "BUTTON" || el.tagName === "A") && el.textContent.trim());
  const visible = (el) => el.offsetParent !== null && el.type !== "hidden";
  return [...document.querySelectorAll("input, select, textarea, button, a[href]")]
    .filter((el) => visible(el) && !named(el))
    .map((el) => el.outerHTML.slice(0, 120));
}"""


def _expected(text: str) -> bool:
    """Console errors that are the test's own doing: the 403/401 answers it provokes, and
    a stream cut while the server restarts."""
    return any(
        s in text
        for s in ("status of 401", "status of 403", "status of 422", "status of 409", "ERR_")
    )


@pytest.fixture
def console(browser: Browser, server: Server) -> Iterator[Console]:
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, accept_downloads=True, locale="en-GB"
    )
    c = Console(context, server)
    try:
        yield c
    finally:
        context.close()
    assert not c.problems, c.problems
