"""Alerting as one application service: what the API and the console call, and what the
result-folding step feeds (:meth:`Alerting.observe`).

It owns the engine (rules over results and time), the dispatcher (groups, dependencies,
silences, the notification log), the outbox sender and the store, and runs three tasks:
the tick (time-driven evaluation, persisting alert changes), the dispatcher (flushing due
groups into the outbox) and the sender (delivering the outbox).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from netgauge.alerting.anomaly import AnomalyScores
from netgauge.alerting.baseline import Baselines, Points
from netgauge.alerting.dispatch import Dispatcher
from netgauge.alerting.engine import AlertEngine
from netgauge.alerting.forecasts import ForecastWatch
from netgauge.alerting.model import Alert, TargetInfo
from netgauge.alerting.notifiers import Notifier, build_notifier
from netgauge.alerting.outbox import OutboxSender
from netgauge.alerting.rules import Rule, compile_rules
from netgauge.alerting.silences import Silence, SilenceIn, silenced_by
from netgauge.alerting.store import AlertStore, Change, LogEntry, Outgoing
from netgauge.clock import Clock
from netgauge.config.alerts import AlertRuleConfig, NotifierConfig
from netgauge.config.base import parse_duration
from netgauge.errors import InventoryError, NotFoundError
from netgauge.inventory.tables import IncidentRow, NotificationRow
from netgauge.models import ProbeResult

log = structlog.get_logger(__name__)
TICK_S = 0.5  # pending alerts fire within this of their `for`
SAVE_SEEN_S = 60.0  # gap watches are persisted this often (a restart may lose up to this)
REFRESH_TARGETS_S = 30.0  # the inventory's targets (scopes, parents) are read this often
HEALTH_S = 10.0  # netgauge's own health is looked at this often
SILENCE_CACHE_S = 5.0


@dataclass(frozen=True)
class AlertView:
    """An active alert as the API shows it."""

    alert: Alert
    silenced_by: list[str]


class Alerting:
    """Rules, incidents, silences and notifications of one netgauge."""

    def __init__(
        self,
        rules: Iterable[AlertRuleConfig],
        notifiers: Iterable[NotifierConfig],
        store: AlertStore,
        clock: Clock,
        *,
        state_of: Callable[[str], str | None],
        muted: Callable[[str | None, datetime], str | None] = lambda site, at: None,
        load_targets: Callable[[], list[TargetInfo]],
        external_url: str = "",
        give_up_s: float = 86400.0,
        flap_window_s: float = 600.0,
        default_gap: bool = True,
        points: Points | None = None,
        problems: Callable[[], Awaitable[dict[str, dict[str, str]]]] | None = None,
    ) -> None:
        self.store, self.clock = store, clock
        self._load_targets = load_targets
        self.rules: list[Rule] = compile_rules(rules, default_gap=default_gap)
        self.notifier_configs = list(notifiers)
        self.baselines = Baselines(points) if points is not None else None
        self.anomalies = AnomalyScores(points) if points is not None else None
        self.forecasts = ForecastWatch(points) if points is not None else None
        self._problems = problems
        self.engine = AlertEngine(
            self.rules,
            clock,
            flap_window_s=flap_window_s,
            baselines=self.baselines,
            anomalies=self.anomalies,
            forecasts=self.forecasts,
        )
        self.dispatcher = Dispatcher(
            self.notifier_configs,
            self.engine.rules,
            clock,
            enqueue=self._enqueue,
            state_of=state_of,
            targets=lambda: self.engine.targets,
            silences=self._active_silences,
            event=self._event,
            external_url=external_url.rstrip("/"),
            muted=muted,
        )
        self.engine.listeners += [self._changed, self.dispatcher.changed]
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self.notifiers: dict[str, Notifier] = {
            n.name: build_notifier(n, self._client) for n in self.notifier_configs
        }
        self.outbox = OutboxSender(
            store, self.notifiers, clock, give_up_s=give_up_s, delivered=self._delivered
        )
        self._changes: list[Change] = []
        self._persisting = asyncio.Lock()
        self._events: list[tuple[list[str], str, str, datetime]] = []
        self._silences: tuple[float, list[Silence]] = (float("-inf"), [])
        self._stack = AsyncExitStack()
        self._seen_saved: dict[str, datetime] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Load what was persisted (no one is told again), then run the tasks."""
        targets = await asyncio.to_thread(self._load_targets)
        self.engine.set_targets(targets)
        alerts = await asyncio.to_thread(self.store.load_alerts)
        seen = await asyncio.to_thread(self.store.load_last_seen)
        self.engine.restore(alerts, seen)
        self._seen_saved = dict(seen)
        self.dispatcher.log = await asyncio.to_thread(self.store.load_log)
        await self._refresh_silences(force=True)
        for alert in alerts:  # firing ones join their groups; the log knows who was told
            if alert.fired_at is not None:
                self.dispatcher.changed(alert, "firing")
        # alerts told as firing that ended before the stop, their end not yet told: a
        # resolution is stored with the alert's end, its notification decided later
        told = {fp for entry in self.dispatcher.log.values() for fp in entry.firing}
        ended = await asyncio.to_thread(self.store.ended, told - {a.fingerprint for a in alerts})
        for alert in ended:
            self.dispatcher.changed(alert, "resolved")
        for name, coro in (
            ("netgauge-alerts-tick", self._tick_loop()),
            ("netgauge-alerts-dispatch", self._dispatch_loop()),
            ("netgauge-alerts-outbox", self.outbox.run()),
        ):
            task = asyncio.create_task(coro, name=name)
            self._stack.push_async_callback(_cancel, task)
        self._stack.push_async_callback(self._client.aclose)
        for notifier in self.notifiers.values():
            self._stack.push_async_callback(notifier.close)
        log.info(
            "alerts.started",
            rules=len(self.rules),
            notifiers=len(self.notifiers),
            active=len(alerts),
        )

    async def stop(self) -> None:
        """Stop the tasks, then persist what changed since the last tick."""
        await self._stack.aclose()
        try:
            await self._persist()
            await self._save_seen()
        except Exception:
            log.exception("alerts.persist_failed")

    # -- results in ----------------------------------------------------------------------------
    def observe(self, job: str, result: ProbeResult, state: str | None) -> None:
        """Evaluate the rules on one folded result (called by the result-folding step)."""
        self.engine.observe(job, result, state)

    def quiet(self, target: str) -> None:
        """``target`` is not checked on purpose now (a calendar): silence is no gap."""
        self.engine.last_seen[target] = self.clock.now()

    def _changed(self, alert: Alert, event: str) -> None:
        self._changes.append(Change(event, copy.copy(alert)))
        log.info(
            "alert." + event, alert=alert.rule, target=alert.target, fingerprint=alert.fingerprint
        )

    def _event(self, fingerprints: Iterable[str], kind: str, detail: str) -> None:
        self._events.append((list(fingerprints), kind, detail, self.clock.now()))

    # -- the tasks -------------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        last_refresh = last_health = last_save = self.clock.monotonic()
        while True:
            await self.clock.sleep(TICK_S)
            try:
                self.engine.tick()
                if self.clock.monotonic() - last_health >= HEALTH_S:
                    last_health = self.clock.monotonic()
                    await self._check_health()
                if self.baselines is not None:
                    await self.baselines.load_wanted(self.clock.now())
                if self.anomalies is not None:
                    await self.anomalies.load_wanted(self.clock.now())
                if self.forecasts is not None:
                    await self.forecasts.load_wanted(self.clock.now())
                await self._persist()
                if self.clock.monotonic() - last_refresh >= REFRESH_TARGETS_S:
                    last_refresh = self.clock.monotonic()
                    self.engine.set_targets(await asyncio.to_thread(self._load_targets))
                if self.clock.monotonic() - last_save >= SAVE_SEEN_S:
                    last_save = self.clock.monotonic()
                    await self._save_seen()
            except Exception:  # never stop evaluating over one bad pass
                log.exception("alerts.tick_failed")

    async def _check_health(self) -> None:
        """netgauge's own health, for the ``netgauge:`` rules."""
        problems = await self._problems() if self._problems is not None else {}
        if self.outbox.given_up_recently(self.clock.now()):
            problems.setdefault("notifications_failing", {})["outbox"] = (
                "a notification was given up"
            )
        self.engine.health(problems)

    async def _persist(self) -> None:
        """Store alert changes and timeline lines, in the order they happened: the tick and
        the dispatcher both call this, one at a time (a resolution committed before the
        firing it ends would leave its incident open and its alert firing after a restart)."""
        async with self._persisting:
            await self._persist_now()

    async def _persist_now(self) -> None:
        changes, self._changes = self._changes, []
        if changes:
            opened = await asyncio.to_thread(self.store.apply, changes)
            for fp, incident_id in opened.items():
                live = self.engine.alerts.get(fp)
                if live is not None:
                    live.incident_id = incident_id
        events, self._events = self._events, []
        for fps, kind, detail, at in events:
            await asyncio.to_thread(self.store.add_events, fps, kind, detail, at)

    async def _save_seen(self) -> None:
        if not any(r.kind == "gap" for r in self.rules):
            return  # nothing needs them after a restart
        seen = dict(self.engine.last_seen)
        changed = {k: v for k, v in seen.items() if self._seen_saved.get(k) != v}
        gone = set(self._seen_saved) - set(seen)
        if changed or gone:
            await asyncio.to_thread(self.store.save_last_seen, changed, gone)
        self._seen_saved = seen

    async def _dispatch_loop(self) -> None:
        while True:
            due = self.dispatcher.next_due()
            wait = 5.0 if due is None else (due - self.clock.now()).total_seconds()
            self.dispatcher.wake.clear()
            if wait > 0:
                try:
                    await asyncio.wait_for(self.dispatcher.wake.wait(), timeout=min(wait, 5.0))
                except TimeoutError:
                    pass
            try:
                await self._persist()  # incidents exist before their notifications
                await self._refresh_silences()
                await self.dispatcher.flush_due()
            except Exception:
                log.exception("alerts.dispatch_failed")

    async def _enqueue(
        self,
        receiver: str,
        group_key: str,
        status: str,
        payload: dict[str, Any] | None,
        entry: LogEntry | None,
    ) -> int:
        at = self.clock.now()
        nid = await asyncio.to_thread(
            self.store.enqueue, receiver, group_key, status, payload, entry, at
        )
        if payload is not None:
            self.outbox.wake.set()
        return nid

    def _delivered(self, item: Outgoing, error: str | None) -> None:
        """(In a thread.) The timeline of the alerts a notification carried."""
        alerts = item.payload.get("alerts", [])
        if item.status == "test":
            return
        for status in ("firing", "resolved"):
            fps = [a["fingerprint"] for a in alerts if a.get("status") == status]
            if not fps:
                continue
            if error is None:
                kind, detail = "notified", f"{status} sent to {item.receiver}"
            else:
                kind, detail = "notify_failed", f"{item.receiver} gave up: {error}"
            self.store.add_events(fps, kind, detail, self.clock.now())

    # -- silences --------------------------------------------------------------------------------
    async def _refresh_silences(self, force: bool = False) -> None:
        fetched_at, _ = self._silences
        if force or self.clock.monotonic() - fetched_at >= SILENCE_CACHE_S:
            found = await asyncio.to_thread(self.store.silences, self.clock.now())
            self._silences = (self.clock.monotonic(), found)

    def _active_silences(self) -> list[Silence]:
        return self._silences[1]

    async def add_silence(self, body: SilenceIn, actor: str) -> Silence:
        now = self.clock.now()
        starts = body.startsAt or now
        if body.endsAt is not None:
            ends = body.endsAt
        else:
            try:
                ends = starts + timedelta(seconds=parse_duration(body.duration))
            except ValueError as exc:
                raise InventoryError(f"duration: {exc}") from None
        if ends <= starts:
            raise InventoryError("endsAt: must be after startsAt")
        if ends - starts > timedelta(days=366):
            raise InventoryError("endsAt: a silence lasts at most a year")
        silence = await asyncio.to_thread(
            self.store.add_silence, body, starts, ends, body.createdBy or actor
        )
        await self._refresh_silences(force=True)
        return silence.with_state(now)

    async def silences(self) -> list[Silence]:
        now = self.clock.now()
        found = await asyncio.to_thread(self.store.silences)
        return [s.with_state(now) for s in found]

    async def expire_silence(self, silence_id: str) -> Silence:
        now = self.clock.now()
        silence = await asyncio.to_thread(self.store.expire_silence, silence_id, now)
        await self._refresh_silences(force=True)
        return silence.with_state(now)

    # -- reading -----------------------------------------------------------------------------------
    def alerts(self) -> list[AlertView]:
        """Pending and firing alerts, firing first, newest first."""
        now = self.clock.now()
        silences = self._active_silences()
        found = [
            AlertView(a, silenced_by(silences, a.labels, now) + self._muted(a, now))
            for a in self.engine.active()
        ]
        found.sort(key=lambda v: (v.alert.state.value != "firing", -v.alert.active_at.timestamp()))
        return found

    def _muted(self, alert: Alert, now: datetime) -> list[str]:
        why = self.dispatcher.muted(alert.labels.get("site"), now)
        return [why] if why else []

    async def incidents(
        self, state: str | None, limit: int, offset: int
    ) -> tuple[list[IncidentRow], int]:
        return await asyncio.to_thread(self.store.list_incidents, state, limit, offset)

    async def incident(self, incident_id: int) -> IncidentRow:
        return await asyncio.to_thread(self.store.get_incident, incident_id)

    async def ack(self, incident_id: int, actor: str, comment: str) -> IncidentRow:
        return await asyncio.to_thread(
            self.store.ack, incident_id, actor, comment, self.clock.now()
        )

    async def notifications(self, limit: int, offset: int) -> tuple[list[NotificationRow], int]:
        return await asyncio.to_thread(self.store.notifications, limit, offset)

    async def send_test(self, name: str) -> int:
        if name not in self.notifiers:
            raise NotFoundError(f"notifier {name!r} not found")
        return await self.dispatcher.send_test(name)


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


__all__ = ["AlertView", "Alerting"]
