"""Error patterns of the service: netgauge's own error texts clustered (``patterns``) and
summed up per template over a window, beside the window before it.

What goes in (``ErrorText``): a target's failure in a job run (a probe's or a poll's error,
stored as data in ``job_run_targets``), a run's own error when it failed without any target
outcome (``the job selects no targets``, refused parameters), and — for admins — the error
log (``error_logs``). The inventory reads them (``inventory.error_texts``); this module only
counts.

Per template, for the window ``[until - hours, until)`` and the one before it:

* ``count`` / ``previous``: messages in the window / in the window before;
* ``trend``: ``new`` when first seen inside the window (nothing of it earlier in the whole
  history read), ``gone`` when none in the window but some before, ``rising`` when
  ``count >= 2 × previous`` and ``count - previous >= 3``, ``falling`` the other way round,
  else ``steady``;
* ``first_seen`` / ``last_seen``: over the whole history read (``lookback``);
* ``targets``: the targets it hit in the window, most messages first, then by name (and
  how many);
* ``buckets``: the window's messages in 24 equal slices (a spark line).

Every template first seen inside the window is also a **new pattern event** (when, which
target, which source, the first message).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from netgauge.analytics.patterns import mine

BUCKETS = 24
TOP_TARGETS = 10
MAX_TEXT = 2000  # characters of a message that are clustered (a stack trace adds nothing)


@dataclass(frozen=True, slots=True)
class ErrorText:
    """One stored error message and where it came from."""

    at: datetime
    source: str  # target | job | log
    text: str
    target: str | None = None  # the target or device it concerns
    job: str | None = None


@dataclass(slots=True)
class PatternSummary:
    """One template over the window."""

    id: str
    template: str
    count: int = 0
    previous: int = 0
    trend: str = "steady"
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    targets: list[tuple[str, int]] = field(default_factory=list)
    targets_total: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    example: str = ""
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)


@dataclass(frozen=True, slots=True)
class NewPattern:
    """A template first seen inside the window: when, and its first message."""

    id: str
    template: str
    at: datetime
    source: str
    target: str | None
    text: str
    job: str | None = None  # the job whose run it came from (None: the error log)


@dataclass(frozen=True, slots=True)
class PatternReport:
    """Every template of the history read, busiest in the window first."""

    since: datetime
    until: datetime
    previous_since: datetime
    messages: int  # read (whole history)
    in_window: int
    patterns: list[PatternSummary]
    new: list[NewPattern]


def report(texts: list[ErrorText], until: datetime, hours: float) -> PatternReport:
    """Cluster ``texts`` (any order) and sum them up for the window ending at ``until``."""
    texts = sorted(texts, key=lambda t: t.at)  # the same input gives the same clusters
    since = until - timedelta(hours=hours)
    before = since - timedelta(hours=hours)
    mined = mine(t.text[:MAX_TEXT] for t in texts)
    summaries: dict[str, PatternSummary] = {}
    targets: dict[str, Counter[str]] = {}
    firsts: dict[str, ErrorText] = {}
    for text, key in zip(texts, mined.ids, strict=True):
        s = summaries.get(key)
        if s is None:
            s = summaries[key] = PatternSummary(key, mined.patterns[key].template)
            s.first_seen, firsts[key] = text.at, text
        s.last_seen = text.at
        if since <= text.at < until:
            _count_in_window(s, text, since, hours)
            if text.target is not None:
                targets.setdefault(key, Counter())[text.target] += 1
        elif before <= text.at < since:
            s.previous += 1
    new = []
    for key, s in summaries.items():
        hit = targets.get(key, Counter())
        s.targets = sorted(hit.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TARGETS]
        s.targets_total = len(hit)
        s.trend = _trend(s, since, until)
        if s.trend == "new":
            f = firsts[key]
            first = f.text[:MAX_TEXT]
            new.append(NewPattern(key, s.template, f.at, f.source, f.target, first, f.job))
    ordered = sorted(summaries.values(), key=lambda s: (-s.count, -s.previous, s.template))
    in_window = sum(s.count for s in ordered)
    return PatternReport(since, until, before, len(texts), in_window, ordered, new)


def _count_in_window(s: PatternSummary, text: ErrorText, since: datetime, hours: float) -> None:
    s.count += 1
    s.sources[text.source] = s.sources.get(text.source, 0) + 1
    s.example = text.text[:MAX_TEXT]  # the newest in the window
    slot = int((text.at - since).total_seconds() / (hours * 3600) * BUCKETS)
    s.buckets[min(max(slot, 0), BUCKETS - 1)] += 1


def _trend(s: PatternSummary, since: datetime, until: datetime) -> str:
    """new, gone, rising, falling or steady (the module's text gives the rule)."""
    if s.first_seen is not None and since <= s.first_seen < until:
        return "new"
    if s.count == 0 and s.previous > 0:
        return "gone"
    if s.count >= 2 * s.previous and s.count - s.previous >= 3:
        return "rising"
    if s.previous >= 2 * s.count and s.previous - s.count >= 3:
        return "falling"
    return "steady"
