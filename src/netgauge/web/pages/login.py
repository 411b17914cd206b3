"""GET /login: the login form (the form posts to /api/v1/auth/login)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from netgauge.web.render import render

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if not value.isprintable() or any(c.isspace() for c in value):
        return "/"  # browsers drop tabs and newlines from URLs: "/\t/evil" is "//evil"
    return value


@router.get("/login")
async def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=2048)] = None
) -> HTMLResponse:
    """The login form."""
    return render(request, "login.html", next=safe_next(next), page_name="login")
