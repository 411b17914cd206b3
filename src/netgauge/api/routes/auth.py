"""/api/v1/auth: log in and out, refresh, who am I.

A login answers with a short access token and a refresh token (for scripts), and sets the
browser's session: the access token in an httpOnly SameSite=Strict cookie, and a CSRF token
in a cookie the page's script reads and sends back as ``X-CSRF-Token``.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from datetime import timedelta
from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from netgauge.api.deps import ServiceDep
from netgauge.api.security import CSRF_COOKIE, REFRESH_COOKIE, SESSION_COOKIE, authorize
from netgauge.auth.passwords import PoolBusy
from netgauge.auth.roles import Principal, Role
from netgauge.auth.throttle import Throttled
from netgauge.auth.tokens import InvalidToken, issue_access, read_access
from netgauge.errors import InventoryError
from netgauge.service import Service

router = APIRouter(prefix="/auth", tags=["auth"])
REFRESH_PATH = "/api/v1/auth"


class Login(BaseModel):
    """Credentials of a login."""

    model_config = ConfigDict(extra="forbid", strict=True)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Refresh(BaseModel):
    """A refresh token, spent to get new tokens (or revoked at logout)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    refresh_token: str = Field(min_length=1, max_length=256)


class Tokens(BaseModel):
    """What a login or refresh gives."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str
    username: str
    role: Role


class Me(BaseModel):
    """The caller."""

    name: str
    role: Role
    via: str
    timezone: str | None = Field(
        None, description="the zone the console shows this user's times in (IANA name); "
        "null: the browser's own"
    )  # fmt: skip


@cache
def _zones() -> frozenset[str]:
    """Every IANA zone this machine's tzdata knows (read once: it walks the files)."""
    return frozenset(available_timezones()) | {"UTC"}


class MeUpdate(BaseModel):
    """What a user may change of their own account here."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(
        description="an IANA time zone (Europe/Berlin, America/New_York, UTC); null: the "
        "browser's own", max_length=64
    )  # fmt: skip

    @field_validator("timezone")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value not in _zones():
            raise ValueError(
                f"{value!r} is not a time zone: give an IANA name such as Europe/Berlin, "
                "America/New_York or UTC"
            )
        return value


@router.post("/login")
async def login(body: Login, request: Request, response: Response, service: ServiceDep) -> Tokens:
    """Check a user's password (throttled per user and address and per address, counted
    before the password is checked: 429 with Retry-After)."""
    address = request.client.host if request.client else "unknown"
    try:
        found = await service.log_in(body.username, body.password, address)
    except Throttled as exc:
        raise _too_many("too many failed logins: try again later", exc.retry_after) from None
    except PoolBusy:
        raise _too_many("too many logins in progress: try again in a second", 1) from None
    if found is None:
        raise HTTPException(
            401, "username or password wrong", headers={"WWW-Authenticate": "Bearer"}
        )
    return await _tokens(service, request, response, found.name)


def _too_many(message: str, retry_after: float) -> HTTPException:
    return HTTPException(429, message, headers={"Retry-After": str(math.ceil(retry_after))})


@router.post("/refresh")
async def refresh(
    request: Request, response: Response, service: ServiceDep, body: Refresh | None = None
) -> Tokens:
    """Spend a refresh token for a new access token and a new refresh token: the one in the
    body, or without a body the browser's (an httpOnly cookie only this path sees)."""
    token = body.refresh_token if body is not None else request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise HTTPException(401, "refresh_token: missing (send it, or log in again)")
    username = await asyncio.to_thread(service.accounts.use_refresh, token)
    if username is None:
        raise HTTPException(401, "refresh token unknown, used, expired or revoked")
    return await _tokens(service, request, response, username)  # 401 for a disabled user


@router.post("/logout", status_code=204)
async def logout(
    request: Request, response: Response, service: ServiceDep, body: Refresh | None = None
) -> Response:
    """Log out: revoke the refresh token (the body's, the browser's cookie) and end every
    access token of its user (and of the user whose access token came along), everywhere:
    other sessions renew theirs with their own refresh tokens."""
    users: set[str] = set()
    for token in (body.refresh_token if body else None, request.cookies.get(REFRESH_COOKIE)):
        if token:
            owner = await asyncio.to_thread(service.accounts.revoke_refresh, token)
            users.update([owner] if owner else [])
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    access = bearer.strip() if scheme.lower() == "bearer" else request.cookies.get(SESSION_COOKIE)
    if access:
        try:
            users.add(read_access(service.signing_key, access).username)
        except InvalidToken:
            pass  # nothing to end
    for username in users:
        await asyncio.to_thread(service.accounts.end_sessions, username)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH)
    response.status_code = 204
    return response


@router.get("/me")
async def me(principal: Annotated[Principal | None, Depends(authorize)], service: ServiceDep) -> Me:
    """Who the credentials belong to, and (for a user) the time zone they chose."""
    assert principal is not None  # the route is not public
    zone = None
    if principal.via != "token":
        zone = await asyncio.to_thread(service.accounts.timezone_of, principal.name)
    return Me(name=principal.name, role=principal.role, via=principal.via, timezone=zone)


@router.patch("/me")
async def update_me(
    body: MeUpdate, principal: Annotated[Principal | None, Depends(authorize)], service: ServiceDep
) -> Me:
    """Change your own settings: ``timezone`` (every user may; an API token has no
    account to keep it in: 422)."""
    assert principal is not None  # the route is not public
    if principal.via == "token":
        raise InventoryError("timezone: an API token has no account: log in as a user")
    await asyncio.to_thread(service.accounts.set_timezone, principal.name, body.timezone)
    return Me(name=principal.name, role=principal.role, via=principal.via, timezone=body.timezone)


def secure_cookies(service: Service, request: Request) -> bool:
    """Whether the session cookies are marked Secure: as the setting says, else when the
    request came over HTTPS (directly, or as a trusted proxy says) or netgauge listens
    beyond loopback (where only a TLS proxy in front makes sense)."""
    if service.settings.secure_cookies is not None:
        return service.settings.secure_cookies
    loopback = service.settings.host in ("127.0.0.1", "::1", "localhost")
    return request.url.scheme == "https" or not loopback


async def _tokens(service: Service, request: Request, response: Response, username: str) -> Tokens:
    ttl = service.settings.access_token_minutes * 60
    user = await asyncio.to_thread(service.accounts.active_user, username)
    if user is None:
        raise HTTPException(401, "user unknown or disabled")
    access = issue_access(service.signing_key, username, user.role, ttl, user.generation)
    refresh_token = await asyncio.to_thread(
        service.accounts.issue_refresh,
        username,
        timedelta(days=service.settings.refresh_token_days),
    )
    secure = secure_cookies(service, request)
    response.set_cookie(
        SESSION_COOKIE, access, max_age=ttl, httponly=True, samesite="strict", secure=secure
    )
    response.set_cookie(
        CSRF_COOKIE, secrets.token_urlsafe(24), max_age=ttl, samesite="strict", secure=secure
    )
    # the console keeps its session alive with this (POST /refresh without a body); scripts
    # use the refresh token in the answer
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=service.settings.refresh_token_days * 86400,
        path=REFRESH_PATH,
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    return Tokens(
        access_token=access,
        expires_in=ttl,
        refresh_token=refresh_token,
        username=username,
        role=user.role,
    )
