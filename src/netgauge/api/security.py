"""Authentication and authorization of every request, in one place.

Who: ``Authorization: Bearer <access JWT or API token>``, or the browser's session cookie
(an access JWT, httpOnly, SameSite=Strict) — with the cookie, every state-changing request
must also carry the CSRF token (``X-CSRF-Token`` equal to the ``ng_csrf`` cookie).

What: ``required_role`` maps each route to the least role it needs — reading is viewer,
changing is operator, users and API tokens are admin — and a few routes to none (health,
login). A test walks the whole route table with each role.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials

from netgauge.auth.accounts import MISS
from netgauge.auth.roles import Principal, Role
from netgauge.auth.tokens import API_TOKEN_PREFIX, InvalidToken, read_access
from netgauge.inventory.collectors import CollectorInfo

SESSION_COOKIE, CSRF_COOKIE, CSRF_HEADER = "ng_session", "ng_csrf", "X-CSRF-Token"
REFRESH_COOKIE = "ng_refresh"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# routes anyone may call: probes and load balancers, logging in, agents (their own token)
PUBLIC = frozenset(
    {
        ("GET", "/login"),
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/ingest"),
        # remote collectors: their own token (collector_of), checked at the edge
        ("POST", "/api/v1/collector/sync"),
        ("POST", "/api/v1/collector/results"),
    }
)
ADMIN_PREFIXES = (
    "/api/v1/users",
    "/api/v1/tokens",
    "/api/v1/logs",
    "/api/v1/activity",
    "/api/v1/discover",  # a sweep sends packets, and stored credentials, to a network
    "/admin",  # the console's admin pages
    "/discover",  # its console page
)
# console pages that only show forms to change things (a viewer sees no add/edit controls)
_FORM_PAGE = re.compile(r"^/(?!api/)[^?]*/(new|edit)$|^/targets/import$")


def required_role(method: str, path: str) -> Role | None:
    """The least role a route needs (None: public)."""
    if (method, path) in PUBLIC:
        return None
    if (method, path) == ("POST", "/api/v1/activity"):
        return Role.VIEWER  # every user's console reports its own use
    if path.startswith(ADMIN_PREFIXES):
        return Role.ADMIN
    if path.startswith("/api/v1/collectors") and method not in SAFE_METHODS:
        return Role.ADMIN  # a collector token runs checks with the site's credentials
    if path.startswith("/api/v1/analytics/lake") and method not in SAFE_METHODS:
        return Role.ADMIN  # an export writes files on the server's disk
    if path.startswith("/api/v1/credentials"):  # operators pick them for targets in scope
        return Role.OPERATOR if method in SAFE_METHODS else Role.ADMIN
    if path == "/api/v1/auth/me":
        return Role.VIEWER
    if _FORM_PAGE.match(path):
        return Role.OPERATOR
    return Role.VIEWER if method in SAFE_METHODS else Role.OPERATOR


async def authorize(request: Request) -> Principal | None:
    """The app-wide dependency: 401 without valid credentials, 403 without the role.

    It reads the Authorization header itself rather than through ``HTTPBearer``: one
    sub-dependency less to solve on every request (the schema's security entries are
    written in ``app._document_security``). Requests with a body have passed the same
    check once already, before their body was read (``app._Edge``); it is made again here
    (from the caches) because a live stream calls this at every look."""
    # the path as routed (the rules look at static segments only, so a template is not needed)
    needed = required_role(request.method, request.scope["path"])
    if needed is None:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    credentials = None
    if scheme.lower() == "bearer" and value.strip():
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=value.strip())
    principal = await _identify(request, credentials)
    if not principal.role.allows(needed):
        raise HTTPException(403, f"needs the {needed} role ({principal.name} is {principal.role})")
    request.state.principal = principal
    _ACTOR.set(principal.name)
    return principal


async def _identify(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    service = request.app.state.service
    if credentials is not None:
        token = credentials.credentials
        if token.startswith(API_TOKEN_PREFIX):
            found = await _cached_or_thread(service.accounts, "token_principal", token)
            if found is None:
                raise _unauthorized("API token unknown or revoked")
            return found  # type: ignore[no-any-return]
        return await _user_from_access(service, token, "password")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        raise _unauthorized("log in (POST /api/v1/auth/login) or send a bearer token")
    if request.method not in SAFE_METHODS:
        sent, expected = request.headers.get(CSRF_HEADER, ""), request.cookies.get(CSRF_COOKIE)
        # compared as bytes: compare_digest refuses non-ASCII str (a 500, not a 403)
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise HTTPException(403, f"{CSRF_HEADER}: missing or wrong (session cookies need it)")
    return await _user_from_access(service, cookie, "session")


async def _user_from_access(service: object, token: str, via: str) -> Principal:
    try:
        claims = read_access(service.signing_key, token)  # type: ignore[attr-defined]
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from exc
    # the role as it is now: a demoted or disabled user loses rights at once; a token of an
    # older generation (logged out, new password, a user since made again) none at all
    user = await _cached_or_thread(service.accounts, "active_user", claims.username)  # type: ignore[attr-defined]
    if user is None:
        raise _unauthorized("user unknown or disabled")
    if not hmac.compare_digest(user.generation.encode(), claims.generation.encode()):
        raise _unauthorized("access token ended (logged out or password changed): log in again")
    return Principal(claims.username, user.role, via)


async def _cached_or_thread(accounts: Any, method: str, key: str) -> Any:
    """A cached answer at once; a database lookup in a thread only on a miss (a thread hop
    costs more than the rest of an authenticated request)."""
    hit = accounts.peek(method, key)
    if hit is not MISS:
        return hit
    return await asyncio.to_thread(getattr(accounts, method), key)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


# who is making the current request: set by authorize, read where changes are recorded (the
# endpoint runs in the dependency's context, and asyncio.to_thread copies it)
_ACTOR: ContextVar[str] = ContextVar("actor", default="anonymous")


def current_actor() -> str:
    """The user or API token behind the current request, for the change log."""
    return _ACTOR.get()


# -- bodies: who may send one, and how big ---------------------------------------------------
# FastAPI reads and parses a body before it solves any dependency, so the edge (app._Edge)
# asks these before it lets a body in: an unauthenticated client gets its 401 without the
# server reading a byte of what it sent.
INGEST_PATH = "/api/v1/ingest"
KIB, MIB = 1024, 1024 * 1024
MAX_INGEST_BYTES = 32 * MIB  # an agent's backlog after an outage (500 batches)
MAX_PUBLIC_BYTES = 16 * KIB  # login, refresh, logout: anyone may send these
# routes whose bodies have their own size (small ones, and a CSV import of 10,000 lines)
MAX_SMALL_BYTES = {"/api/v1/activity": 16 * KIB, "/api/v1/targets/import": 5 * MIB}
MAX_BODY_BYTES = 1 * MIB  # everything else: a target, a job, a probe of 1,000 addresses


async def admit_body(request: Request) -> int:
    """The most bytes this request's body may have, once its sender is known to be allowed
    to send one here (HTTPException 401/403 before any byte is read, otherwise)."""
    path = request.scope["path"]
    if (request.method, path) == ("POST", INGEST_PATH):
        await agent_device(request)  # agents only, with their own token
        return MAX_INGEST_BYTES
    if request.method == "POST" and path in COLLECTOR_PATHS:
        await collector_of(request)  # collectors only, with their own token
        return MAX_INGEST_BYTES
    if required_role(request.method, path) is None:
        return MAX_PUBLIC_BYTES
    await authorize(request)
    return MAX_SMALL_BYTES.get(path, MAX_BODY_BYTES)


_T = TypeVar("_T")


async def _pushed_by(
    request: Request, key: str, whose: str, lookup: Callable[[str], _T | None]
) -> _T:
    """Who a push's bearer token belongs to (``lookup`` in a thread; 401 naming ``whose``
    token otherwise), kept in the request's state (which only the server writes): the edge
    asks before the body is read, the route after."""
    state = request.scope.setdefault("state", {})
    if key in state:
        known: _T = state[key]
        return known
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 512:
        raise HTTPException(401, f"send the {whose} token: Authorization: Bearer TOKEN")
    found = await asyncio.to_thread(lookup, token.strip())
    if found is None:
        raise HTTPException(401, f"unknown or revoked {whose} token")
    state[key] = found
    return found


async def agent_device(request: Request) -> str:
    """The device whose agent token the request carries (401 otherwise)."""
    inventory = request.app.state.service.inventory
    return await _pushed_by(request, _AGENT_DEVICE, "device's agent", inventory.device_for_token)


_AGENT_DEVICE = "agent_device"


COLLECTOR_PATHS = frozenset({"/api/v1/collector/sync", "/api/v1/collector/results"})
_COLLECTOR = "collector"


async def collector_of(request: Request) -> CollectorInfo:
    """The collector whose token the request carries (401 otherwise)."""
    store = request.app.state.service.collectors.store
    return await _pushed_by(request, _COLLECTOR, "collector's", store.by_token)


AuthDep = Annotated[Principal | None, Depends(authorize)]


def is_admin(principal: Principal | None) -> bool:
    """Whether the caller is an admin (decides what an inventory change may touch)."""
    return principal is not None and principal.role is Role.ADMIN
