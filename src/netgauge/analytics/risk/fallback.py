"""The transparent rule-based risk used while the fleet's history is too short to train on.

Points are log-odds: the probability is ``1 / (1 + exp(-(BASE + sum of points)))``. Each
rule reads one feature (see ``features``); a rule whose feature is unknown (NaN) gives no
points. The weights are set by hand from what precedes outages in general (a device that
went offline lately, reboots, flaps, a change, a resource heading for its limit), not
fitted: the probability is a ranking with a plausible scale, not a calibrated one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

BASE = -5.0  # ≈ 0.7 % per horizon for a device with no sign at all


@dataclass(frozen=True, slots=True)
class Rule:
    """Points as a function of one feature's value (0 when the rule does not apply)."""

    feature: str
    says: str  # the rule in words, as the docs list it
    points: Callable[[float], float]


RULES: tuple[Rule, ...] = (
    Rule(
        "offline_episodes_7d",
        "+0.8 per outage in the last 7 d (at most 3)",
        lambda v: 0.8 * min(v, 3.0),
    ),
    Rule(
        "changes_of_state_24h",
        "+0.3 per state change in the last 24 h (at most 10)",
        lambda v: 0.3 * min(v, 10.0),
    ),
    Rule(
        "degraded_episodes_24h",
        "+0.5 per degraded episode in the last 24 h (at most 4)",
        lambda v: 0.5 * min(v, 4.0),
    ),
    Rule(
        "uptime_resets_7d",
        "+1.0 per reboot (uptime went down) in the last 7 d (at most 3)",
        lambda v: 1.0 * min(v, 3.0),
    ),
    Rule(
        "config_changes_24h",
        "+1.5 when the configuration changed in the last 24 h",
        lambda v: 1.5 if v >= 1 else 0.0,
    ),
    Rule(
        "memory_at_horizon",
        "+3.0 when memory's 24 h trend reaches 95 % within the horizon",
        lambda v: 3.0 if v >= 95 else 0.0,
    ),
    Rule(
        "disk_at_horizon",
        "+3.0 when the disk's 24 h trend reaches 95 % within the horizon",
        lambda v: 3.0 if v >= 95 else 0.0,
    ),
    Rule("memory_level", "+1.0 when memory is at 90 % or more", lambda v: 1.0 if v >= 90 else 0.0),
    Rule(
        "temperature_at_horizon",
        "+1.5 when temperature's trend reaches 80 °C",
        lambda v: 1.5 if v >= 80 else 0.0,
    ),
    Rule("cpu_level", "+0.5 when CPU is at 95 % or more", lambda v: 0.5 if v >= 95 else 0.0),
    Rule(
        "silence_hours",
        "+1.0 when nothing was heard for an hour or more",
        lambda v: 1.0 if v >= 1 else 0.0,
    ),
)


def score(values: dict[str, float]) -> tuple[float, list[tuple[str, float, float]]]:
    """(probability, [(feature, points, value)] of the rules that gave points, most first)."""
    terms = []
    for rule in RULES:
        value = values.get(rule.feature, math.nan)
        if math.isnan(value):
            continue
        points = rule.points(value)
        if points > 0:
            terms.append((rule.feature, points, value))
    total = BASE + sum(p for _, p, _ in terms)
    return 1.0 / (1.0 + math.exp(-total)), sorted(terms, key=lambda t: -t[1])
