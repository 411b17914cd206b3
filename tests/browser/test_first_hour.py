"""A new admin's first minutes: add a host with a ping and an HTTP check from the console's
forms (no JSON), and see both results on its page within one interval; a job's kind is
chosen, never preset; a bad setting is named next to its own field."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import Console, Server
from tests.browser.test_credentials import drawn
from tests.conftest import wait_for


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    """A plain web server on loopback for the HTTP check to look at."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def series_of(server: Server, target: str) -> set[str]:
    found = server.http.get("/api/v1/metrics/series", params={"target": target}).json()
    return {s["metric"] for s in found}


def test_add_a_host_with_ping_and_http_and_see_both_within_an_interval(
    console: Console, server: Server, web: str
) -> None:
    console.login()
    page = console.goto("/destinations/new")
    page.get_by_label("Name", exact=True).fill("first-host")
    page.get_by_label("Address").fill("127.0.0.1")
    ping = page.locator("#check-icmp")
    assert ping.is_checked()  # a host added is pinged unless the admin says otherwise
    page.locator("#every-icmp").fill("5s")
    page.locator("#check-http").check()
    page.locator("#every-http").fill("5s")
    # a bad value is named next to its own field, in the HTTP check's settings
    page.locator("#c-http-timeout").fill("-1")
    page.get_by_role("button", name="Save").click()
    error = page.locator(".check-settings[data-kind='http'] .field-error")
    error.wait_for(timeout=10_000)
    assert error.inner_text() == "must be more than 0.0"  # in words, not pydantic's
    assert server.http.get("/api/v1/targets/first-host").status_code == 404  # all or nothing
    console.shot("30-add-host-checks-error")
    page.locator("#c-http-timeout").fill("")
    page.locator("#c-http-url").fill(web)
    page.locator("#c-http-match").fill("Directory listing")
    assert console.unlabelled() == []
    console.shot("31-add-host-checks")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/destinations/first-host$"), timeout=10_000)
    jobs = {j["name"]: j for j in server.http.get("/api/v1/jobs").json()}
    assert jobs["first-host-icmp"]["targets"] == ["first-host"]
    assert jobs["first-host-http"]["params"] == {"url": web, "match": "Directory listing"}
    assert jobs["first-host-http"]["interval"] == 5
    # both results on the host's page, within one interval of each (and the flush)
    wait_for(
        lambda: {"icmp.rtt_avg_ms", "http.total_ms"} <= series_of(server, "first-host"),
        timeout=20,
        what="ping and HTTP results",
    )
    wait_for(lambda: drawn(page) > 0, timeout=30, what="the host's charts")
    text = page.inner_text("body")
    assert "first-host-icmp" in text and "first-host-http" in text
    console.shot("32-first-host-page")
    # the list says how it is now: the state, and the latency and loss of its newest checks
    page.goto(server.url + "/destinations?q=first-host")
    row = page.locator("#targets-table tr[data-name='first-host']")
    status = server.http.get("/api/v1/status/first-host").json()
    icmp = next(c for c in status["checks"] if c["kind"] == "icmp")
    http_ = next(c for c in status["checks"] if c["kind"] == "http")
    worst = max(icmp["metrics"]["rtt_median_ms"], http_["metrics"]["total_ms"])
    shown = float(row.locator("td[data-latency]").get_attribute("data-latency") or "nan")
    assert abs(shown - worst) < max(5.0, worst)  # a newer round may have come meanwhile
    assert row.locator("td[data-loss]").inner_text() == "0 %"
    assert "up" in row.inner_text()
    console.shot("36-list-latency-loss")


def test_a_new_job_asks_for_its_kind_and_shows_its_settings(console: Console) -> None:
    console.login()
    page = console.goto("/jobs/new")
    kind = page.get_by_label("Kind")
    assert kind.input_value() == ""  # nothing chosen for the admin (it used to be dns)
    assert page.locator(".params-kind:not([hidden])").count() == 0
    kind.select_option("http")
    visible = page.locator(".params-kind:not([hidden])")
    assert visible.get_attribute("data-kind") == "http"
    assert visible.get_by_label("Url (http)").is_visible()
    console.shot("33-job-form-http")


def test_import_targets_from_csv_check_then_import(console: Console, server: Server) -> None:
    console.login()
    page = console.goto("/destinations")
    page.get_by_role("link", name="Import CSV").click()
    page.wait_for_url(re.compile(r"/targets/import$"))
    text = page.get_by_label("…or the CSV itself")
    text.fill("name,address,checks\ncsv-a,127.0.0.40,icmp\ncsv-b,127.0.0.41,tcp:99999\n")
    page.get_by_role("button", name="Check").click()
    result = page.locator("#import-result[data-state='errors']")
    result.wait_for(timeout=10_000)
    bad = page.locator("#import-lines tr[data-line='3']")
    assert "not a port" in bad.inner_text()
    console.shot("34-import-check-errors")
    text.fill("name,address,checks\ncsv-a,127.0.0.40,icmp\ncsv-b,127.0.0.41,tcp:22\n")
    page.get_by_role("button", name="Check").click()
    page.locator("#import-result[data-state='checked']").wait_for(timeout=10_000)
    assert server.http.get("/api/v1/targets/csv-a").status_code == 404  # a check makes nothing
    page.get_by_role("button", name="Import").click()
    page.locator("#import-result[data-state='imported']").wait_for(timeout=10_000)
    assert "Imported 2 target(s) and 2 check job(s)" in page.inner_text("#import-summary")
    assert server.http.get("/api/v1/jobs/csv-b-tcp").json()["params"] == {"port": 22}
    assert console.unlabelled() == []
    console.shot("35-import-done")


