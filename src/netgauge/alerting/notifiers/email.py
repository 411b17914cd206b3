"""Email notifier: SMTP with STARTTLS (on by default), a text and an HTML part.

The standard library's ``smtplib`` in a thread: one message per notification, a fresh
connection each time (notifications are rare; a kept connection would time out between).
"""

from __future__ import annotations

import asyncio
import html
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from netgauge.alerting.notifiers.base import Notifier
from netgauge.alerting.payload import DEFAULT_BODY, DEFAULT_SUBJECT, render
from netgauge.errors import NotificationError


class EmailNotifier(Notifier):
    """Sends one email per notification to ``to``."""

    def message(self, payload: Mapping[str, Any], notification_id: int) -> EmailMessage:
        cfg = self.cfg
        subject = render(cfg.subject, DEFAULT_SUBJECT, payload)
        text = render(cfg.body, DEFAULT_BODY, payload)
        msg = EmailMessage()
        msg["Subject"] = subject.replace("\n", " ")[:250]
        msg["From"] = cfg.sender or ""
        msg["To"] = ", ".join(cfg.to)
        msg["Message-ID"] = make_msgid(idstring=f"netgauge-{notification_id}")
        msg["X-Netgauge-Notification"] = str(notification_id)
        msg.set_content(text + "\n")
        msg.add_alternative(_html(subject, payload), subtype="html")
        return msg

    async def send(self, payload: Mapping[str, Any], notification_id: int) -> None:
        msg = self.message(payload, notification_id)
        password = self.secret("password")
        await asyncio.to_thread(self._deliver, msg, password)

    def _deliver(self, msg: EmailMessage, password: str | None) -> None:
        cfg = self.cfg
        host = cfg.smtp_host or "localhost"
        try:
            with smtplib.SMTP(host, cfg.smtp_port, timeout=cfg.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls(context=self.tls_context())
                if cfg.smtp_user and password:
                    smtp.login(cfg.smtp_user, password)
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError(f"{self.where()}: {type(exc).__name__}: {exc}") from None


def _html(subject: str, payload: Mapping[str, Any]) -> str:
    rows = []
    for alert in payload.get("alerts", []):
        status = alert["status"]
        colour = "#d63031" if status == "firing" else "#2e7d32"
        labels = alert["labels"]
        rows.append(
            "<tr>"
            f'<td style="color:{colour};font-weight:bold">{html.escape(status.upper())}</td>'
            f"<td>{html.escape(labels.get('alertname', ''))}</td>"
            f"<td>{html.escape(labels.get('target', ''))}</td>"
            f"<td>{html.escape(alert['annotations'].get('summary', ''))}</td>"
            f"<td>{html.escape(alert['startsAt'])}</td>"
            "</tr>"
        )
    return (
        f"<html><body><h2>{html.escape(subject)}</h2>"
        '<table cellpadding="4" style="border-collapse:collapse">'
        "<tr><th>Status</th><th>Alert</th><th>Target</th><th>Summary</th><th>Since</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )


__all__ = ["EmailNotifier"]
