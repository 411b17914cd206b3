"""Rule evaluation: every folded result, and a clock tick for what no result says.

The engine keeps one :class:`Alert` per (rule, label set) that is pending or firing:

* **pending** when the condition first holds; **firing** once it held for ``for``
  (at once with no ``for``); a pending alert whose condition clears simply goes;
* **resolved** when the condition cleared and stayed clear for ``keep_firing_for``;
* an alert that fired twice within ``flap_window_s`` is flapping: it keeps firing until
  its condition stays clear for a whole window, so an episode is told at most twice
  (fired, resolved) whatever the target does meanwhile.

Results arrive through :meth:`observe` (from the one result-folding step); the tick
promotes pending alerts whose ``for`` has elapsed, resolves cleared ones, and evaluates
collection gaps, which no result can report. Each change goes to the listeners (the
store, the incidents, the dispatcher) as ``(alert, event)``; no I/O happens here.
"""

from __future__ import annotations

import copy
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from netgauge.alerting.baseline import Baselines
from netgauge.alerting.model import Alert, AlertState, TargetInfo, fingerprint
from netgauge.alerting.rules import Rule
from netgauge.clock import Clock
from netgauge.models import ProbeResult
from netgauge.series import series_name

Listener = Callable[[Alert, str], None]
FLAP_WINDOW_S = 600.0
SELF = "(netgauge)"  # the target label of netgauge's own health (no target is named so)


