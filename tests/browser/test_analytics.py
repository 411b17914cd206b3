"""Every analytics view in Chromium, for an admin and a viewer: the index lists each one,
each opens from its link with no script error, CSP violation or unlabelled control, at
desktop and phone width (its tables scroll rather than clip)."""

from __future__ import annotations

import re

from netgauge import __version__
from tests.browser.conftest import VIEWER, VIEWER_PASSWORD, Console


def view_links(console: Console) -> list[tuple[str, str]]:
    page = console.goto("/analytics")
    links = page.locator(".analytics-views a")
    return [
        (links.nth(i).inner_text(), str(links.nth(i).get_attribute("href")))
        for i in range(links.count())
    ]


def test_every_view_opens_from_the_index(console: Console) -> None:
    console.login()
    views = view_links(console)
    assert views, "the index lists no view"
    assert all(href.startswith("/analytics/") for _, href in views)
    for title, href in views:
        page = console.goto("/analytics")
        page.get_by_role("link", name=title, exact=True).click()
        page.wait_for_url(re.compile(re.escape(href) + r"(\?.*)?$"))
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").first.inner_text().strip(), f"{href} has no heading"
        assert console.unlabelled() == [], href
        assert page.locator("nav a[aria-current=page]").inner_text() == "Analytics"
        # a view's own variables never shadow the layout's (the health view's formula
        # version once showed as netgauge's)
        assert f"netgauge {__version__}" in page.locator("footer").inner_text(), href
        console.shot("60-analytics" + href.replace("/analytics", "").replace("/", "-"))


def test_a_viewer_and_a_phone_see_them_too(console: Console) -> None:
    console.login(VIEWER, VIEWER_PASSWORD)
    console.page.set_viewport_size({"width": 390, "height": 844})
    for _, href in view_links(console):
        page = console.goto(href)
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").first.is_visible(), href
        # nothing wider than the phone outside a scrolling table wrapper
        overflow = page.evaluate(
            """() => [...document.querySelectorAll('main *')].filter(el => {
                 const r = el.getBoundingClientRect();
                 return r.right > window.innerWidth + 1 && !el.closest('.table-wrap');
               }).map(el => el.tagName + '.' + el.className).slice(0, 5)"""
        )
        assert overflow == [], (href, overflow)
