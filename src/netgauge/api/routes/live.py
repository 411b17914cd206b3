"""/api/v1/live: server-sent events that keep the console's pages current without reloads.

A stream ends by itself when the client goes away, after ``max_seconds`` (the browser's
EventSource reconnects), and as soon as the server is asked to stop: uvicorn waits for
open responses before it shuts down, so a stream that ignored the signal would hold up
``netgauge serve``'s exit for as long as a browser is watching.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from netgauge.api.deps import ServiceDep
from netgauge.api.security import authorize
from netgauge.web.pages import overview

router = APIRouter(prefix="/live", tags=["live"])

HEARTBEAT_S = 15.0  # a comment line this often keeps proxies from timing the stream out
RETRY_MS = 2000  # the EventSource's reconnection delay after the stream ends
TICK_S = 0.25  # how often a waiting stream looks for a disconnect or a shutdown
_EXIT = {"at": 0.0}  # monotonic time of the newest stop signal the server received


def stop_streams() -> None:
    """End every open stream now: called when the server is told to stop (uvicorn waits
    for open responses before its lifespan shutdown and tells the application nothing; see
    netgauge.api.server)."""
    _EXIT["at"] = time.monotonic()


def event(name: str, html: str) -> str:
    """One SSE event whose data is ``html`` (one ``data:`` line per line of it)."""
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {name}\n{lines}\n"


async def _stream(
    request: Request, service: Any, once: bool, interval: float, max_seconds: float
) -> AsyncIterator[str]:
    started = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"
    last, sent_at = None, started
    while True:
        try:  # still allowed? a user disabled, demoted or logged out since: the stream ends
            await authorize(request)
        except HTTPException:
            return
        html = await overview.sections(service)
        if html != last:
            yield event("overview", html)
            last, sent_at = html, time.monotonic()
        elif time.monotonic() - sent_at >= HEARTBEAT_S:
            yield ": heartbeat\n\n"
            sent_at = time.monotonic()
        if once:
            return
        next_at = time.monotonic() + interval
        while time.monotonic() < next_at:
            if _EXIT["at"] > started or time.monotonic() - started > max_seconds:
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(TICK_S)


@router.get(
    "/overview",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "an event stream (text/event-stream)",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def live_overview(
    request: Request,
    service: ServiceDep,
    once: Annotated[
        bool, Query(description="send the current sections once, then end the stream")
    ] = False,
    interval: Annotated[
        float, Query(ge=0.5, le=60.0, description="seconds between looks for changes")
    ] = 2.0,
    max_seconds: Annotated[
        float, Query(ge=1.0, le=3600.0, description="end the stream after this long")
    ] = 600.0,
) -> StreamingResponse:
    """The overview page's sections as server-sent events (``text/event-stream``).

    The stream starts with ``retry: 2000`` and an ``overview`` event whose data is the HTML
    of the overview's sections (the same partial the page ``/`` renders, escaped by Jinja);
    after that, every ``interval`` seconds, a new ``overview`` event when the sections
    changed, or a ``: heartbeat`` comment every 15 s when they did not. It ends when the
    client disconnects, after ``max_seconds`` (EventSource reconnects by itself), when
    the server stops, and at once after the first event when ``once`` is set or the
    request does not accept ``text/event-stream`` (a plain HTTP client gets one snapshot).
    Needs the viewer role (a session cookie works, as for every API route)."""
    streaming = "text/event-stream" in request.headers.get("accept", "")
    body = _stream(request, service, once or not streaming, interval, max_seconds)
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


__all__ = ["router", "stop_streams"]
