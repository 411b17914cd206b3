"""/api/v1/credentials: credentials entries, their references and stored secrets.

Admins create, change and delete them (a secret sent is sealed at once and never returned:
a view says per field only where its value comes from); operators list them, to attach
them to targets within their scope. Entries the configuration file declares are changed
there only. See ``credentials.manage``.
"""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter, Response, status

from netgauge.api.deps import ServiceDep
from netgauge.api.schemas import CredentialPublic
from netgauge.api.security import current_actor
from netgauge.config.base import NAME_PATTERN
from netgauge.credentials.manage import CredentialIn
from netgauge.errors import InventoryError

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.get("")
async def list_credentials(service: ServiceDep) -> list[CredentialPublic]:
    """Every entry: name, kind, username, scope, where each field comes from, targets using it."""
    views = await asyncio.to_thread(service.credentials.list)
    return [CredentialPublic(**v.as_json()) for v in views]


@router.get("/{name}")
async def get_credentials(name: str, service: ServiceDep) -> CredentialPublic:
    """One entry (never a secret)."""
    return CredentialPublic(**(await asyncio.to_thread(service.credentials.get, name)).as_json())


@router.put(
    "/{name}",
    responses={201: {"model": CredentialPublic, "description": "created"}},
)
async def put_credentials(
    name: str, body: CredentialIn, service: ServiceDep, response: Response
) -> CredentialPublic:
    """Create or change an entry; ``secrets`` are stored sealed (a field left out keeps its
    stored value, ``null`` removes it). 201 when created. Checks read the inventory at each
    run: the next one uses it, no restart."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise InventoryError(
            f"name: {name!r} must start with a letter or digit and hold only letters, "
            "digits, '.', '_' and '-'"
        )
    view, created = await asyncio.to_thread(service.credentials.put, name, body, current_actor())
    if created:
        response.status_code = status.HTTP_201_CREATED
    return CredentialPublic(**view.as_json())


@router.delete("/{name}", status_code=204)
async def delete_credentials(name: str, service: ServiceDep) -> Response:
    """Delete an entry no target uses (409 naming those that do)."""
    await asyncio.to_thread(service.credentials.delete, name, current_actor())
    return Response(status_code=204)