def test_the_smokeping_view_stacks_four_spans(console: Console, server: Server) -> None:
    """lab-dns is pinged every 2 s by the lab's job: its latency over 3 h, 30 h, 10 d and
    360 d, one smoke chart each, each asking the store for its own step."""
    console.login()
    page = console.goto("/destinations/lab-dns")
    page.locator("#smokeping").wait_for(timeout=10_000)
    page.locator("#smokeping").click()
    page.wait_for_url(re.compile(r"/destinations/lab-dns/smokeping$"))
    panels = page.locator("section.smoke-panel")
    assert panels.count() == 4
    steps = [panels.nth(i).get_attribute("data-step") for i in range(4)]
    assert steps == ["", "60", "3600", "86400"]  # raw rounds, minutes, hours, days
    first = page.locator("#chart-smoke-3h")
    wait_for(lambda: int(first.get_attribute("data-points") or 0) > 0, timeout=30, what="3 h")
    second = page.locator("#chart-smoke-30h")
    wait_for(lambda: int(second.get_attribute("data-points") or 0) > 0, timeout=30, what="30 h")
    assert console.unlabelled() == []
    console.shot("37-smokeping-four-spans")


def test_times_are_in_the_users_zone_and_say_so(browser: Any, server: Server) -> None:
    """A browser in Kolkata sees Kolkata's times, labelled; switched to New York with the
    clock button, every time, label and range input follows; a range typed in New York's
    wall time asks the server for the right instants (checked with zoneinfo here)."""
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="en-GB", timezone_id="Asia/Kolkata"
    )
    console = Console(context, server)
    try:
        console.login()
        page = console.goto("/destinations/lab-dns?range=1h")
        note = page.locator(".range-note time").first
        start = datetime.fromisoformat(str(note.get_attribute("datetime")).replace("Z", "+00:00"))
        kolkata = start.astimezone(ZoneInfo("Asia/Kolkata"))
        shown = note.inner_text()  # en-GB: "07/12/2026, 9:00:00 GMT+5:30"
        assert f"{kolkata.hour}:{kolkata:%M}" in shown and ("GMT+5:30" in shown or "IST" in shown)
        label = page.locator("label[for='range-from']").inner_text()  # ICU's name may be old
        assert label in ("From (Asia/Kolkata)", "From (Asia/Calcutta)")
        assert page.locator("#range-from").input_value() == f"{kolkata:%Y-%m-%dT%H:%M}"
        # another zone, chosen in the header
        page.locator("#tz-button").click()
        page.locator("#tz-input").fill("America/New_York")
        page.get_by_role("button", name="Use this zone").click()
        page.wait_for_load_state()
        page.locator("label[for='range-from']", has_text="America/New_York").wait_for()
        york = start.astimezone(ZoneInfo("America/New_York"))
        shown = page.locator(".range-note time").first.inner_text()
        assert f"{york.hour}:{york:%M}" in shown and ("GMT-5" in shown or "EST" in shown)
        assert "America/New_York" in page.locator("#tz-button").inner_text()
        console.shot("38-times-in-the-users-zone")
        # a custom range typed in New York's wall time
        page.locator("#range-from").fill("2026-11-01T01:30")  # the autumn hour repeats there
        page.locator("#range-to").fill("2026-11-02T12:00")
        page.get_by_role("button", name="Show range").click()
        page.wait_for_url(re.compile(r"from="))
        asked = parse_qs(urlsplit(page.url).query)
        wall = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))  # fold=0
        assert asked["from"][0] == wall.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        end = datetime(2026, 11, 2, 12, 0, tzinfo=ZoneInfo("America/New_York"))
        assert asked["to"][0] == end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert console.problems == []
        # the zone is the account's: another browser (in Berlin) shows New York's times too
        elsewhere = browser.new_context(locale="en-GB", timezone_id="Europe/Berlin")
        try:
            other = Console(elsewhere, server)
            other.login()
            again = other.goto("/destinations/lab-dns?range=1h")
            assert "America/New_York" in again.locator("#tz-button").inner_text()
            label = again.locator("label[for='range-from']").inner_text()
            assert label == "From (America/New_York)"
            # back to "the browser's own" (from the account too): Berlin's times there
            again.locator("#tz-button").click()
            again.get_by_role("button", name="This browser's zone").click()
            again.locator("label[for='range-from']", has_text="Europe/Berlin").wait_for()
            assert other.problems == []
        finally:
            elsewhere.close()
    finally:
        context.close()
