"""The health score's console view in a real browser: an operator recomputes, the page shows
every target and the site with a score, a target's breakdown lists all nine components; a
viewer sees the scores but no recompute button. No script error or CSP violation."""

from __future__ import annotations

from tests.browser.conftest import VIEWER, VIEWER_PASSWORD, Console, Server
from tests.conftest import wait_for


def test_recompute_and_read_a_breakdown(console: Console, server: Server) -> None:
    # the lab's ICMP job has stored a status for lab-dns: something to score
    wait_for(
        lambda: server.http.get(
            "/api/v1/metrics", params={"target": "lab-dns", "metric": "status"}
        ).json()["points"],
        timeout=60,
        what="lab-dns's first stored status",
    )
    console.login()
    page = console.goto("/analytics/health")
    with page.expect_navigation():
        page.get_by_role("button", name="Recompute now").click()
    rows = page.locator("#health-targets tbody tr")
    names = {rows.nth(i).get_attribute("data-target") for i in range(rows.count())}
    assert {"lab-dns", "lab-router"} <= names
    score = page.locator('#health-targets tr[data-target="lab-dns"] .badge').inner_text()
    assert score != "no data" and 0 <= float(score) <= 100
    assert page.locator('#health-sites tr[data-site="lab"]').count() == 1
    console.shot("analytics-health")
    page.locator('#health-targets a[href="/analytics/health/lab-dns"]').click()
    page.wait_for_url("**/analytics/health/lab-dns")
    assert page.locator("#health-components tbody tr").count() == 9
    assert page.locator("#health-score").inner_text() == score
    console.shot("analytics-health-target")
    assert console.unlabelled() == []


def test_a_viewer_reads_but_does_not_recompute(console: Console) -> None:
    console.login(VIEWER, VIEWER_PASSWORD)
    page = console.goto("/analytics/health")
    assert page.locator("#health-targets").count() == 1
    assert page.get_by_role("button", name="Recompute now").count() == 0
