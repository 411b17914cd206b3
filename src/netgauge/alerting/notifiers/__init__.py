"""Notifiers, one module per kind; :func:`build_notifier` picks one by the config's ``kind``."""

from __future__ import annotations

import httpx

from netgauge.alerting.notifiers.alertmanager import AlertmanagerNotifier
from netgauge.alerting.notifiers.base import Notifier
from netgauge.alerting.notifiers.chat import ChatNotifier
from netgauge.alerting.notifiers.email import EmailNotifier
from netgauge.alerting.notifiers.longtail import AppriseNotifier
from netgauge.alerting.notifiers.webhook import WebhookNotifier
from netgauge.config.alerts import NotifierConfig


def build_notifier(cfg: NotifierConfig, client: httpx.AsyncClient) -> Notifier:
    """The notifier of ``cfg.kind``; HTTP ones share ``client``."""
    if cfg.kind == "webhook":
        return WebhookNotifier(cfg, client)
    if cfg.kind == "alertmanager":
        return AlertmanagerNotifier(cfg, client)
    if cfg.kind == "email":
        return EmailNotifier(cfg)
    if cfg.kind == "apprise":
        return AppriseNotifier(cfg)
    return ChatNotifier(cfg, client)  # slack, teams, mattermost, discord


__all__ = ["Notifier", "build_notifier"]
