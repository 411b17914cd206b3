"""A standby forwards every request to the leader, so any peer behind a load balancer
answers as the leader does (its live states, its alert engine, its analytics are in the
leader's memory). Only a peer's own health is answered where it is asked.

The request goes on as it came (method, path, query, headers with the client's own
credentials: the peers share the signing key; the body streamed), and so does the answer
(streamed too: the live stream works through a standby). A request that already came
through a peer is never forwarded again: a peer that is not the leader any more answers it
503, and the client tries again (two forwards could otherwise loop while the lock moves).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netgauge.inventory.cluster import leader_url

log = structlog.get_logger(__name__)
FORWARDED = b"x-netgauge-forwarded"
LOCAL = frozenset({"/api/v1/health", "/api/v1/health/details"})
_HOP = frozenset({b"host", b"connection", b"keep-alive", b"transfer-encoding", b"content-length",
                  b"upgrade", b"te", b"trailer", b"proxy-connection"})  # fmt: skip
CACHE_S = 1.0


class ToLeader:
    """ASGI layer: on a standby, forward to the leader (see the module's docstring)."""

    def __init__(self, app: ASGIApp, service: Any) -> None:
        self.app, self.service = app, service
        self._client: httpx.AsyncClient | None = None
        self._leader: tuple[float, str | None] = (float("-inf"), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._forwards(scope):
            await self.app(scope, receive, send)
            return
        if any(name == FORWARDED for name, _ in scope["headers"]):
            await _plain(send, 503, b"this netgauge is not the leader any more: try again")
            return
        url = await self._leader_url()
        if url is None:
            await _plain(send, 503, b"no leader yet: try again in a second")
            return
        await self._forward(url, scope, receive, send)

    def _forwards(self, scope: Scope) -> bool:
        service = self.service
        return (
            scope["type"] == "http"
            and getattr(service, "started", False)
            and not service.leading
            and scope["path"] not in LOCAL
        )

    async def _leader_url(self) -> str | None:
        at, url = self._leader
        if time.monotonic() - at > CACHE_S:
            url = await asyncio.to_thread(leader_url, self.service.inventory)
            self._leader = (time.monotonic(), url)
        return url

    async def _forward(self, base: str, scope: Scope, receive: Receive, send: Send) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0),
                                             follow_redirects=False, trust_env=False)  # fmt: skip
        query = scope.get("query_string", b"").decode("latin-1")
        target = base.rstrip("/") + scope["path"] + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP]
        headers.append((FORWARDED, b"1"))
        request = self._client.build_request(
            scope["method"], target, headers=headers, content=_body(receive)
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            log.warning("forward.failed", leader=base, error=str(exc))
            self._leader = (float("-inf"), None)  # ask the database again next time
            await _plain(send, 503, b"the leader does not answer: try again")
            return
        try:
            out = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP]
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": out})  # fmt: skip
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def close(self) -> None:
        """Close the connections to the leader."""
        if self._client is not None:
            await self._client.aclose()


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _plain(send: Send, status: int, text: bytes) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"1")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


__all__ = ["ToLeader"]