class AlertEngine:
    """Evaluates rules over results and time; holds the active alerts."""

    def __init__(
        self,
        rules: Iterable[Rule],
        clock: Clock,
        *,
        flap_window_s: float = FLAP_WINDOW_S,
        baselines: Baselines | None = None,
    ) -> None:
        self.clock = clock
        self.baselines = baselines
        self._paths: dict[tuple[str, str], list[str]] = {}  # (target, job) → newest path
        self.flap_window = timedelta(seconds=flap_window_s)
        self.alerts: dict[str, Alert] = {}
        self.targets: dict[str, TargetInfo] = {}
        self.last_seen: dict[str, datetime] = {}  # target → newest sample (gap rules)
        self.listeners: list[Listener] = []
        self._streaks: dict[tuple[str, str], int] = defaultdict(int)  # (target, job) → failures
        self._fires: dict[str, deque[datetime]] = {}  # fingerprint → recent firing times
        self.set_rules(rules)

    # -- configuration ---------------------------------------------------------------------
    def set_rules(self, rules: Iterable[Rule]) -> None:
        """The rules in force (alerts of rules that went are resolved at the next tick)."""
        self.rules = {r.name: r for r in rules}
        self._by_kind: dict[str, list[Rule]] = defaultdict(list)
        for rule in self.rules.values():
            self._by_kind[rule.kind].append(rule)

    def set_targets(self, targets: Iterable[TargetInfo]) -> None:
        """The inventory's targets as rules see them; gone targets stop being watched."""
        self.targets = {t.name: t for t in targets}
        for name in set(self.last_seen) - set(self.targets):
            del self.last_seen[name]

    def restore(self, alerts: Iterable[Alert], last_seen: dict[str, datetime]) -> None:
        """Alerts and gap watches as persisted before a restart (no event: nothing new)."""
        for alert in alerts:
            self.alerts[alert.fingerprint] = alert
        self.last_seen.update(last_seen)

    # -- evaluation --------------------------------------------------------------------------
    def observe(self, job: str, result: ProbeResult, state: str | None) -> None:
        """Evaluate the rules about ``result`` of ``job``; ``state`` is its target's state
        after folding it in (up/down/degraded, or a device's online/offline/...)."""
        now = self.clock.now()
        info = self.targets.get(result.target) or TargetInfo(result.target)
        prefix = f"{result.kind}." if result.prefixed else ""
        series = [(prefix + k, float(v)) for k, v in result.metrics.items() if v is not None]
        if series:
            self.last_seen[result.target] = now
        streak_key = (result.target, job)
        self._streaks[streak_key] = 0 if result.up else self._streaks[streak_key] + 1
        for rule in self._by_kind["state"]:
            if rule.watches(info):
                self._step(rule, info, {}, rule.state_matches(state), None, now)
        for rule in self._by_kind["metric"]:
            if rule.watches(info):
                for labels, value in rule.series_of(series):
                    key = self._key(rule, info, labels)
                    active = key in self.alerts
                    self._step(rule, info, labels, rule.breached(value, active), value, now)
        for rule in self._by_kind["failures"]:
            if rule.watches(info):
                streak = self._streaks[streak_key]
                needed = rule.cond.failures or 1
                self._step(rule, info, {"job": job}, streak >= needed, float(streak), now)
        if self._by_kind["baseline"] and self.baselines is not None:
            self._baseline_rules(info, series, now)
        if self._by_kind["path_change"]:
            self._path_rules(job, result, info, now)

    def _baseline_rules(
        self, info: TargetInfo, series: list[tuple[str, float]], now: datetime
    ) -> None:
        assert self.baselines is not None
        for rule in self._by_kind["baseline"]:
            if not rule.watches(info):
                continue
            for labels, value in rule.series_of(series):
                name = series_name(rule.metric or "", labels)
                usual = self.baselines.value(info.name, name, now)
                if usual is None or usual <= 0:
                    continue  # no baseline (yet): say nothing rather than guess
                factor = rule.cond.factor or 1.0
                true = value > usual * factor and value > rule.cond.floor
                self._step(rule, info, labels, true, value, now)

    def _path_rules(self, job: str, result: ProbeResult, info: TargetInfo, now: datetime) -> None:
        path = result.details.get("path")
        if not isinstance(path, list) or not result.up:
            return  # a failed trace's partial path is not a new path
        hops = [str(h.get("address") if isinstance(h, dict) else h) for h in path]
        before = self._paths.get((info.name, job))
        self._paths[(info.name, job)] = hops
        changed = before is not None and before != hops
        for rule in self._by_kind["path_change"]:
            if rule.watches(info):
                self._step(rule, info, {"job": job}, changed, float(len(hops)), now)

    def health(self, problems: dict[str, dict[str, str]]) -> None:
        """netgauge's own health: ``problems`` maps a condition (store_down...) to the
        things it holds for now ({store name: words}); everything else is fine."""
        now = self.clock.now()
        me = TargetInfo(SELF)
        for rule in self._by_kind["netgauge"]:
            found = problems.get(rule.cond.netgauge or "", {})
            active = {
                a.labels.get("subject", "") for a in self.alerts.values() if a.rule == rule.name
            }
            for subject in set(found) | active:
                self._step(rule, me, {"subject": subject}, subject in found, None, now)

    def tick(self) -> None:
        """Time-driven evaluation: gaps, ``for`` elapsed, ``keep_firing_for`` elapsed, and
        alerts of rules or targets that no longer exist."""
        now = self.clock.now()
        for rule in self._by_kind["gap"]:
            gap = timedelta(seconds=rule.cond.gap or 0)
            for name, seen in list(self.last_seen.items()):
                info = self.targets.get(name)
                if info is not None and rule.watches(info):
                    silent = now - seen
                    self._step(rule, info, {}, silent > gap, silent.total_seconds(), now)
        for alert in list(self.alerts.values()):
            found = self.rules.get(alert.rule)
            target = alert.target
            gone = target is not None and target not in self.targets and target != SELF
            if found is None or gone:
                alert.true_now = False  # its rule or target went: it ends now
                self._resolve(alert, now)
            elif alert.true_now:
                self._promote(found, alert, now)
            else:
                self._maybe_resolve(found, alert, now)

    # -- transitions -------------------------------------------------------------------------
    def _key(self, rule: Rule, info: TargetInfo, extra: dict[str, str]) -> str:
        return fingerprint(self._labels(rule, info, extra))

    @staticmethod
    def _labels(rule: Rule, info: TargetInfo, extra: dict[str, str]) -> dict[str, str]:
        labels = {**rule.cfg.labels, **extra}
        labels.update(alertname=rule.name, target=info.name, severity=rule.cfg.severity)
        labels["type"] = info.type.value
        if info.site:
            labels["site"] = info.site
        return labels

    def _step(
        self,
        rule: Rule,
        info: TargetInfo,
        extra: dict[str, str],
        true: bool,
        value: float | None,
        now: datetime,
    ) -> None:
        labels = self._labels(rule, info, extra)
        fp = fingerprint(labels)
        alert = self.alerts.get(fp)
        if alert is None:
            if true:
                self._start(rule, info, fp, labels, value, now)
            return
        alert.true_now, alert.value = true, value if value is not None else alert.value
        if true:
            alert.last_true_at = now
            self._promote(rule, alert, now)
        elif alert.state is AlertState.PENDING:
            del self.alerts[fp]  # never fired: nobody was told, nothing to resolve
            self._emit(alert, "dropped")
        else:
            self._maybe_resolve(rule, alert, now)

    def _start(
        self,
        rule: Rule,
        info: TargetInfo,
        fp: str,
        labels: dict[str, str],
        value: float | None,
        now: datetime,
    ) -> None:
        annotations = {"summary": rule.summary(info.name, value), **rule.cfg.annotations}
        alert = Alert(
            fp,
            rule.name,
            labels,
            annotations,
            AlertState.PENDING,
            active_at=now,
            last_true_at=now,
            value=value,
            tags=info.tags,
        )
        self.alerts[fp] = alert
        self._emit(alert, "pending")
        self._promote(rule, alert, now)

    def _promote(self, rule: Rule, alert: Alert, now: datetime) -> None:
        if alert.state is not AlertState.PENDING:
            return
        if now - alert.active_at < timedelta(seconds=rule.cfg.for_):
            return
        alert.state, alert.fired_at = AlertState.FIRING, now
        fires = self._fires.setdefault(alert.fingerprint, deque(maxlen=8))
        fires.append(now)
        alert.flapping = sum(1 for at in fires if now - at <= self.flap_window) >= 2
        self._emit(alert, "firing")

    def _maybe_resolve(self, rule: Rule, alert: Alert, now: datetime) -> None:
        keep = timedelta(seconds=rule.cfg.keep_firing_for)
        if alert.flapping:  # held until its condition stayed clear for a whole window
            keep = max(keep, self.flap_window)
        if now - alert.last_true_at >= keep:
            self._resolve(alert, now)

    def _resolve(self, alert: Alert, now: datetime) -> None:
        self.alerts.pop(alert.fingerprint, None)
        if alert.state is AlertState.PENDING:
            self._emit(alert, "dropped")
            return
        alert.state, alert.resolved_at = AlertState.RESOLVED, now
        self._emit(alert, "resolved")

    def _emit(self, alert: Alert, event: str) -> None:
        for listener in self.listeners:
            listener(alert, event)

    # -- reading -------------------------------------------------------------------------------
    def active(self) -> list[Alert]:
        """Pending and firing alerts, copies (callers may keep them)."""
        return [copy.copy(a) for a in self.alerts.values()]


__all__ = ["AlertEngine", "FLAP_WINDOW_S"]
