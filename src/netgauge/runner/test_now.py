"""Test now: run a target's checks once, as the scheduled runs would, storing nothing.

Every enabled job that covers the target (by name or by selector) is run once for it alone
through :meth:`JobRunner.check_once`, the runner's own way of running one check (same
params rules, timeout rule, concurrency limits and error texts). When none covers it, a
default ICMP check (one short round of pings) runs and ``covered`` is false.

Traffic goes to the target's address only: a job whose check is aimed elsewhere (an HTTP
job with a whole ``url``, a DNS job asking the system's resolvers) is reported ``skipped``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netgauge.config.model import JobConfig
from netgauge.inventory.repository import Inventory, job_config, job_covers, to_target
from netgauge.models import Target
from netgauge.runner.runner import JobRunner

# checks that do not go to the target's address: "test now" never sends traffic elsewhere
_ELSEWHERE: dict[str, Callable[[dict[str, Any]], bool]] = {
    "http": lambda p: bool(p.get("url")),  # a whole URL replaces the target's address
    "dns": lambda p: p.get("server") == "system",  # asks resolv.conf's servers
}
DEFAULT_KIND = "icmp"  # what runs when no job covers the target
_DEFAULT_PARAMS = {"count": 3, "interval": 0.2, "timeout": 2.0}  # answers within ~2.5 s


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One check: which job (None for the default check), its outcome."""

    job: str | None
    kind: str
    status: str
    error: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TestReport:
    """What Test now did for one target."""

    __test__ = False  # not a pytest class, whatever its name

    target: str
    address: str
    covered: bool
    note: str | None
    results: list[CheckOutcome]


async def test_target(inventory: Inventory, runner: JobRunner, name: str) -> TestReport:
    """Run ``name``'s covering jobs once (NotFoundError when there is no such target)."""
    row = await asyncio.to_thread(inventory.get_target, name)
    jobs = [job_config(j) for j in await asyncio.to_thread(inventory.list_jobs) if j.enabled]
    plain = to_target(row)
    covering = [cfg for cfg in jobs if job_covers(cfg, plain)]
    note = None
    if not covering:
        note = f"no enabled job covers {name}: ran a default {DEFAULT_KIND} check"
        default = JobConfig(
            name="default", kind=DEFAULT_KIND, params=_DEFAULT_PARAMS, targets=[name]
        )
        covering = [default]
    target = await _with_credentials(inventory, covering[0], plain)
    covered = note is None
    outcomes = await asyncio.gather(*(_check(cfg, target, runner, covered) for cfg in covering))
    return TestReport(name, row.address, covered, note, list(outcomes))


async def _with_credentials(inventory: Inventory, cfg: JobConfig, target: Target) -> Target:
    """The target with its credentials reference, as the runner hands it to a check."""
    only = cfg.model_copy(update={"targets": [target.name], "selector": None})
    found = await asyncio.to_thread(inventory.job_targets, only)
    return found[0] if found else target


async def _check(cfg: JobConfig, target: Target, runner: JobRunner, covered: bool) -> CheckOutcome:
    job = cfg.name if covered else None
    aimed = _ELSEWHERE.get(cfg.kind)
    if aimed is not None and aimed(cfg.params):
        error = f"not run: this {cfg.kind} check is aimed elsewhere than {target.address}"
        return CheckOutcome(job=job, kind=cfg.kind, status="skipped", error=error)
    result = await runner.check_once(cfg, target)
    return CheckOutcome(
        job=job,
        kind=cfg.kind,
        status=str(result.status),
        error=result.error,
        metrics=dict(result.metrics),
        details=dict(result.details),
    )


__all__ = ["DEFAULT_KIND", "CheckOutcome", "TestReport", "test_target"]
