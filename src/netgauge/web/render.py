"""Rendering a page: one Jinja environment, the layout's context, cache-busted asset URLs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from netgauge import __version__
from netgauge.auth.roles import Principal, Role
from netgauge.status.measures import LOSS_SCALE, loss_band, loss_scale_json

HERE = Path(__file__).parent
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@cache
def asset(path: str) -> str:
    """``/static/<path>?v=<content hash>``: browsers cache assets for long and still get a
    new one as soon as it changes."""
    data = (HERE / "static" / path).read_bytes()
    return f"/static/{path}?v={hashlib.sha256(data).hexdigest()[:10]}"


def as_utc(value: datetime) -> datetime:
    """An aware datetime: a naive one (as SQLite gives them back) is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def when(value: datetime | None) -> str:
    """A timestamp as the console shows it (UTC, to the second; pages convert to local)."""
    if value is None:
        return "—"
    return as_utc(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str:
    """A timestamp for a ``<time datetime=…>`` attribute."""
    if value is None:
        return ""
    return as_utc(value).astimezone(UTC).isoformat()


def duration_text(seconds: float | None) -> str:
    """60 → "1m", 90 → "90s", 7200 → "2h": how the form and the list show an interval."""
    if seconds is None:
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


_env.globals.update(
    asset=asset,
    version=__version__,
    loss_scale=LOSS_SCALE,
    loss_scale_json=loss_scale_json(),
    duration_text=duration_text,
)
_env.filters.update(when=when, iso=iso, loss_band=loss_band)


def render_fragment(template: str, **context: Any) -> str:
    """A partial template as HTML text, without the layout (for pages and their live
    updates to share one renderer)."""
    return _env.get_template(template).render(**context)


def principal_of(request: Request) -> Principal | None:
    """Who is looking (set by api.security.authorize; None on public pages)."""
    return getattr(request.state, "principal", None)


def _timezone(request: Request, principal: Principal | None) -> str:
    """The zone the user chose for the console ('' : none chosen, the browser's own). Read
    through the accounts' 10-second cache: one small query a user per 10 s at most."""
    service = getattr(request.app.state, "service", None)
    if principal is None or principal.via == "token" or service is None:
        return ""
    return service.accounts.timezone_of(principal.name) or ""


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """``template`` with the layout's context: the user, what their role may do, the page."""
    principal = principal_of(request)
    role = principal.role if principal is not None else None
    html = _env.get_template(template).render(
        request=request,
        path=request.url.path,
        user=principal.name if principal is not None else None,
        user_timezone=_timezone(request, principal),
        role=role,
        can_edit=role is not None and role.allows(Role.OPERATOR),
        is_admin=role is not None and role.allows(Role.ADMIN),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
