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
import math
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from netgauge.alerting.anomaly import AnomalyScores
from netgauge.alerting.baseline import Baselines
from netgauge.alerting.forecasts import ForecastWatch
from netgauge.alerting.model import Alert, AlertState, TargetInfo, fingerprint
from netgauge.alerting.rules import OPS, Rule
from netgauge.analytics.forecast_service import Question
from netgauge.clock import Clock
from netgauge.models import ProbeResult
from netgauge.series import series_name, split_series

Listener = Callable[[Alert, str], None]
FLAP_WINDOW_S = 600.0
GAP_STEP_MAX_S = 5.0  # a gap alert is at most this late
TICK_MIN_S = 0.5
SELF = "(netgauge)"  # the target label of netgauge's own health (no target is named so)


# a threshold rule that watches a series: (rule name, the alert's fingerprint, the
# comparison, its threshold, the series' name); a target's plan per result kind: the
# metric keys seen, and the planned ones with their rules
_Planned = tuple[str, str, str, float, str]
# a series' rules with the values that breach none of them: [low, high]
_KeyPlan = tuple[str, tuple[_Planned, ...], float, float]
_TargetPlan = tuple[frozenset[str], tuple[_KeyPlan, ...]]


def _quiet_between(entries: Iterable[_Planned]) -> tuple[float, float]:
    """The values that breach none of ``entries``' thresholds, as [low, high] (empty when
    an equality test is among them: then every value takes the long way)."""
    low, high = -math.inf, math.inf
    for _rule, _fp, op, threshold, _name in entries:
        if op == ">":
            high = min(high, threshold)
        elif op == ">=":
            high = min(high, math.nextafter(threshold, -math.inf))
        elif op == "<":
            low = max(low, threshold)
        elif op == "<=":
            low = max(low, math.nextafter(threshold, math.inf))
        else:
            return math.inf, -math.inf
    return low, high


class _RuleIndex:
    """Rules of one metric: those without a tag in their scope, and the others by tag."""

    def __init__(self) -> None:
        self.untagged: list[Rule] = []
        self.by_tag: dict[str, list[Rule]] = defaultdict(list)

    def add(self, rule: Rule) -> None:
        tag = rule.key_tag
        if tag is None:
            self.untagged.append(rule)
        else:
            self.by_tag[tag].append(rule)

    def candidates(self, info: TargetInfo) -> list[Rule]:
        """The rules that may watch ``info`` (their scope is still checked whole)."""
        if not self.by_tag:
            return self.untagged
        found = list(self.untagged)
        for tag in info.tags:
            found += self.by_tag.get(tag, ())
        return found


def _named(result: ProbeResult) -> list[tuple[str, float]]:
    """A result's series as stored (``icmp.rtt_avg_ms``, ``disk_percent{mount="/"}``)."""
    prefix = f"{result.kind}." if result.prefixed else ""
    return [(prefix + k, float(v)) for k, v in result.metrics.items() if v is not None]


