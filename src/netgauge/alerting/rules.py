"""Alert rules compiled from the config: which targets they watch, what their condition says.

Pure functions of values (no clock, no I/O): the engine asks a rule whether it watches a
target, which of a result's series it reads, and whether a value is a problem, given
whether the alert is already active (hysteresis: a threshold with ``recover_below`` ends
only below that second value, like Zabbix's recovery expression).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from netgauge.alerting.model import TargetInfo
from netgauge.config.alerts import AlertRuleConfig, ConditionConfig
from netgauge.models import TargetType
from netgauge.series import split_series

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
# a rule's state and the target's: destinations say up/down, devices online/offline
_SAME_STATE = {
    "down": {"down", "offline"},
    "offline": {"down", "offline"},
    "up": {"up", "online"},
    "online": {"up", "online"},
    "degraded": {"degraded"},
    "flapping": {"flapping"},
}
DEFAULT_GAP_RULE = "collection-gap"
DEFAULT_GAP_S = 300.0


@dataclass(frozen=True)
class Rule:
    """One compiled rule."""

    cfg: AlertRuleConfig
    metric: str | None = None  # the series' base name (cpu_percent, icmp.loss_pct)
    metric_labels: tuple[tuple[str, str], ...] = ()  # labels the series must have

    @classmethod
    def of(cls, cfg: AlertRuleConfig) -> Rule:
        selector = (
            cfg.condition.metric
            or cfg.condition.baseline
            or cfg.condition.anomaly
            or cfg.condition.forecast
        )
        if selector is None:
            return cls(cfg)
        base, labels = split_series(selector)
        return cls(cfg, base, tuple(sorted(labels.items())))

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def cond(self) -> ConditionConfig:
        return self.cfg.condition

    @property
    def kind(self) -> str:
        return self.cfg.condition.kind

    def watches(self, target: TargetInfo) -> bool:
        """Whether the rule's scope takes in ``target`` (no scope: every target)."""
        scope = self.cfg.scope
        if scope is None:
            return True
        if scope.targets and target.name not in scope.targets:
            return False
        if scope.site is not None and target.site != scope.site:
            return False
        if scope.type is not None and target.type is not scope.type:
            return False
        return all(tag in target.tags for tag in scope.tags)

    @property
    def key_tag(self) -> str | None:
        """A tag every target this rule watches has (rules are indexed by it), if any."""
        scope = self.cfg.scope
        return scope.tags[0] if scope is not None and scope.tags else None

    def state_matches(self, state: str | None) -> bool:
        """Whether a target in ``state`` meets a state condition."""
        wanted = self.cond.state
        return state is not None and wanted is not None and state in _SAME_STATE[wanted]

    def series_of(self, series: Iterable[tuple[str, float]]) -> list[tuple[dict[str, str], float]]:
        """The (labels, value) of each of ``series`` (stored name, value) that the rule's
        metric selects: same base name, the rule's labels among the series' labels."""
        found = []
        for name, value in series:
            if not name.startswith(self.metric or "\0"):
                continue  # cheap test first: most series are not this rule's
            base, labels = split_series(name)
            if base == self.metric and self.selects(labels):
                found.append((labels, value))
        return found

    def selects(self, labels: dict[str, str]) -> bool:
        """Whether a series with ``labels`` (its base name being the rule's) is selected."""
        return all(labels.get(k) == v for k, v in self.metric_labels)

    def breached(self, value: float, active: bool) -> bool:
        """A threshold's answer for ``value``: past ``value`` to start; while ``active``,
        until past the recovery value when there is one."""
        cond = self.cond
        assert cond.op is not None and cond.value is not None
        if active and cond.recover_below is not None:
            return not value < cond.recover_below
        if active and cond.recover_above is not None:
            return not value > cond.recover_above
        return OPS[cond.op](value, cond.value)

    def summary(self, target: str | None, value: float | None) -> str:
        """Default words for the alert (annotations.summary overrides)."""
        cond, who = self.cond, target or "netgauge"
        if cond.state is not None:
            return f"{who} is {cond.state}"
        if cond.metric is not None:
            shown = "?" if value is None else f"{value:g}"
            return f"{who}: {cond.metric} is {shown} ({cond.op} {cond.value:g})"
        if cond.gap is not None:
            return f"{who}: no sample for {_duration(cond.gap)} (collection stopped)"
        if cond.failures is not None:
            return f"{who}: {cond.failures} failed checks in a row"
        if cond.baseline is not None:
            shown = "?" if value is None else f"{value:g}"
            return f"{who}: {cond.baseline} is {shown}, over {cond.factor:g}x its usual value"
        if cond.forecast is not None:
            when = "?" if value is None else ("now" if value <= 0 else f"in {value:.0f} h")
            return f"{who}: {cond.forecast} reaches {cond.reaches:g} {when}"
        if cond.path_change:
            return f"{who}: the network path changed"
        words = {
            "store_down": "a store is down (unreachable, or its writes fail)",
            "samples_lost": "a store lost samples",
            "notifications_failing": "a notification was given up",
        }
        return f"netgauge: {words.get(cond.netgauge or '', cond.netgauge)}"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def compile_rules(configs: Iterable[AlertRuleConfig], *, default_gap: bool = True) -> list[Rule]:
    """The enabled rules; with ``default_gap`` and no gap rule given, the built-in one:
    any device silent for 5 minutes (what the seed asks for)."""
    rules = [Rule.of(cfg) for cfg in configs if cfg.enabled]
    if default_gap and not any(r.kind == "gap" for r in rules):
        rules.append(
            Rule.of(
                AlertRuleConfig.model_validate(
                    {
                        "name": DEFAULT_GAP_RULE,
                        "condition": {"gap": DEFAULT_GAP_S},
                        "scope": {"type": TargetType.DEVICE.value},
                        "annotations": {"description": "a device's metrics stopped for 5 minutes"},
                    }
                )
            )
        )
    return rules


__all__ = ["DEFAULT_GAP_RULE", "OPS", "Rule", "compile_rules"]
