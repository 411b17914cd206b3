"""Console page for admins: discovery. Sweep a network, see what answers and what it would
be watched with, choose and add (``static/js/discover.js`` over ``/api/v1/discover``); this
route only reads the credentials and sites to offer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from netgauge.service import Service
from netgauge.web.pages.admin import SECTIONS
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
SWEPT_KINDS = ("snmp", "ssh")  # the credentials a sweep tries


@router.get("/discover")
async def discover_page(request: Request) -> HTMLResponse:
    """The sweep form, and the newest sweep's findings (drawn by the script)."""
    service: Service = request.app.state.service
    entries = await asyncio.to_thread(service.credentials.list)
    sites = await asyncio.to_thread(service.inventory.list_sites)
    return render(
        request,
        "discover.html",
        title="Discovery",
        page_name="discover",
        admin_sections=SECTIONS,
        credentials=[c for c in entries if c.kind in SWEPT_KINDS],
        sites=[s.name for s in sites],
        max_addresses=service.settings.discovery_max_addresses,
    )
