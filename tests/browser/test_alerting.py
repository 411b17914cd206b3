"""Alerting in Chromium: the alerts page (a firing alert, silencing it from its row), the
incidents list and an incident's timeline (acknowledging it), the notifiers' "Send test"
(a real webhook receiver gets it, the deliveries table shows it sent), the calendar's week
grid of a site with a schedule, and a viewer who sees all of it and can change none."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import VIEWER, VIEWER_PASSWORD, Console, Server
from tests.conftest import free_port, wait_for
from tests.lab.receivers import WebhookReceiver

pytestmark = [pytest.mark.network]

CONFIG = """
settings: {{write_flush_interval_s: 2}}
schedules:
  - name: office
    open: [{{days: weekdays, start: "08:00", end: "18:00"}}]
    peak: [{{days: weekdays, start: "09:00", end: "11:00"}}]
    maintenance:
      - {{name: patch-night, rrule: "FREQ=WEEKLY;BYDAY={day}", start: "2026-01-04T02:00",
         duration: 2h}}
    holidays: {{country: DE, subdiv: BE}}
sites:
  - {{name: berlin, timezone: Europe/Berlin, schedule: office}}
notifiers:
  - {{name: hook, kind: webhook, url: "{url}"}}
alerts:
  - {{name: service-down, condition: {{state: down}}, notify: [hook], group_wait: 1s,
     severity: critical}}
targets:
  - {{name: closed-port, address: 127.0.0.1, site: berlin}}
jobs:
  - {{name: tcp-closed, kind: tcp, params: {{port: {port}}}, targets: [closed-port],
     interval: 2s}}
"""


def maintenance_day() -> str:
    """Sunday nights, unless the suite runs on a Berlin Sunday: a maintenance window holding
    "now" would mute the alert this module waits for."""
    return "WE" if datetime.now(ZoneInfo("Europe/Berlin")).weekday() == 6 else "SU"


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


@pytest.fixture(scope="module")
def alerting_server(
    tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("alerting-console")
    config = root / "netgauge.yaml"
    config.write_text(  # nothing listens on the port
        CONFIG.format(url=receiver.url, port=free_port(), day=maintenance_day())
    )
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


@pytest.fixture
def console(browser: Browser, alerting_server: Server) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    c = Console(context, alerting_server)
    try:
        yield c
    finally:
        context.close()
    assert not c.problems, c.problems


def firing(server: Server) -> list[dict[str, Any]]:
    return [a for a in server.http.get("/api/v1/alerts").json() if a["state"] == "firing"]


def test_alerts_silences_incidents_and_acknowledging(
    console: Console, alerting_server: Server, receiver: WebhookReceiver
) -> None:
    wait_for(lambda: firing(alerting_server), timeout=30, what="the alert firing")
    wait_for(lambda: receiver.received, timeout=30, what="its notification")
    console.login()
    page = console.goto("/alerts")
    row = page.locator("#alerts-table tr[data-fingerprint]").first
    assert "service-down" in row.inner_text() and "closed-port" in row.inner_text()
    assert row.locator(".badge", has_text="firing").count() == 1
    console.shot("40-alerts")
    # silence it from its row: the form is filled with its labels
    row.get_by_role("button", name="Silence…").click()
    assert page.get_by_label("Target").input_value() == "closed-port"
    page.get_by_label("Comment").fill("port closed on purpose")
    page.get_by_role("button", name="Add silence").click()
    page.wait_for_selector("#silences-table tr[data-silence]")
    silence = page.locator("#silences-table tr[data-silence]").first.inner_text()
    assert 'target="closed-port"' in silence and "port closed on purpose" in silence
    assert page.locator("#alerts-table .badge", has_text="silenced").count() == 1
    console.shot("41-alerts-silenced")
    # a silence of everything is refused in words; a bad duration is named at its field
    page.get_by_role("button", name="Add silence").click()
    page.wait_for_selector(".form-error:not([hidden])")
    assert "would mute everything" in page.locator("#silence-form").inner_text()
    page.get_by_label("Target").fill("closed-port")
    page.get_by_label("For").fill("soon")
    page.get_by_role("button", name="Add silence").click()
    page.wait_for_selector(".field-error, .form-error:not([hidden])")
    assert "soon" in page.locator("#silence-form").inner_text()

    page = console.goto("/incidents")
    page.locator("#incidents-table a").first.click()
    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    assert page.locator("#timeline li[data-kind=fired]").count() == 1
    wait_for(
        lambda: page.reload() and page.locator("#timeline li[data-kind=notified]").count(),
        timeout=20,
        what="the notification on the timeline",
    )
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector("#timeline li[data-kind=acked]")
    assert "admin" in page.locator("#acked").inner_text()
    console.shot("42-incident")


def test_send_test_reaches_the_receiver_and_shows_as_sent(
    console: Console, receiver: WebhookReceiver
) -> None:
    console.login()
    page = console.goto("/notifications")
    assert "http://127.0.0.1:" in page.locator("#notifiers-table").inner_text()
    before = len(receiver.received)
    with page.expect_navigation():  # the button reloads the page once the API took it
        page.locator("tr[data-notifier=hook]").get_by_role("button", name="Send test").click()
    wait_for(lambda: len(receiver.received) > before, timeout=20, what="the test notification")
    assert receiver.payloads()[-1]["alerts"][0]["labels"]["alertname"] == "netgauge-test"

    def shown_sent() -> bool:
        page.reload()
        first = page.locator("#notifications-table tbody tr").first.inner_text()
        return "test" in first and "sent" in first

    wait_for(shown_sent, timeout=20, what="the delivery shown as sent")
    console.shot("43-notifications")


def test_the_calendar_grid_shows_14_days_in_the_sites_zone(console: Console) -> None:
    console.login()
    page = console.goto("/calendar?site=berlin")
    assert "Europe/Berlin" in page.locator("#cal-zone").inner_text()
    days = page.locator("#week-grid .grid-day")
    assert days.count() == 14
    states = set(
        page.eval_on_selector_all("#week-grid rect.seg", "els => els.map(e => e.dataset.state)")
    )
    assert {"open", "peak", "closed", "maintenance"} <= states
    # two Sundays (or Wednesdays) in 14 days: two maintenance nights of 2 h each
    maint = page.eval_on_selector_all(
        "#week-grid rect[data-state=maintenance]", "els => els.map(e => +e.getAttribute('width'))"
    )
    assert maint == [120.0, 120.0]
    console.shot("44-calendar")


def test_a_viewer_sees_alerting_but_cannot_change_it(console: Console) -> None:
    console.login(VIEWER, VIEWER_PASSWORD)
    page = console.goto("/alerts")
    assert page.locator("#alerts-table, #no-alerts").count() == 1
    assert page.get_by_role("button", name="Silence…").count() == 0
    assert page.locator("#silence-form").count() == 0
    page = console.goto("/notifications")
    assert page.get_by_role("button", name="Send test").count() == 0
    page = console.goto("/incidents")
    if page.locator("#incidents-table a").count():
        page.locator("#incidents-table a").first.click()
        assert page.get_by_role("button", name="Acknowledge").count() == 0
    status = page.evaluate(
        """async () => {
            try { await ng.api("POST", "/api/v1/notifiers/hook/test"); return 202; }
            catch (e) { return e.status; }
        }"""
    )
    assert status == 403
    console.shot("45-viewer-alerts")
