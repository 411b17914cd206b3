"""Chat formats of the webhook notifier: Slack, Mattermost, Discord, Microsoft Teams.

Each is an incoming-webhook URL (a secret: give it by ``url_env`` or ``url_file``) and a
small JSON body made of the notification's subject and text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netgauge.alerting.notifiers.webhook import WebhookNotifier
from netgauge.alerting.payload import DEFAULT_BODY, DEFAULT_SUBJECT, render

_COLOURS = {"firing": "#d63031", "resolved": "#2e7d32"}


class ChatNotifier(WebhookNotifier):
    """The body in the chat service's incoming-webhook shape."""

    def body(self, payload: Mapping[str, Any]) -> Any:
        title = render(self.cfg.subject, DEFAULT_SUBJECT, payload)
        text = render(self.cfg.body, DEFAULT_BODY, payload)
        kind = self.cfg.kind
        if kind in ("slack", "mattermost"):
            colour = _COLOURS.get(str(payload.get("status")), "#888888")
            return {
                "text": title,
                "attachments": [{"color": colour, "title": title, "text": text}],
            }
        if kind == "discord":
            return {"content": f"**{title}**\n{text}"[:2000]}
        # teams: the legacy MessageCard that Teams' incoming webhooks and workflows accept
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": title,
            "themeColor": _COLOURS.get(str(payload.get("status")), "#888888").lstrip("#"),
            "title": title,
            "text": text.replace("\n", "<br>"),
        }


__all__ = ["ChatNotifier"]
