"""/api/v1/users and /api/v1/tokens: accounts and API tokens (admin only)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from netgauge.api.deps import ServiceDep
from netgauge.api.security import current_actor
from netgauge.auth.accounts import TokenInfo, UserInfo
from netgauge.auth.roles import Role

router = APIRouter(tags=["users"])
Username = Annotated[str, Path(min_length=1, max_length=64)]


class NewUser(BaseModel):
    """A user to create."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    password: str = Field(min_length=12, max_length=1024)
    role: Role


class UserChange(BaseModel):
    """What to change of a user (each optional)."""

    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    password: str | None = Field(None, min_length=12, max_length=1024)
    disabled: StrictBool | None = None  # 0 and 1 are not booleans


class NewToken(BaseModel):
    """An API token to create, for scripts and Prometheus."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    role: Role


class CreatedToken(BaseModel):
    """The token, shown this once."""

    id: int
    name: str
    role: Role
    token: str


@router.get("/users")
async def list_users(service: ServiceDep) -> list[UserInfo]:
    """Every user."""
    return await asyncio.to_thread(service.accounts.list_users)


@router.post("/users", status_code=201)
async def create_user(body: NewUser, service: ServiceDep) -> UserInfo:
    """A new user (409 when the name is taken)."""
    return await asyncio.to_thread(
        service.accounts.create_user, body.username, body.password, body.role, current_actor()
    )


@router.patch("/users/{username}")
async def update_user(username: Username, body: UserChange, service: ServiceDep) -> UserInfo:
    """Change a user's role, password or disabled state (the last admin stays an admin)."""
    return await asyncio.to_thread(
        lambda: service.accounts.update_user(
            username,
            current_actor(),
            role=body.role,
            password=body.password,
            disabled=body.disabled,
        )
    )


@router.delete("/users/{username}", status_code=204)
async def delete_user(username: Username, service: ServiceDep) -> Response:
    """Remove a user and revoke their tokens."""
    await asyncio.to_thread(service.accounts.delete_user, username, current_actor())
    return Response(status_code=204)


@router.get("/tokens")
async def list_tokens(service: ServiceDep) -> list[TokenInfo]:
    """Every API token (never the token itself)."""
    return await asyncio.to_thread(service.accounts.list_api_tokens)


@router.post("/tokens", status_code=201)
async def create_token(body: NewToken, request: Request, service: ServiceDep) -> CreatedToken:
    """A new API token owned by the caller, with a role up to the caller's own. Only a
    logged-in user makes tokens (an API token cannot make more of itself: 403)."""
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.via == "token":
        raise HTTPException(403, "API tokens are made by a logged-in user, not by an API token")
    who = current_actor()
    token, token_id = await asyncio.to_thread(
        service.accounts.create_api_token, body.name, body.role, who, who
    )
    return CreatedToken(id=token_id, name=body.name, role=body.role, token=token)


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**63 - 1)], service: ServiceDep
) -> Response:
    """The token stops working at once."""
    await asyncio.to_thread(service.accounts.revoke_api_token, token_id, current_actor())
    return Response(status_code=204)
