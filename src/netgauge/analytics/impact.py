"""Configuration impact: what a change in the change log did to the targets it touched.

For one change at time ``t`` and a window of ``h`` hours, each affected target's record is
cut into *before* ``[t - h, t)`` and *after* ``[t, t + h)``, and compared:

* **checks** and **failed**: the target's check outcomes (job-run outcomes) in each half,
  and the failure rate ``failed / checks``;
* **state changes**: transitions in each half (a device's recorded state changes; for a
  destination, switches between a passing and a failing check);
* **offline**: the device transitions into ``offline`` in each half.

The verdict says whether things got worse, better or stayed the same, and only when the
data can tell: the failure rates are compared with Fisher's exact test (two-sided, on the
2×2 table of failed/passed before and after), and a difference is called only when
``p < 0.05`` and the rates differ by at least 5 points. With fewer than ``MIN_CHECKS``
outcomes in either half the verdict is ``not enough data``. An ``after`` half still open
(``t + h`` in the future) is compared as far as it goes and marked ``partial``.

The inputs are plain values (the service gathers them), so the rule can be tested by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from scipy.stats import fisher_exact

FORMULA_VERSION = "1"
MIN_CHECKS = 5  # outcomes per half below which no verdict is given
MIN_RATE_CHANGE = 0.05  # failure-rate difference (absolute) worth a verdict
P_VALUE = 0.05

Verdict = Literal["worse", "better", "no change", "not enough data"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One check of a target: when, and whether it passed."""

    at: datetime
    ok: bool


@dataclass(frozen=True, slots=True)
class Transition:
    """One recorded state change of a device."""

    at: datetime
    state: str


@dataclass(frozen=True, slots=True)
class History:
    """What is known of one target around a change."""

    target: str
    outcomes: Sequence[Outcome] = ()
    transitions: Sequence[Transition] | None = None  # None: not a device (derive from checks)


@dataclass(frozen=True, slots=True)
class Half:
    """One side of the change for one target (or summed over targets)."""

    checks: int = 0
    failed: int = 0
    state_changes: int = 0
    offline: int = 0

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.checks if self.checks else None

    def __add__(self, other: Half) -> Half:
        return Half(
            self.checks + other.checks,
            self.failed + other.failed,
            self.state_changes + other.state_changes,
            self.offline + other.offline,
        )


@dataclass(frozen=True, slots=True)
class TargetImpact:
    """One target's before and after."""

    target: str
    before: Half
    after: Half
    verdict: Verdict
    p_value: float | None


@dataclass(frozen=True, slots=True)
class Impact:
    """A change's impact over all its targets, with the reason in words."""

    before: Half
    after: Half
    verdict: Verdict
    p_value: float | None
    partial: bool
    reason: str
    targets: list[TargetImpact] = field(default_factory=list)


def _half(history: History, start: datetime, end: datetime) -> Half:
    outcomes = sorted((o for o in history.outcomes if start <= o.at < end), key=lambda o: o.at)
    failed = sum(not o.ok for o in outcomes)
    if history.transitions is not None:
        moves = [t for t in history.transitions if start <= t.at < end]
        changes, offline = len(moves), sum(t.state == "offline" for t in moves)
    else:  # a destination: how often its checks switched between passing and failing
        changes = sum(a.ok != b.ok for a, b in zip(outcomes, outcomes[1:], strict=False))
        offline = 0
    return Half(len(outcomes), failed, changes, offline)


def compare(before: Half, after: Half) -> tuple[Verdict, float | None]:
    """The verdict on two halves, and Fisher's p-value when one was computed."""
    if before.checks < MIN_CHECKS or after.checks < MIN_CHECKS:
        return "not enough data", None
    table = [
        [before.failed, before.checks - before.failed],
        [after.failed, after.checks - after.failed],
    ]
    p = float(fisher_exact(table).pvalue)
    rate_before, rate_after = before.failed / before.checks, after.failed / after.checks
    if p < P_VALUE and abs(rate_after - rate_before) >= MIN_RATE_CHANGE:
        return ("worse" if rate_after > rate_before else "better"), p
    return "no change", p


def _percent(rate: float | None) -> str:
    return "no checks" if rate is None else f"{rate * 100:.1f} % failed"


def _reason(before: Half, after: Half, verdict: Verdict, hours: float) -> str:
    span = f"{hours:g} h"
    text = (
        f"{span} before: {before.checks} checks, {_percent(before.failure_rate)}, "
        f"{before.state_changes} state changes; {span} after: {after.checks} checks, "
        f"{_percent(after.failure_rate)}, {after.state_changes} state changes"
    )
    if verdict == "not enough data":
        return f"{text}; fewer than {MIN_CHECKS} checks on a side: no verdict"
    return f"{text}: {verdict}"


def impact(at: datetime, histories: Sequence[History], hours: float, now: datetime) -> Impact:
    """The impact of a change made at ``at`` on the targets of ``histories``."""
    span = timedelta(hours=hours)
    per_target = []
    total_before, total_after = Half(), Half()
    for history in histories:
        before = _half(history, at - span, at)
        after = _half(history, at, at + span)
        verdict, p = compare(before, after)
        per_target.append(TargetImpact(history.target, before, after, verdict, p))
        total_before, total_after = total_before + before, total_after + after
    verdict, p = compare(total_before, total_after)
    return Impact(
        before=total_before,
        after=total_after,
        verdict=verdict,
        p_value=p,
        partial=at + span > now,
        reason=_reason(total_before, total_after, verdict, hours),
        targets=per_target,
    )
