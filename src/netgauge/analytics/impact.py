"""Configuration impact: what a change in the change log did to the targets it touched.

For one change at time ``t`` and a span of ``N`` hours, each affected target is measured in
the window before, ``[t − N h, t)``, and the window after, ``[t, t + N h)`` (shorter while
it has not elapsed: the verdict then says "watching"):

* **availability**: up status samples / all status samples, in percent;
* **state changes**: how often consecutive status samples differ;
* **failures**: job-run outcomes naming the target that were not ``ok``, plus error-log
  entries naming it;
* **health**: the mean of its stored ``health_score`` samples.

The change's figures are those of the affected targets with status samples in both windows
(the *compared* ones; a target new since the change has nothing to compare): availability
and health as means (health over those with scores in both), state changes and failures
as sums.
Its verdict compares after with before (:func:`verdict`), each rule in :data:`WORSE_IF`:

* ``worse`` when availability fell by ≥ 1 percentage point, or health by ≥ 5 points, or
  state changes rose by ≥ 2, or failures rose by ≥ 3 and at least doubled;
* ``better`` when the mirror of a rule holds and none of ``worse``;
* ``no change`` otherwise; ``no data`` when no target has status samples in both windows.

Which targets a change affects: a target, itself; a job, the targets it covers now (a
deleted job: none, said in words); a site, its targets; a schedule, the targets of the sites
that use it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# (rule, threshold) — see the module's docstring
AVAILABILITY_DROP = 1.0  # percentage points
HEALTH_DROP = 5.0  # points
STATE_CHANGES_RISE = 2
FAILURES_RISE = 3
WORSE_IF = {
    "availability": f"fell by ≥ {AVAILABILITY_DROP:g} percentage point",
    "health": f"fell by ≥ {HEALTH_DROP:g} points",
    "state_changes": f"rose by ≥ {STATE_CHANGES_RISE}",
    "failures": f"rose by ≥ {FAILURES_RISE} and at least doubled",
}


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One target in one window (None: no such data in it)."""

    availability: float | None = None  # percent
    state_changes: int | None = None
    failures: int = 0
    health: float | None = None

    @classmethod
    def of(cls, status: Sequence[float], failures: int, health: Sequence[float]) -> WindowStats:
        """From the window's raw status samples (1/0), failure count and health scores."""
        if not status:
            return cls(None, None, failures, statistics.fmean(health) if health else None)
        changes = sum(1 for a, b in zip(status, status[1:], strict=False) if a != b)
        return cls(
            100.0 * sum(status) / len(status),
            changes,
            failures,
            statistics.fmean(health) if health else None,
        )


@dataclass(frozen=True, slots=True)
class Comparison:
    """Before and after of one number (either None: not compared)."""

    before: float | None
    after: float | None

    @property
    def delta(self) -> float | None:
        """after − before, when both are known."""
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class Impact:
    """A change's figures, its verdict and the reasons in words."""

    verdict: str  # worse | better | no change | no data
    reasons: tuple[str, ...]
    availability: Comparison
    health: Comparison
    state_changes: Comparison
    failures: Comparison
    targets: int
    compared: int  # targets with a number in both windows


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def _paired_mean(pairs: Sequence[tuple[WindowStats, WindowStats]], field: str) -> Comparison:
    both = [
        (getattr(b, field), getattr(a, field))
        for b, a in pairs
        if getattr(b, field) is not None and getattr(a, field) is not None
    ]
    return Comparison(_mean(x for x, _ in both), _mean(y for _, y in both))


def _paired_sum(pairs: Sequence[tuple[WindowStats, WindowStats]], field: str) -> Comparison:
    both = [
        (getattr(b, field), getattr(a, field))
        for b, a in pairs
        if getattr(b, field) is not None and getattr(a, field) is not None
    ]
    if not both:
        return Comparison(None, None)
    return Comparison(float(sum(x for x, _ in both)), float(sum(y for _, y in both)))


def _judge(name: str, c: Comparison, worse_when: float, rising_is_bad: bool) -> int:
    """-1 worse, +1 better, 0 neither, for one number."""
    delta = c.delta
    if delta is None:
        return 0
    signed = delta if rising_is_bad else -delta
    if name == "failures":
        before, after = c.before or 0.0, c.after or 0.0
        if signed >= worse_when and max(after, before) >= 2 * min(after, before):
            return -1
        if -signed >= worse_when and max(after, before) >= 2 * min(after, before):
            return 1
        return 0
    return -1 if signed >= worse_when else 1 if -signed >= worse_when else 0


def verdict(per_target: Mapping[str, tuple[WindowStats, WindowStats]]) -> Impact:
    """The change's figures and verdict from each affected target's (before, after)."""
    pairs = [
        (b, a)
        for b, a in per_target.values()
        if b.availability is not None and a.availability is not None
    ]
    numbers = {
        "availability": _paired_mean(pairs, "availability"),
        "health": _paired_mean(pairs, "health"),
        "state_changes": _paired_sum(pairs, "state_changes"),
        "failures": _paired_sum(pairs, "failures"),
    }
    rules = {
        "availability": (AVAILABILITY_DROP, False),
        "health": (HEALTH_DROP, False),
        "state_changes": (float(STATE_CHANGES_RISE), True),
        "failures": (float(FAILURES_RISE), True),
    }
    judged = {name: _judge(name, numbers[name], *rules[name]) for name in rules}
    worse = [name for name, j in judged.items() if j < 0]
    better = [name for name, j in judged.items() if j > 0]
    reasons: tuple[str, ...]
    if not pairs:
        kind, reasons = "no data", ("no affected target has status samples before and after",)
    else:
        kind = "worse" if worse else "better" if better else "no change"
        reasons = tuple(_words(name, numbers[name]) for name in (worse or better))
    return Impact(
        kind,
        reasons or ("no number moved past its threshold",),
        numbers["availability"],
        numbers["health"],
        numbers["state_changes"],
        numbers["failures"],
        len(per_target),
        len(pairs),
    )


def _words(name: str, c: Comparison) -> str:
    unit = {"availability": " %", "health": ""}.get(name, "")
    label = name.replace("_", " ")
    return f"{label} {c.before:.6g}{unit} → {c.after:.6g}{unit}"


__all__ = ["WORSE_IF", "Comparison", "Impact", "WindowStats", "verdict"]
