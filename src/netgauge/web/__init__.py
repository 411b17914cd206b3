"""The web console: server-rendered pages over the same service as the API.

Each page lives in ``web/pages/<page>.py`` (its route) with ``templates/<page>.html`` and,
when it has behaviour, ``static/js/<page>.js``. Pages read the service directly; what a page
changes goes through the JSON API (``static/js/common.js`` sends the session's CSRF token),
so the API's validation and authorization are the only ones. Assets are shipped in the
package and served from ``/static``: the console needs no internet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from netgauge.web.pages import (
    admin,
    alerts,
    analytics,
    detail,
    discover,
    jobs,
    login,
    overview,
    targets,
)
from netgauge.web.render import render

STATIC = Path(__file__).parent / "static"
# each has a `router`
PAGES = (
    login,
    overview,
    targets,
    detail,
    jobs,
    alerts,
    analytics,
    *analytics.MODULES,
    admin,
    discover,
)


def is_page(path: str) -> bool:
    """A console page (HTML for a browser), as opposed to the API."""
    return not path.startswith(("/api/", "/metrics", "/static/"))


def install(app: FastAPI, dependencies: Sequence[Any]) -> None:
    """Add the console's pages (each with ``dependencies``: the authorization) and its
    assets (public: the login page needs them) to ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in PAGES:
        app.include_router(module.router, dependencies=dependencies)

    async def page_errors(request: Request, exc: Exception) -> Response:
        # Starlette's class: the router's own 404/405 too, not only the routes' errors
        assert isinstance(exc, StarletteHTTPException)
        if not is_page(request.url.path):
            return await http_exception_handler(request, exc)
        if exc.status_code == 401:
            # a browser without a session goes to the login page, and comes back after it
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            title=f"{exc.status_code}",
            message=str(exc.detail),
        )

    app.add_exception_handler(StarletteHTTPException, page_errors)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
