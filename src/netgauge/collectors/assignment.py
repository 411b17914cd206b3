"""Who checks what: the central or a site's collectors (pure functions, no I/O).

Rules (the README's "Scaling out" says them in words):

* A target belongs to a site. A site that has collectors has its targets' checks run by
  them only; the targets of a site without collectors (or of none) are run by the central.
* Among a site's *live* collectors (a heartbeat within ``dead_after_s``), each target goes to
  one by rendezvous hashing: the collector whose hash of (collector, target) is highest.
  When one stops, only its targets move (each to the next-highest), and when it comes back
  they return; no coordination beyond the heartbeats is needed, and every central computes
  the same answer.
* A job with ``vantage: [SITE, ...]`` is run from each of those sites at once: in each, the
  target goes to one live collector of that site (rendezvous again), whatever site the
  target belongs to. The central does not run it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from netgauge.config.model import JobConfig
from netgauge.inventory.collectors import CollectorInfo
from netgauge.models import Target


def live(collectors: Iterable[CollectorInfo], now: datetime, dead_after_s: float) -> list[str]:
    """The collectors heard from within ``dead_after_s`` of ``now``."""
    horizon = now - timedelta(seconds=dead_after_s)
    return [c.name for c in collectors if c.last_seen is not None and c.last_seen >= horizon]


def owner(target: str, candidates: Sequence[str]) -> str | None:
    """The candidate that runs ``target`` (highest rendezvous hash); None without any."""
    return max(candidates, key=lambda c: _weight(c, target), default=None)


def _weight(collector: str, target: str) -> bytes:
    return hashlib.blake2b(f"{collector}\0{target}".encode(), digest_size=8).digest()


@dataclass(frozen=True)
class Fleet:
    """The collectors of every site, and which of them are live now."""

    by_site: dict[str, list[str]] = field(default_factory=dict)
    alive: frozenset[str] = frozenset()
    # each site's live collectors, sorted once (a plan asks for them once per check)
    _live: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, collectors: Sequence[CollectorInfo], now: datetime, dead_after_s: float) -> Fleet:
        """The fleet as the collectors table says it is at ``now``."""
        by_site: dict[str, list[str]] = {}
        for c in collectors:
            by_site.setdefault(c.site, []).append(c.name)
        return cls(by_site, frozenset(live(collectors, now, dead_after_s)))

    def live_of(self, site: str) -> list[str]:
        """The live collectors of ``site``, sorted."""
        if site not in self._live:
            self._live[site] = sorted(c for c in self.by_site.get(site, ()) if c in self.alive)
        return self._live[site]

    def remote(self, site: str | None) -> bool:
        """Whether ``site``'s targets are run by its collectors (it has any, live or not)."""
        return site is not None and bool(self.by_site.get(site))

    def runner_of(self, cfg: JobConfig, target: Target) -> list[str]:
        """The collectors that run ``cfg`` on ``target`` now (empty: none, or the central:
        see :meth:`central_runs`)."""
        if cfg.vantage:
            found = (owner(target.name, self.live_of(site)) for site in cfg.vantage)
            return [c for c in found if c is not None]
        if not self.remote(target.site):
            return []
        chosen = owner(target.name, self.live_of(target.site or ""))
        return [] if chosen is None else [chosen]

    def central_runs(self, cfg: JobConfig, target: Target) -> bool:
        """Whether the central itself checks ``target`` for ``cfg``."""
        return not cfg.vantage and not self.remote(target.site)


Assignment = dict[str, list[tuple[JobConfig, list[Target]]]]


def assignments(fleet: Fleet, jobs: Iterable[tuple[JobConfig, Sequence[Target]]]) -> Assignment:
    """What every collector runs now: one pass over every check (each site's live
    collectors sorted once), not one pass per collector."""
    plan: dict[str, dict[str, tuple[JobConfig, list[Target]]]] = {}
    for cfg, targets in jobs:
        for target in targets:
            for name in fleet.runner_of(cfg, target):
                plan.setdefault(name, {}).setdefault(cfg.name, (cfg, []))[1].append(target)
    return {name: list(by_job.values()) for name, by_job in plan.items()}


def assignment_of(
    collector: str, fleet: Fleet, jobs: Iterable[tuple[JobConfig, Sequence[Target]]]
) -> list[tuple[JobConfig, list[Target]]]:
    """The jobs ``collector`` runs now, each with the targets it runs them on."""
    return assignments(fleet, jobs).get(collector, [])


__all__ = ["Assignment", "Fleet", "assignment_of", "assignments", "live", "owner"]
