"""Alertmanager notifier: hands alerts to an existing Alertmanager (``POST /api/v2/alerts``)
for shops whose routing lives there. ``url`` is the Alertmanager's base URL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from netgauge import __version__
from netgauge.alerting.notifiers.webhook import WebhookNotifier
from netgauge.alerting.payload import ZERO_TIME


class AlertmanagerNotifier(WebhookNotifier):
    """Posts each alert as a postable alert; resolved ones with their ``endsAt``."""

    async def send(self, payload: Mapping[str, Any], notification_id: int) -> None:
        alerts = []
        for alert in payload.get("alerts", []):
            item = {
                "labels": alert["labels"],
                "annotations": alert["annotations"],
                "startsAt": alert["startsAt"],
                "generatorURL": alert.get("generatorURL") or None,
            }
            if alert.get("endsAt") and alert["endsAt"] != ZERO_TIME:
                item["endsAt"] = alert["endsAt"]
            alerts.append({k: v for k, v in item.items() if v is not None})
        url = self.url().rstrip("/") + "/api/v2/alerts"
        headers = {"Content-Type": "application/json", "User-Agent": f"netgauge/{__version__}"}
        await self.post(url, json.dumps(alerts).encode(), headers)


__all__ = ["AlertmanagerNotifier"]
