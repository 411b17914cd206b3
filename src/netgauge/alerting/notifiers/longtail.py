"""The long tail of notification services through apprise (an optional extra:
``pip install 'netgauge[apprise]'``): Telegram, Pushover, ntfy, Gotify, Matrix, SMS
gateways... one apprise URL (``tgram://token/chat``) per notifier, best given by
``url_env``/``url_file`` since it holds the service's token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netgauge.alerting.notifiers.base import Notifier
from netgauge.alerting.payload import DEFAULT_BODY, DEFAULT_SUBJECT, render
from netgauge.errors import NotificationError


class AppriseNotifier(Notifier):
    """Sends the subject and the text through apprise."""

    async def send(self, payload: Mapping[str, Any], notification_id: int) -> None:
        try:
            import apprise
        except ImportError:
            raise NotificationError(
                "kind apprise needs the apprise extra: pip install 'netgauge[apprise]'"
            ) from None
        sender = apprise.Apprise()
        if not sender.add(self.url()):
            raise NotificationError(f"notifier {self.name!r}: apprise does not know its URL")
        title = render(self.cfg.subject, DEFAULT_SUBJECT, payload)
        body = render(self.cfg.body, DEFAULT_BODY, payload)
        if not await sender.async_notify(body=body, title=title):
            raise NotificationError(f"notifier {self.name!r}: the service did not take it")

    def where(self) -> str:
        if self.cfg.url is None:
            return super().where()
        return self.cfg.url.split("://", 1)[0] + "://…"  # the rest is the service's token


__all__ = ["AppriseNotifier"]
