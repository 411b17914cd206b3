"""Console pages: the Destinations and Devices lists (search, filters, sorting, paging) and
their add/edit forms. The forms and "Test now" talk to /api/v1/targets from
``static/js/targets.js``; these routes only read.

The lists stay fast with 10,000 targets: the common case (sorted by name) is one page of
the inventory's paged, filtered query, the same one the API's list reads
(``Inventory.list_target_summaries``). A live-state filter (``status.live``) narrows that
query to the names in the wanted state, or for "unknown" away from the checked ones, in SQL.
Another sort column is ordered in SQL over the inventory's filter query and only the page's
rows are loaded; sorting by the live state takes one pass over the matching names.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from netgauge.errors import NotFoundError
from netgauge.inventory import Inventory, TargetFilter, queries
from netgauge.inventory.checks import CHECKS_OF, DEFAULT_INTERVAL_S
from netgauge.inventory.importing import COLUMNS
from netgauge.inventory.repository import TargetSummary, target_fields
from netgauge.models import TargetType
from netgauge.service import Service
from netgauge.status.live import STATES, UNKNOWN
from netgauge.status.measures import latency_and_loss
from netgauge.web.params_form import kind_forms
from netgauge.web.render import duration_text, render

router = APIRouter(include_in_schema=False)

PAGE_SIZES = (50, 100, 500)
MAX_PAGE = 1_000_000  # past any inventory; bounds the SQL offset (a huge one overflows)
SORTS = ("name", "address", "site", "status", "updated")
# the export buttons' ranges (?export=…): the samples from that long before the page was shown
EXPORT_RANGES = {
    "1h": ("1 h", timedelta(hours=1)),
    "24h": ("24 h", timedelta(days=1)),
    "7d": ("7 d", timedelta(days=7)),
    "30d": ("30 d", timedelta(days=30)),
}
EXPORT_DEFAULT = "24h"


@dataclass(frozen=True)
class Section:
    """One list page: its kind of target and its words."""

    type: TargetType
    path: str  # /destinations
    singular: str  # destination
    title: str  # Destinations


SECTIONS = {
    "destinations": Section(TargetType.DESTINATION, "/destinations", "destination", "Destinations"),
    "devices": Section(TargetType.DEVICE, "/devices", "device", "Devices"),
}


@dataclass(frozen=True)
class ListQuery:
    """The list's search, filters, sorting and page, from the URL (bad values → defaults:
    a hand-edited URL shows the list rather than an error)."""

    q: str = ""
    site: str = ""
    tag: str = ""
    state: str = ""
    sort: str = "name"
    desc: bool = False
    page: int = 1
    size: int = PAGE_SIZES[0]

    @classmethod
    def parse(cls, params: Any, section: Section) -> ListQuery:
        """From the query string."""
        sort = params.get("sort", "name")
        state = params.get("state", "")
        size = _int(params.get("size"), PAGE_SIZES[0])
        return cls(
            q=params.get("q", "").strip()[:200],
            site=params.get("site", "").strip()[:128],
            tag=params.get("tag", "").strip()[:128],
            state=state if state in STATES[section.type] else "",
            sort=sort if sort in SORTS else "name",
            desc=params.get("dir") == "desc",
            page=min(max(1, _int(params.get("page"), 1)), MAX_PAGE),
            size=size if size in PAGE_SIZES else PAGE_SIZES[0],
        )

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.size

    def url(self, path: str, **change: Any) -> str:
        """This list's URL with some parameters changed (defaults left out: short links)."""
        values = replace(self, **change)
        params = {
            "q": values.q,
            "site": values.site,
            "tag": values.tag,
            "state": values.state,
            "sort": values.sort if values.sort != "name" else "",
            "dir": "desc" if values.desc else "",
            "page": values.page if values.page != 1 else "",
            "size": values.size if values.size != PAGE_SIZES[0] else "",
        }
        query = urlencode({k: v for k, v in params.items() if v != ""})
        return f"{path}?{query}" if query else path


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    name: str
    address: str
    site: str | None
    tags: list[str]
    state: str
    source: str
    updated_at: datetime
    latency_ms: float | None = None  # now: the newest results' (status.measures)
    loss_pct: float | None = None
    checked_ns: int = 0


def select_rows(
    inv: Inventory, f: TargetFilter, states: dict[str, str], query: ListQuery
) -> tuple[list[TargetSummary], int]:
    """(rows of this page, total matching): blocking, run it in a thread. ``f`` is already
    narrowed to the wanted live state (``LiveStates.narrow``); ``states`` sorts by it. The
    rows are the API list's (``Inventory.list_target_summaries``): one query, two views."""
    if query.sort == "name":
        return _by_name(inv, f, query)
    if query.sort == "status":  # the live state is in memory: one pass over the names
        names = queries.matching_names(inv, f)
        names.sort(key=lambda n: (states.get(n, UNKNOWN), n), reverse=query.desc)
        total = len(names)
        names = names[query.offset : query.offset + query.size]
    else:
        column = cast(queries.SortColumn, query.sort)
        names, total = queries.names_sorted_by(inv, f, column, query.desc, query.size, query.offset)
    if not names:
        return [], total
    page = inv.list_target_summaries(TargetFilter(names=names), len(names), 0)
    found = {r.name: r for r in page.items}
    return [found[n] for n in names if n in found], total


def _by_name(inv: Inventory, f: TargetFilter, query: ListQuery) -> tuple[list[TargetSummary], int]:
    """One page straight from the inventory (it orders by name; descending is the mirrored
    page, read backwards)."""
    if not query.desc:
        page = inv.list_target_summaries(f, query.size, query.offset)
        return page.items, page.total
    total = inv.list_target_summaries(f, 1, 0).total
    end = max(0, total - query.offset)
    start = max(0, end - query.size)
    if end <= start:
        return [], total
    window = inv.list_target_summaries(f, end - start, start)
    return list(reversed(window.items)), total


