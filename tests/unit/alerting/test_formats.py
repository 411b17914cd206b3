"""What each notifier sends, from one payload: Alertmanager's v4 shape for webhooks, the
chat services' incoming-webhook shapes, templates that cannot reach outside the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from netgauge.alerting.model import Alert, AlertState
from netgauge.alerting.notifiers import build_notifier
from netgauge.alerting.notifiers.chat import ChatNotifier
from netgauge.alerting.payload import render, webhook_payload
from netgauge.config.alerts import NotifierConfig

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def payload(resolved: bool = False) -> dict[str, Any]:
    alert = Alert(
        "abc",
        "host-down",
        {"alertname": "host-down", "target": "gw", "severity": "critical"},
        {"summary": "gw is down"},
        AlertState.FIRING,
        T0,
        T0,
        fired_at=T0,
    )
    if resolved:
        alert.resolved_at = datetime(2026, 12, 1, 12, 5, tzinfo=UTC)
    return webhook_payload(
        receiver="r",
        group_key="k",
        group_labels={"alertname": "host-down"},
        firing=[] if resolved else [alert],
        resolved=[alert] if resolved else [],
        external_url="https://ng.example.org",
    )


def test_the_webhook_body_is_alertmanagers_v4() -> None:
    body = payload()
    assert body["version"] == "4" and body["status"] == "firing"
    [alert] = body["alerts"]
    assert alert["startsAt"] == "2026-12-01T12:00:00.000Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["generatorURL"] == "https://ng.example.org/alerts#abc"
    assert body["commonLabels"] == {
        "alertname": "host-down",
        "target": "gw",
        "severity": "critical",
    }
    done = payload(resolved=True)
    assert done["status"] == "resolved"
    assert done["alerts"][0]["endsAt"] == "2026-12-01T12:05:00.000Z"


@pytest.mark.parametrize(
    "kind, check",
    [
        ("slack", lambda b: b["text"] == "[FIRING:1] host-down (gw)" and b["attachments"]),
        ("mattermost", lambda b: b["attachments"][0]["color"] == "#d63031"),
        ("discord", lambda b: b["content"].startswith("**[FIRING:1] host-down (gw)**")),
        ("teams", lambda b: b["@type"] == "MessageCard" and b["title"].startswith("[FIRING")),
    ],
)
def test_chat_formats(kind: str, check: object) -> None:
    cfg = NotifierConfig.model_validate({"name": "c", "kind": kind, "url": "https://x.test/h"})
    notifier = build_notifier(cfg, httpx.AsyncClient())
    assert isinstance(notifier, ChatNotifier)
    body = notifier.body(payload())
    assert check(body), body  # type: ignore[operator]
    assert "gw is down" in str(body)


def test_templates_are_sandboxed_and_checked_when_loaded() -> None:
    with pytest.raises(ValueError, match="template error"):
        NotifierConfig.model_validate(
            {"name": "c", "kind": "webhook", "url": "http://x.test", "subject": "{{ status"}
        )
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError):
        render("{{ alerts.__class__.__mro__ }}{{ ''.__class__.__subclasses__() }}", "", payload())
    assert render("{{ status }}: {{ firing|length }}", "", payload()) == "firing: 1"
