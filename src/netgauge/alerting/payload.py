"""A notification's content: Alertmanager's v4 webhook JSON, and words for people.

Every notifier starts from the same payload (the one the outbox stores), so a webhook, an
email and a chat message of one notification say the same thing. Templates (a notifier's
``subject`` / ``body``) run in Jinja's sandbox: whoever writes the config cannot make a
template read files or call into the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from netgauge.alerting.model import Alert

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "not ended yet"
_ENV = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
DEFAULT_SUBJECT = (
    "[{{ status|upper }}{% if status == 'firing' %}:{{ firing|length }}{% endif %}] "
    "{{ groupLabels.values()|join(' ') }}"
    "{% if targets %} ({{ targets|join(', ') }}){% endif %}"
)
DEFAULT_BODY = """\
{% for a in alerts %}
{{ a.status|upper }} {{ a.labels.alertname }} {{ a.labels.target|default('') }}: \
{{ a.annotations.summary|default('') }}
  since {{ a.startsAt }}{% if a.status == 'resolved' %}, ended {{ a.endsAt }}{% endif %}
{% if a.annotations.description %}  {{ a.annotations.description }}
{% endif %}
{% endfor %}"""


def iso(at: datetime | None) -> str:
    """RFC 3339 in UTC, as Alertmanager writes it."""
    if at is None:
        return ZERO_TIME
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_json(alert: Alert, external_url: str) -> dict[str, Any]:
    """One alert in the v4 webhook shape."""
    resolved = alert.resolved_at is not None
    return {
        "status": "resolved" if resolved else "firing",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": iso(alert.fired_at or alert.active_at),
        "endsAt": iso(alert.resolved_at),
        "generatorURL": f"{external_url}/alerts#{alert.fingerprint}" if external_url else "",
        "fingerprint": alert.fingerprint,
    }


def _common(dicts: list[dict[str, str]]) -> dict[str, str]:
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}


def webhook_payload(
    *,
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    firing: Iterable[Alert],
    resolved: Iterable[Alert],
    external_url: str,
) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4): any Alertmanager receiver reads it."""
    alerts = [alert_json(a, external_url) for a in firing]
    alerts += [alert_json(a, external_url) for a in resolved]
    any_firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": "firing" if any_firing else "resolved",
        "receiver": receiver,
        "groupLabels": dict(group_labels),
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "alerts": alerts,
    }


def render(template: str | None, default: str, payload: Mapping[str, Any]) -> str:
    """A subject or body from ``payload`` (``template`` or the default one)."""
    alerts = payload.get("alerts", [])
    context = {
        **payload,
        "firing": [a for a in alerts if a["status"] == "firing"],
        "resolved": [a for a in alerts if a["status"] == "resolved"],
        "targets": sorted({a["labels"].get("target", "") for a in alerts} - {""})[:5],
    }
    return _ENV.from_string(template or default).render(context).strip()


def check_template(template: str) -> str:
    """Raises ValueError naming the problem when ``template`` does not compile."""
    from jinja2 import TemplateSyntaxError

    try:
        _ENV.from_string(template)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template error on line {exc.lineno}: {exc.message}") from None
    return template


__all__ = ["DEFAULT_BODY", "DEFAULT_SUBJECT", "render", "webhook_payload"]
