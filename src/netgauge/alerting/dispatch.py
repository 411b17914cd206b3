"""From firing and resolved alerts to notifications: grouping, dependencies, silences,
filters and the notification log (Alertmanager's dispatcher, inhibitor and nflog in one).

* **Groups.** Each receiver gets one group per (rule, ``group_by`` label values). A new
  group is flushed ``group_wait`` after its first alert, then looked at every
  ``group_interval``: it sends when what the receiver would be told changed (alerts
  firing now, alerts resolved since), or when ``repeat_interval`` passed while firing.
* **Dependencies.** An alert whose target has an ancestor (``parent``, its parent...) that
  is down is *unreachable via parent*: it is not notified on its own, for the whole
  episode (so its late recovery is not news either), unless it is still firing a full
  ``group_interval`` after the parent came back, when it is its own problem again.
* **Silences** mute matching alerts; **filters** (``only``, ``severities``, ``sites``,
  ``tags``) choose what a receiver hears at all.
* **The log.** What each receiver was last told per group is persisted together with the
  notification it caused (one transaction, see store.py), so a restart does not tell
  anyone the same thing twice, and a crash cannot lose a decided notification.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from netgauge.alerting.model import Alert, AlertState, TargetInfo
from netgauge.alerting.payload import webhook_payload
from netgauge.alerting.rules import Rule
from netgauge.alerting.silences import Silence, silenced_by
from netgauge.alerting.store import LogEntry
from netgauge.clock import Clock
from netgauge.config.alerts import NotifierConfig

log = structlog.get_logger(__name__)
DOWN_STATES = frozenset({"down", "offline"})
# enqueue(receiver, group_key, status, payload or None (log only), log entry) -> id or 0
Enqueue = Callable[[str, str, str, "dict[str, Any] | None", "LogEntry | None"], Awaitable[int]]
StateOf = Callable[[str], "str | None"]
Event = Callable[[Iterable[str], str, str], None]  # (fingerprints, kind, detail)


@dataclass
class Group:
    """The alerts one receiver hears about together."""

    receiver: str
    key: str
    labels: dict[str, str]
    rule: Rule
    alerts: dict[str, Alert] = field(default_factory=dict)
    next_flush: datetime | None = None


class Dispatcher:
    """Holds the groups; :meth:`flush_due` turns due groups into outbox entries."""

    def __init__(
        self,
        notifiers: Iterable[NotifierConfig],
        rules: dict[str, Rule],
        clock: Clock,
        *,
        enqueue: Enqueue,
        state_of: StateOf,
        targets: Callable[[], dict[str, TargetInfo]],
        silences: Callable[[], list[Silence]],
        event: Event,
        external_url: str = "",
        muted: Callable[[str | None, datetime], str | None] = lambda site, at: None,
    ) -> None:
        self.notifiers = {n.name: n for n in notifiers}
        self.rules = rules
        self.clock = clock
        self._enqueue, self._state_of, self._targets = enqueue, state_of, targets
        self._silences, self._event = silences, event
        self.external_url = external_url
        self.muted = muted  # (site, at) → the maintenance window muting it, in words
        self.groups: dict[tuple[str, str], Group] = {}
        self.log: dict[tuple[str, str], LogEntry] = {}
        self.wake = asyncio.Event()
        self.flushes = 0  # groups looked at (tests wait for one instead of sleeping)

    # -- alerts in ---------------------------------------------------------------------------
    def changed(self, alert: Alert, event: str) -> None:
        """An alert fired or resolved (pending ones are nobody's business yet)."""
        if event not in ("firing", "resolved"):
            return
        rule = self.rules.get(alert.rule)
        if rule is None:
            return
        if event == "firing":
            self._suppress_if_parent_down(alert)  # shown at once, not at the group's flush
        for receiver in self.receivers(rule, alert):
            self._add(receiver, rule, alert)

    def receivers(self, rule: Rule, alert: Alert) -> list[str]:
        """The notifiers that hear about ``alert``: the rule's (all without ``notify``),
        less those whose filters leave it out."""
        names = rule.cfg.notify if rule.cfg.notify is not None else list(self.notifiers)
        return [n for n in names if n in self.notifiers and _admits(self.notifiers[n], alert)]

    def _add(self, receiver: str, rule: Rule, alert: Alert) -> None:
        labels = {k: alert.labels.get(k, "") for k in rule.cfg.group_by}
        key = _group_key(receiver, rule.name, labels)
        group = self.groups.get((receiver, key))
        if group is None:
            group = Group(receiver, key, labels, rule)
            group.next_flush = self.clock.now() + timedelta(seconds=rule.cfg.group_wait)
            self.groups[(receiver, key)] = group
            self.wake.set()
        group.alerts[alert.fingerprint] = alert

    # -- flushing ----------------------------------------------------------------------------
    def next_due(self) -> datetime | None:
        dues = [g.next_flush for g in self.groups.values() if g.next_flush is not None]
        return min(dues, default=None)

    async def flush_due(self) -> int:
        """Flush every group whose time came; returns how many notifications were queued."""
        now = self.clock.now()
        queued = 0
        for group in [g for g in self.groups.values() if g.next_flush and g.next_flush <= now]:
            try:
                queued += await self.flush(group, now)
            except Exception:  # one group's failure (database gone) must not stop the others
                log.exception("alerts.flush_failed", receiver=group.receiver, group=group.key)
                group.next_flush = now + timedelta(seconds=5)
        return queued

    async def flush(self, group: Group, now: datetime) -> int:
        cfg = group.rule.cfg
        notifier = self.notifiers[group.receiver]
        silences = self._silences()
        told = self.log.get((group.receiver, group.key))
        told_firing = set(told.firing) if told else set()
        firing = [a for a in group.alerts.values() if a.state is AlertState.FIRING]
        firing = [a for a in firing if self._notifiable(a, silences, now)]
        resolved = [
            a
            for a in group.alerts.values()
            if a.state is AlertState.RESOLVED and a.fingerprint in told_firing
        ]
        fps = tuple(sorted(a.fingerprint for a in firing))
        repeat_due = told is None or now - told.sent_at >= timedelta(seconds=cfg.repeat_interval)
        news = set(fps) != told_firing or bool(resolved)
        send_firing = notifier.only != "up" and bool(firing) and (news or repeat_due)
        send_resolved = notifier.only != "down" and bool(resolved)
        queued = 0
        if news or (firing and repeat_due):
            shown_firing = firing if notifier.only != "up" else []
            shown_resolved = resolved if notifier.only != "down" else []
            entry = LogEntry(fps, tuple(sorted(a.fingerprint for a in resolved)), now)
            if send_firing or send_resolved:
                payload = webhook_payload(
                    receiver=group.receiver,
                    group_key=group.key,
                    group_labels=group.labels,
                    firing=shown_firing,
                    resolved=shown_resolved,
                    external_url=self.external_url,
                )
                await self._enqueue(group.receiver, group.key, payload["status"], payload, entry)
                queued = 1
            else:  # nothing this receiver hears (a filter), but what it knows changed
                await self._enqueue(group.receiver, group.key, "", None, entry)
            self.log[(group.receiver, group.key)] = entry
        for alert in [a for a in group.alerts.values() if a.state is AlertState.RESOLVED]:
            del group.alerts[alert.fingerprint]
        self.flushes += 1
        if group.alerts:
            group.next_flush = now + timedelta(seconds=cfg.group_interval)
        else:
            del self.groups[(group.receiver, group.key)]
        return queued

    def _notifiable(self, alert: Alert, silences: list[Silence], now: datetime) -> bool:
        """Not unreachable via a parent that is down, not silenced."""
        if self._suppress_if_parent_down(alert):
            return False
        if alert.suppressed is not None:
            rule = self.rules.get(alert.rule)
            grace = timedelta(seconds=rule.cfg.group_interval if rule else 300)
            alert.parent_up_since = alert.parent_up_since or now
            if now - alert.parent_up_since < grace:
                return False
            self._event(
                [alert.fingerprint], "unsuppressed", "still firing after its parent's recovery"
            )
            alert.suppressed = None
        if self.muted(alert.labels.get("site"), now) is not None:
            return False  # its site is in maintenance: told when it ends, if still firing
        return not silenced_by(silences, alert.labels, now)

    def _suppress_if_parent_down(self, alert: Alert) -> bool:
        """Mark ``alert`` unreachable via its nearest ancestor that is down (if one is)."""
        parent = self._down_ancestor(alert.target)
        if parent is None:
            return False
        alert.parent_up_since = None
        if alert.suppressed is None:
            alert.suppressed = f"unreachable via parent {parent}"
            self._event([alert.fingerprint], "suppressed", alert.suppressed)
        return True

    def _down_ancestor(self, target: str | None) -> str | None:
        """The nearest ancestor of ``target`` that is down (None: none is)."""
        targets = self._targets()
        seen: set[str] = set()
        info = targets.get(target) if target else None
        while info is not None and info.parent and info.parent not in seen:
            seen.add(info.parent)
            if self._state_of(info.parent) in DOWN_STATES:
                return info.parent
            info = targets.get(info.parent)
        return None

    async def send_test(self, receiver: str) -> int:
        """Queue a test notification for ``receiver`` (the console's "send test")."""
        now = self.clock.now()
        alert = Alert(
            "test",
            "netgauge-test",
            {"alertname": "netgauge-test", "severity": "info", "receiver": receiver},
            {"summary": f"a test notification from netgauge to {receiver!r}"},
            AlertState.FIRING,
            active_at=now,
            last_true_at=now,
            fired_at=now,
        )
        payload = webhook_payload(
            receiver=receiver,
            group_key=f"test:{receiver}",
            group_labels={"alertname": "netgauge-test"},
            firing=[alert],
            resolved=[],
            external_url=self.external_url,
        )
        return await self._enqueue(receiver, f"test:{receiver}", "test", payload, None)


def _group_key(receiver: str, rule: str, labels: dict[str, str]) -> str:
    """``{}:{alertname="host-down"}`` style, bounded: a long one is hashed."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    key = f"{rule}:{{{inner}}}"
    if len(key) > 400:
        key = f"{rule}:{hashlib.sha256(inner.encode()).hexdigest()}"
    return key


def _admits(cfg: NotifierConfig, alert: Alert) -> bool:
    """A notifier's filters on one alert (``only`` is applied per notification)."""
    if cfg.severities and alert.severity not in cfg.severities:
        return False
    if cfg.sites and alert.labels.get("site") not in cfg.sites:
        return False
    return not cfg.tags or not set(cfg.tags).isdisjoint(alert.tags)


__all__ = ["DOWN_STATES", "Dispatcher", "Group"]
