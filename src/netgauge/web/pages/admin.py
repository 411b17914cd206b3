"""Console pages for admins: users, API tokens, the audit trail, the error and request logs.

Every path under /admin needs the admin role (api.security.required_role). The pages read
the accounts and the audit tables; changes go through /api/v1/users and /api/v1/tokens from
static/js/admin.js.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from netgauge.audit.log import CATEGORIES, SEVERITIES
from netgauge.auth.roles import Role
from netgauge.credentials.manage import FIELD_LABELS, STORED_FIELDS
from netgauge.inventory import queries
from netgauge.service import Service
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
ENTITY_TYPES = (
    "site", "credentials", "target", "job", "user", "api_token", "agent_token", "collector",
)  # fmt: skip
SECTIONS = (
    ("/admin/users", "Users"),
    ("/admin/tokens", "API tokens"),
    ("/admin/credentials", "Credentials"),
    ("/admin/collectors", "Collectors"),
    ("/discover", "Discovery"),
    ("/admin/audit", "Audit log"),
    ("/admin/errors", "Errors"),
    ("/admin/requests", "Requests"),
)
OffsetQ = Annotated[int, Query(ge=0, le=10_000_000)]
TextQ = Annotated[str | None, Query(max_length=200)]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _page(request: Request, template: str, title: str, **context: Any) -> HTMLResponse:
    return render(
        request,
        template,
        title=title,
        page_name="admin",
        admin_sections=SECTIONS,
        **context,
    )


def pick(value: str | None, allowed: tuple[str, ...]) -> str | None:
    """A filter value from a fixed set, or None (an unknown one filters nothing)."""
    return value if value in allowed else None


async def audit_page(
    service: Service, table: str, offset: int, **filters: Any
) -> tuple[list[dict[str, Any]], bool]:
    """One page of an audit table, and whether an older page exists (no count: the tables
    are large, and one row more tells the same)."""
    rows = await asyncio.to_thread(service.audit.rows, table, PER_PAGE + 1, offset, **filters)
    return rows[:PER_PAGE], len(rows) > PER_PAGE


def page_links(path: str, offset: int, more: bool, **filters: Any) -> dict[str, str | None]:
    """URLs of the newer and older pages, keeping the filters."""
    kept = {k: v for k, v in filters.items() if v not in (None, "")}

    def url(at: int) -> str:
        query = urlencode({**kept, **({"offset": at} if at else {})})
        return f"{path}?{query}" if query else path

    return {
        "newer": url(max(offset - PER_PAGE, 0)) if offset > 0 else None,
        "older": url(offset + PER_PAGE) if more else None,
    }


@router.get("/admin")
async def admin_home() -> RedirectResponse:
    """The admin section opens on its users."""
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/users")
async def admin_users(request: Request) -> HTMLResponse:
    """Users and roles, with the create form."""
    service = _service(request)
    users = await asyncio.to_thread(service.accounts.list_users)
    seen = await asyncio.to_thread(queries.last_activity, service.inventory)
    return _page(
        request, "admin_users.html", "Users", users=users, seen=seen, roles=[r.value for r in Role]
    )


@router.get("/admin/tokens")
async def admin_tokens(request: Request) -> HTMLResponse:
    """API tokens (never the token itself), with the create form."""
    service = _service(request)
    tokens = await asyncio.to_thread(service.accounts.list_api_tokens)
    tokens = sorted(tokens, key=lambda t: t.id, reverse=True)
    return _page(
        request, "admin_tokens.html", "API tokens", tokens=tokens, roles=[r.value for r in Role]
    )


@router.get("/admin/collectors")
async def admin_collectors(request: Request) -> HTMLResponse:
    """Remote collectors: state, version, last heartbeat, spool, clock offset, what they run;
    the form that makes one (its token shown once) and the revoke buttons."""
    service = _service(request)
    sites = await asyncio.to_thread(service.inventory.list_sites)
    return _page(
        request,
        "admin_collectors.html",
        "Collectors",
        collectors=await service.collectors.listing(),
        sites=[site.name for site in sites],
        server=str(request.base_url).rstrip("/"),
        dead_after_s=service.settings.collector_dead_after_s,
    )


@router.get("/admin/credentials")
async def admin_credentials(request: Request) -> HTMLResponse:
    """Credentials entries (where each value comes from, never a value), with the form."""
    service = _service(request)
    entries = await asyncio.to_thread(service.credentials.list)
    return _page(
        request,
        "admin_credentials.html",
        "Credentials",
        entries=entries,
        stored_fields=STORED_FIELDS,
        field_labels=FIELD_LABELS,
    )


@router.get("/admin/audit")
async def admin_audit(
    request: Request,
    entity_type: TextQ = None,
    name: TextQ = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    user: TextQ = None,
    offset: OffsetQ = 0,
) -> HTMLResponse:
    """Configuration history (filtered by entity) and the console's user activity (paged)."""
    service = _service(request)
    kind = pick(entity_type, ENTITY_TYPES)
    entity = (name or "").strip() or None
    changes = await asyncio.to_thread(service.inventory.list_changes, kind, entity, limit)
    who = (user or "").strip() or None
    activity, more = await audit_page(service, "activity", offset, user=who)
    return _page(
        request,
        "admin_audit.html",
        "Audit log",
        changes=changes,
        entity_types=ENTITY_TYPES,
        entity_type=kind,
        name=entity or "",
        limit=limit,
        activity=activity,
        activity_user=who or "",
        links=page_links(
            "/admin/audit", offset, more, entity_type=kind, name=entity, limit=limit, user=who
        ),
    )


def readable(message: str) -> str:
    """An error line for people: a logged API answer (older versions logged the JSON
    itself) as its fields and messages."""
    if not message.startswith("{"):
        return message
    try:
        body = json.loads(message)
    except ValueError:
        return message
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        return "; ".join(f"{e.get('field', '')}: {e.get('msg', '')}" for e in errors)
    return str(body.get("detail", message)) if isinstance(body, dict) else message


@router.get("/admin/errors")
async def admin_errors(
    request: Request,
    category: TextQ = None,
    severity: TextQ = None,
    offset: OffsetQ = 0,
) -> HTMLResponse:
    """The error log, newest first, by category and severity."""
    service = _service(request)
    cat, sev = pick(category, CATEGORIES), pick(severity, SEVERITIES)
    rows, more = await audit_page(service, "errors", offset, category=cat, severity=sev)
    return _page(
        request,
        "admin_errors.html",
        "Error log",
        rows=rows,
        readable=readable,
        categories=CATEGORIES,
        severities=SEVERITIES,
        category=cat,
        severity=sev,
        offset=offset,
        links=page_links("/admin/errors", offset, more, category=cat, severity=sev),
    )


@router.get("/admin/requests")
async def admin_requests(
    request: Request,
    user: TextQ = None,
    status: Annotated[str | None, Query(max_length=3)] = None,
    offset: OffsetQ = 0,
) -> HTMLResponse:
    """The API request log, newest first, by user and status code."""
    service = _service(request)
    who = (user or "").strip() or None
    code = int(status) if status and status.isdigit() and 100 <= int(status) <= 599 else None
    rows, more = await audit_page(service, "requests", offset, user=who, status=code)
    return _page(
        request,
        "admin_requests.html",
        "Request log",
        rows=rows,
        user_filter=who or "",
        status_filter=code,
        sample_every=service.settings.audit_read_sample,
        offset=offset,
        links=page_links("/admin/requests", offset, more, user=who, status=code),
    )
