"""/docs in Chromium with every request beyond the server's own origin refused, as on a
network without internet: Swagger UI (served from the package) draws netgauge's schema, and
no script error or CSP violation is reported. (FastAPI's page loaded it from a CDN: blank.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Console, Server

pytestmark = [pytest.mark.network, pytest.mark.privileged]


def test_the_api_docs_work_offline(console: Console, server: Server) -> None:
    elsewhere: list[str] = []

    def only_our_origin(route: Any) -> None:
        url = route.request.url
        if url.startswith(server.url + "/") or url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    console.context.route("**/*", only_our_origin)
    page = console.goto("/docs")
    title = page.locator(".swagger-ui .info .title")
    title.wait_for(timeout=15_000)
    assert "netgauge" in title.inner_text()
    page.locator(".opblock-summary-path", has_text="/api/v1/health").first.wait_for()
    console.shot("20-api-docs-offline")
    assert elsewhere == []
    assert console.problems == []