def _row(r: TargetSummary, service: Service) -> Row:
    checked = service.checked(r.name)
    latency, loss = latency_and_loss(checked.checks.values()) if checked else (None, None)
    return Row(
        name=r.name,
        address=r.address,
        site=r.site,
        tags=r.tags,
        state=service.live.of(r.name, r.type),
        source=r.source,
        updated_at=r.updated_at,
        latency_ms=latency,
        loss_pct=loss,
        checked_ns=checked.last_ns if checked else 0,
    )


@dataclass(frozen=True)
class Export:
    """The list's export buttons: the current filter over the chosen range."""

    range: str  # a key of EXPORT_RANGES
    since: str  # ISO 8601 start of the range
    query: str  # the export API's query string for the whole filtered list
    ranges: list[tuple[str, str, bool]]  # (label, this page's URL with that range, chosen)

    @property
    def is_default(self) -> bool:
        """Whether the range is the default one (left out of the page's URLs)."""
        return self.range == EXPORT_DEFAULT


def export_links(params: Any, query: ListQuery, section: Section, now: datetime) -> Export:
    """The export buttons of this list page (``?export=`` picks the range)."""
    key = params.get("export", "")
    key = key if key in EXPORT_RANGES else EXPORT_DEFAULT
    since = (now - EXPORT_RANGES[key][1]).isoformat()
    wanted = {
        "q": query.q,
        "site": query.site,
        "tag": query.tag,
        "state": query.state,
        "type": section.type.value,
    }
    api = urlencode({**{k: v for k, v in wanted.items() if v}, "from": since})
    page = query.url(section.path)
    joiner = "&" if "?" in page else "?"
    ranges = [
        (label, page if k == EXPORT_DEFAULT else f"{page}{joiner}export={k}", k == key)
        for k, (label, _) in EXPORT_RANGES.items()
    ]
    return Export(key, since, api, ranges)


def _section(request: Request) -> Section:
    return SECTIONS[request.url.path.strip("/").split("/")[0]]


@router.get("/destinations")
@router.get("/devices")
async def target_list(request: Request) -> HTMLResponse:
    """The list of destinations or devices."""
    section = _section(request)
    service: Service = request.app.state.service
    query = ListQuery.parse(request.query_params, section)
    f = TargetFilter(
        q=query.q or None, tag=query.tag or None, site=query.site or None, type=section.type
    )
    f = service.live.narrow(f, query.state or None)
    states = service.live.all(section.type)
    items, total = await asyncio.to_thread(select_rows, service.inventory, f, states, query)
    sites = await asyncio.to_thread(service.inventory.list_sites)
    now = datetime.now(UTC).replace(microsecond=0)
    return render(
        request,
        "targets_list.html",
        title=section.title,
        section=section,
        query=query,
        rows=[_row(r, service) for r in items],
        total=total,
        first=query.offset + 1 if items else 0,
        last=query.offset + len(items),
        pages=max(1, -(-total // query.size)),
        states=STATES[section.type],
        sites=[s.name for s in sites],
        sorts=SORTS,
        page_sizes=PAGE_SIZES,
        export=export_links(request.query_params, query, section, now),
    )


@router.get("/targets/import")
async def targets_import(request: Request) -> HTMLResponse:
    """Import targets and their checks from CSV: check first, then import (operators)."""
    return render(
        request,
        "targets_import.html",
        title="Import targets",
        page_name="targets-import",
        columns=COLUMNS,
        example=IMPORT_EXAMPLE,
    )


IMPORT_EXAMPLE = (
    "name,address,type,site,tags,checks\n"
    "core-sw1,10.0.0.2,device,,core;switch,icmp snmp\n"
    "www,www.example.org,destination,,web,icmp http:https://www.example.org/ tcp:443\n"
)


@router.get("/destinations/new")
@router.get("/devices/new")
async def target_new(request: Request) -> HTMLResponse:
    """The form for a new destination or device (operators)."""
    return await _form(request, _section(request), None)


@router.get("/destinations/{name}/edit")
@router.get("/devices/{name}/edit")
async def target_edit(request: Request, name: str) -> HTMLResponse:
    """The form to change or delete a destination or device (operators)."""
    service: Service = request.app.state.service
    try:
        row = await asyncio.to_thread(service.inventory.get_target, name)
    except NotFoundError:
        raise HTTPException(404, f"no target named {name!r}") from None
    return await _form(request, _section(request), {"name": row.name, **target_fields(row)})


async def _form(request: Request, section: Section, target: dict[str, Any] | None) -> HTMLResponse:
    service: Service = request.app.state.service
    sites = await asyncio.to_thread(service.inventory.list_sites)
    credentials = await asyncio.to_thread(service.inventory.list_credentials)
    if target is not None and target["type"] != section.type.value:
        # the form of the list the target is in: a device edited under /devices
        section = SECTIONS["devices" if target["type"] == "device" else "destinations"]
    verb = "Edit" if target else "Add"
    return render(
        request,
        "target_form.html",
        title=f"{verb} {section.singular}" + (f" {target['name']}" if target else ""),
        section=section,
        target=target,
        sites=[s.name for s in sites],
        credentials=[c.name for c in credentials],
        check_forms=sorted(
            (f for f in kind_forms() if f.kind in CHECKS_OF[section.type]),
            key=lambda f: CHECKS_OF[section.type].index(f.kind),
        ),
        default_checks=("icmp",),
        check_intervals={k: duration_text(v) for k, v in DEFAULT_INTERVAL_S.items()},
    )