class AlertEngine:
    """Evaluates rules over results and time; holds the active alerts."""

    def __init__(
        self,
        rules: Iterable[Rule],
        clock: Clock,
        *,
        flap_window_s: float = FLAP_WINDOW_S,
        baselines: Baselines | None = None,
        anomalies: AnomalyScores | None = None,
        forecasts: ForecastWatch | None = None,
    ) -> None:
        self.clock = clock
        self.baselines = baselines
        self.anomalies = anomalies
        self.forecasts = forecasts
        self._paths: dict[tuple[str, str], list[str]] = {}  # (target, job) → newest path
        self.flap_window = timedelta(seconds=flap_window_s)
        self.alerts: dict[str, Alert] = {}
        self._alerted: dict[str, int] = defaultdict(int)  # target → its alerts (any rule)
        self.targets: dict[str, TargetInfo] = {}
        self.last_seen: dict[str, datetime] = {}  # target → newest sample (gap rules)
        self.listeners: list[Listener] = []
        self._streaks: dict[tuple[str, str], int] = defaultdict(int)  # (target, job) → failures
        self._idents: dict[tuple[str, str, str], tuple[dict[str, str], str]] = {}
        self._plans: dict[tuple[str, str], _TargetPlan] = {}
        self._tick_now: datetime | None = None  # the newest tick's time
        self._fires: dict[str, deque[datetime]] = {}  # fingerprint → recent firing times
        self._next_prune = datetime.min.replace(tzinfo=UTC)
        self.set_rules(rules)

    # -- configuration ---------------------------------------------------------------------
    def set_rules(self, rules: Iterable[Rule]) -> None:
        """The rules in force (alerts of rules that went are resolved at the next tick)."""
        self.rules = {r.name: r for r in rules}
        self._inventory_changed = True  # alerts of rules that went are resolved
        self._idents, self._plans = {}, {}
        self._by_kind: dict[str, list[Rule]] = defaultdict(list)
        # threshold rules by the series' base name: a result's series find theirs by one
        # lookup each, so 1,000 rules cost what the few that apply cost
        # (and within a name by a tag they require: 1,000 rules scoped to 100 groups of
        # devices cost a device what its own group's rules cost)
        self._by_metric: dict[str, _RuleIndex] = defaultdict(_RuleIndex)
        for rule in self.rules.values():
            self._by_kind[rule.kind].append(rule)
            if rule.kind == "metric" and rule.metric:
                self._by_metric[rule.metric].add(rule)
        # rules other than thresholds and gaps need the time on every result
        self._others = any(k not in ("metric", "gap") for k in self._by_kind)
        self._watch_gaps = "gap" in self._by_kind
        # gaps are minutes long: checked every 1/60 of the shortest (0.5-5 s), not on every
        # 0.5 s tick (10,000 targets x 120 ticks a minute cost more than their results)
        shortest = min((r.cond.gap or 0 for r in self._by_kind["gap"]), default=0)
        self._gap_step = timedelta(seconds=min(max(shortest / 60, TICK_MIN_S), GAP_STEP_MAX_S))
        self._next_gap_check = datetime.min.replace(tzinfo=UTC)
        self._gap_alerted: set[str] = set()  # targets with a gap alert

    def set_targets(self, targets: Iterable[TargetInfo]) -> None:
        """The inventory's targets as rules see them; gone targets stop being watched."""
        new = {t.name: t for t in targets}
        if new != self.targets:  # a target's site and tags are in its alerts and scopes
            self._idents.clear()
            self._plans.clear()
        self.targets = new
        self._inventory_changed = True  # alerts of targets that went are resolved
        for name in set(self.last_seen) - set(self.targets):
            del self.last_seen[name]

    def restore(self, alerts: Iterable[Alert], last_seen: dict[str, datetime]) -> None:
        """Alerts and gap watches as persisted before a restart (no event: nothing new)."""
        for alert in alerts:
            self._add(alert)
        self.last_seen.update(last_seen)

    # -- evaluation --------------------------------------------------------------------------
    def observe(self, job: str, result: ProbeResult, state: str | None) -> None:
        """Evaluate the rules about ``result`` of ``job``; ``state`` is its target's state
        after folding it in (up/down/degraded, or a device's online/offline/...).

        The hot path of a fleet (every series of every result): a series with no rule costs
        a dict lookup, one with rules a comparison per rule (see ``_plan``)."""
        by_kind = self._by_kind
        target = result.target
        info = self.targets.get(target) or TargetInfo(target)
        if self._watch_gaps:
            values = result.metrics.values()
            if values and (None not in values or any(v is not None for v in values)):
                # gaps are minutes long: the tick's time (0.5 s old at most) does, and
                # saves a clock read per result (the C test first: most have no None)
                self.last_seen[target] = self._tick_now or self.clock.now()
                if target in self._gap_alerted:  # back: resolved at the next tick
                    self._next_gap_check = self._tick_now or self.clock.now()
        # the time is read only when a rule needs it (not on the thresholds' path)
        now = self.clock.now() if self._others else None
        if now is None:
            if self._by_metric:
                self._metric_rules(info, result, None)
            return
        if by_kind.get("failures"):
            streak_key = (target, job)
            self._streaks[streak_key] = 0 if result.up else self._streaks[streak_key] + 1
            for rule in by_kind["failures"]:
                if rule.watches(info):
                    streak = self._streaks[streak_key]
                    needed = rule.cond.failures or 1
                    # a short streak ends an alert only when a success ended it: a streak
                    # counted from this process's start (a restart, a new leader) proves
                    # nothing about the failures before it
                    if streak >= needed or result.up:
                        self._step(
                            rule, info, {"job": job}, streak >= needed, float(streak), now, job
                        )
        if state is not None:  # undecided (a device since this process started): no evidence
            for rule in by_kind.get("state", ()):
                if rule.watches(info):
                    self._step(rule, info, {}, rule.state_matches(state), None, now, "")
        if self._by_metric:
            self._metric_rules(info, result, now)
        if by_kind.get("baseline") and self.baselines is not None:
            self._baseline_rules(info, _named(result), now)
        if by_kind.get("anomaly") and self.anomalies is not None:
            self._anomaly_rules(info, _named(result), now)
        if by_kind.get("forecast") and self.forecasts is not None:
            self._forecast_rules(info, _named(result), now)
        if by_kind.get("path_change"):
            self._path_rules(job, result, info, now)

    def _metric_rules(self, info: TargetInfo, result: ProbeResult, now: datetime | None) -> None:
        prefix = f"{result.kind}." if result.prefixed else ""
        metrics = result.metrics
        plan = self._plans.get((info.name, prefix))
        if plan is None or not metrics.keys() <= plan[0]:
            plan = self._plan(info, prefix, metrics.keys())
        alerts, rules = self.alerts, self.rules
        calm = info.name not in self._alerted  # no alert of the target's to recover
        for key, entries, low, high in plan[1]:
            value = metrics.get(key)
            if value is None or (calm and low <= value <= high):
                continue  # the usual case: one comparison for all of the series' rules
            if value != value:
                continue  # NaN (jitter of no replies...) says nothing either way
            for rule_name, fp, op, threshold, name in entries:
                if fp in alerts:  # active: its own test (the recovery value, if any)
                    rule = rules[rule_name]
                    true = rule.breached(value, True)
                elif OPS[op](value, threshold):
                    rule, true = rules[rule_name], True
                else:
                    continue  # the usual case: no alert, none to start
                now = now or self.clock.now()
                self._step(rule, info, split_series(name)[1], true, value, now, name)

    def _plan(self, info: TargetInfo, prefix: str, keys: Iterable[str]) -> _TargetPlan:
        """Which threshold rules watch which series of ``info`` (metric keys of results of
        one kind): worked out when a series is first seen, kept until targets or rules
        change. Plain strings and numbers only, so the garbage collector skips the lot."""
        old = self._plans.get((info.name, prefix))
        known = frozenset(keys) | (old[0] if old is not None else frozenset())
        planned: list[_KeyPlan] = []
        for key in sorted(known):
            name = prefix + key
            index = self._by_metric.get(name.partition("{")[0])
            if index is None:
                continue
            labels = split_series(name)[1]
            entries: list[_Planned] = []
            for rule in index.candidates(info):
                if rule.selects(labels) and rule.watches(info):
                    fp = self._ident(rule, info, labels, None)[1]  # not kept: see _step
                    cond = rule.cond
                    assert cond.op is not None and cond.value is not None
                    entries.append((rule.name, fp, cond.op, cond.value, name))
            if entries:
                planned.append((key, tuple(entries), *_quiet_between(entries)))
        plan = self._plans[(info.name, prefix)] = (known, tuple(planned))
        return plan

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
                self._step(rule, info, labels, true, value, now, name)

    def _anomaly_rules(
        self, info: TargetInfo, series: list[tuple[str, float]], now: datetime
    ) -> None:
        assert self.anomalies is not None
        for rule in self._by_kind["anomaly"]:
            if not rule.watches(info):
                continue
            for labels, value in rule.series_of(series):
                if value != value:
                    continue  # NaN says nothing either way
                name = series_name(rule.metric or "", labels)
                score = self.anomalies.score(info.name, name, now, value)
                if score is None:
                    continue  # no scorer (yet): say nothing rather than guess
                needed = rule.cond.score if rule.cond.score is not None else 0.5
                self._step(rule, info, labels, score >= needed, value, now, name)

    def _forecast_rules(
        self, info: TargetInfo, series: list[tuple[str, float]], now: datetime
    ) -> None:
        assert self.forecasts is not None
        for rule in self._by_kind["forecast"]:
            if not rule.watches(info):
                continue
            cond = rule.cond
            assert cond.reaches is not None and cond.within is not None
            for labels, _ in rule.series_of(series):
                name = series_name(rule.metric or "", labels)
                asked = Question(rule.metric or "", cond.reaches)
                found = self.forecasts.value(info.name, name, asked, now)
                if found is None:
                    continue  # not computed yet: say nothing rather than guess
                if found.reaches_at is None:  # never (no trend): not true, and ends an alert
                    self._step(rule, info, labels, False, None, now, name)
                    continue
                left = (found.reaches_at - now).total_seconds()
                self._step(rule, info, labels, left <= cond.within, left / 3600, now, name)

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
                self._step(rule, info, {"job": job}, changed, float(len(hops)), now, job)

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
                self._step(rule, me, {"subject": subject}, subject in found, None, now, subject)

    def tick(self) -> None:
        """Time-driven evaluation: gaps, ``for`` elapsed, ``keep_firing_for`` elapsed, and
        alerts of rules or targets that no longer exist."""
        now = self._tick_now = self.clock.now()
        if self._by_kind["gap"] and now >= self._next_gap_check:
            self._next_gap_check = now + self._gap_step
            for rule in self._by_kind["gap"]:
                self._gap_rule(rule, now)
            gaps = {r.name for r in self._by_kind["gap"]}
            self._gap_alerted = {a.target or SELF for a in self.alerts.values() if a.rule in gaps}
        if now >= self._next_prune:
            self._next_prune = now + self.flap_window
            self._prune_fires(now)
        check_all, self._inventory_changed = self._inventory_changed, False
        firing = AlertState.FIRING
        # a firing alert whose condition still holds has nothing to do on a tick (most
        # of them, each tick): only pending and cleared ones, and all after a change
        due = [
            a for a in self.alerts.values() if check_all or not a.true_now or a.state is not firing
        ]
        for alert in due:
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

    def _prune_fires(self, now: datetime) -> None:
        """Forget firing times that can no longer make an alert flap (fingerprints of
        alerts long gone would otherwise pile up for as long as netgauge runs)."""
        for fp, fires in list(self._fires.items()):
            if fp not in self.alerts and now - fires[-1] > self.flap_window:
                del self._fires[fp]

    def _gap_rule(self, rule: Rule, now: datetime) -> None:
        gap = timedelta(seconds=rule.cond.gap or 0)
        cutoff = now - gap
        # every target, every few seconds: the usual one (seen lately, no alert) costs a
        # comparison; only the silent ones and those with an alert take a step
        active = {a.target for a in self.alerts.values() if a.rule == rule.name}
        due = [n for n, seen in self.last_seen.items() if seen < cutoff or n in active]
        for name in due:
            seen = self.last_seen[name]
            info = self.targets.get(name)
            if info is not None and rule.watches(info):
                silent = now - seen
                self._step(rule, info, {}, silent > gap, silent.total_seconds(), now, "")

    # -- transitions -------------------------------------------------------------------------
    @staticmethod
    def _labels(rule: Rule, info: TargetInfo, extra: dict[str, str]) -> dict[str, str]:
        labels = {**rule.cfg.labels, **extra}
        labels.update(alertname=rule.name, target=info.name, severity=rule.cfg.severity)
        labels["type"] = info.type.value
        if info.site:
            labels["site"] = info.site
        return labels

    def _ident(
        self, rule: Rule, info: TargetInfo, extra: dict[str, str], hint: str | None
    ) -> tuple[dict[str, str], str]:
        """An alert's labels and fingerprint; with ``hint`` (what tells the rule's alerts of
        one target apart: a series name, a job, "" for one alert per target) remembered,
        since the same ones are evaluated on every result and tick (hashing is costly)."""
        if hint is None:
            labels = self._labels(rule, info, extra)
            return labels, fingerprint(labels)
        key = (rule.name, info.name, hint)
        found = self._idents.get(key)
        if found is None:
            labels = self._labels(rule, info, extra)
            found = self._idents[key] = (labels, fingerprint(labels))
        return found

    def _step(
        self,
        rule: Rule,
        info: TargetInfo,
        extra: dict[str, str],
        true: bool,
        value: float | None,
        now: datetime,
        hint: str | None = None,
    ) -> None:
        labels, fp = self._ident(rule, info, extra, hint)
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
            self._drop(fp)  # never fired: nobody was told, nothing to resolve
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
        self._add(alert)
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
        self._drop(alert.fingerprint)
        if alert.state is AlertState.PENDING:
            self._emit(alert, "dropped")
            return
        alert.state, alert.resolved_at = AlertState.RESOLVED, now
        self._emit(alert, "resolved")

    def _add(self, alert: Alert) -> None:
        if alert.fingerprint not in self.alerts:
            self._alerted[alert.target or SELF] += 1
        self.alerts[alert.fingerprint] = alert

    def _drop(self, fp: str) -> None:
        alert = self.alerts.pop(fp, None)
        if alert is not None:
            target = alert.target or SELF
            self._alerted[target] -= 1
            if not self._alerted[target]:
                del self._alerted[target]

    def _emit(self, alert: Alert, event: str) -> None:
        for listener in self.listeners:
            listener(alert, event)

    # -- reading -------------------------------------------------------------------------------
    def active(self) -> list[Alert]:
        """Pending and firing alerts, copies (callers may keep them)."""
        return [copy.copy(a) for a in self.alerts.values()]


__all__ = ["GAP_STEP_MAX_S", "AlertEngine", "FLAP_WINDOW_S"]
