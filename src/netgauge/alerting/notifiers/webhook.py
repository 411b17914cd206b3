"""Webhook notifier: Alertmanager's v4 JSON, POSTed; optionally HMAC-signed.

Every Alertmanager webhook receiver (and anything else that reads that shape) works with
it. With ``hmac_secret_env``/``_file`` the body is signed: ``X-Netgauge-Signature:
sha256=<hex HMAC-SHA256 of the body>``. ``Idempotency-Key`` carries the notification's id,
the same on every retry, so a receiver can drop the copy a crash between its answer and
netgauge's record of it would cause.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx

from netgauge import __version__
from netgauge.alerting.notifiers.base import Notifier
from netgauge.config.alerts import NotifierConfig
from netgauge.errors import NotificationError


class WebhookNotifier(Notifier):
    """POSTs the payload as JSON."""

    def __init__(self, cfg: NotifierConfig, client: httpx.AsyncClient) -> None:
        super().__init__(cfg)
        self.client, self._own_client, self._broken = client, False, ""
        if cfg.tls_ca_file is not None:
            # a receiver behind an internal CA gets a client of its own, verifying by that CA
            try:
                verify = self.tls_context()
            except NotificationError as exc:  # every send says so (the service still starts)
                self._broken = str(exc)
            else:
                self.client = httpx.AsyncClient(
                    verify=verify, follow_redirects=False, trust_env=False
                )
                self._own_client = True

    async def close(self) -> None:
        if self._own_client:
            await self.client.aclose()

    def body(self, payload: Mapping[str, Any]) -> Any:
        """What to POST (chat formats override this)."""
        return payload

    async def send(self, payload: Mapping[str, Any], notification_id: int) -> None:
        if self._broken:
            raise NotificationError(self._broken)
        content = json.dumps(self.body(payload), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"netgauge/{__version__}",
            "Idempotency-Key": f"netgauge-{notification_id}",
        }
        key = self.secret("hmac")
        if key:
            digest = hmac.new(key.encode(), content, hashlib.sha256).hexdigest()
            headers["X-Netgauge-Signature"] = f"sha256={digest}"
        await self.post(self.url(), content, headers)

    async def post(self, url: str, content: bytes, headers: dict[str, str]) -> None:
        """POST and raise NotificationError for anything but a 2xx (the words name the
        host, never the URL's path or query, where tokens live)."""
        if self._broken:
            raise NotificationError(self._broken)
        try:
            response = await self.client.post(
                url, content=content, headers=headers, timeout=self.cfg.timeout
            )
        except httpx.HTTPError as exc:
            raise NotificationError(
                f"{self.where()}: {type(exc).__name__}: {_short(str(exc), url)}"
            ) from None
        if not 200 <= response.status_code < 300:
            raise NotificationError(
                f"{self.where()} answered {response.status_code}: {_short(response.text, url)}"
            )


def _short(text: str, url: str) -> str:
    return text.replace(url, "<url>")[:200] or "(no text)"


__all__ = ["WebhookNotifier"]
