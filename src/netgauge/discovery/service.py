"""Discovery sweeps as background tasks, and accepting what they propose.

One sweep at a time per server (a second is a ConflictError while one runs); each runs as
an asyncio task and is read while it runs. Only the newest :data:`KEEP` sweeps are kept, in
memory: a restart or a sixth sweep forgets the oldest (its proposals were only proposals;
what was accepted is in the inventory). Accepting creates the chosen targets and their
check jobs in one transaction (``Inventory.add_targets_with_checks``), all or nothing, and
hands the new jobs to the scheduler.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from netgauge.config.model import JobConfig, TargetConfig
from netgauge.discovery.identify import HostFacts, Known, describe
from netgauge.discovery.model import (
    AcceptAnswer,
    AcceptIn,
    DiscoverIn,
    FoundHost,
    Made,
    Override,
    Progress,
    SweepPublic,
)
from netgauge.discovery.sweep import (
    MAX_ADDRESSES,
    NetworkProber,
    Prober,
    SweepOptions,
    run_sweep,
    snmp_version,
    sweep_addresses,
)
from netgauge.errors import ConflictError, ForbiddenError, InventoryError, NotFoundError
from netgauge.inventory import Inventory
from netgauge.inventory.checks import CheckIn, check_job
from netgauge.models import CredentialRef
from netgauge.pollers.jobs import snmp_credentials, ssh_credentials
from netgauge.pollers.secrets import SecretMissingError
from netgauge.pollers.snmp_profiles import Profile, load_profiles

log = structlog.get_logger(__name__)

KEEP = 5  # sweeps kept in memory, newest first
_SWEEP_KINDS = ("snmp", "ssh")
_ENTRY = re.compile(r"^\[(\d+)\] (.*)$", re.DOTALL)


@dataclass
class Sweep:
    """One sweep: its request, where it is, what it found."""

    id: str
    request: DiscoverIn
    cidr: str
    total: int
    by: str
    started_at: datetime
    state: Literal["running", "done", "failed"] = "running"
    stage: str = "queued"
    done: int = 0
    finished_at: datetime | None = None
    error: str | None = None
    found: dict[str, FoundHost] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def public(self) -> SweepPublic:
        r = self.request
        return SweepPublic(
            id=self.id,
            state=self.state,
            cidr=self.cidr,
            credentials=list(r.credentials),
            snmp=r.snmp,
            ssh=r.ssh,
            site=r.site,
            tags=list(r.tags),
            started_at=self.started_at,
            finished_at=self.finished_at,
            by=self.by,
            error=self.error,
            progress=Progress(done=self.done, total=self.total, stage=self.stage),
            found=sorted(self.found.values(), key=lambda h: ipaddress.ip_address(h.address)),
            accepted=list(self.accepted),
        )

    def on_progress(self, stage: str, done: int) -> None:
        self.stage, self.done = stage, done


def _now() -> datetime:
    return datetime.now(UTC)


class DiscoveryManager:
    """Runs sweeps (one at a time), keeps the newest few, accepts their proposals."""

    def __init__(
        self,
        inventory: Inventory,
        reload_jobs: Callable[[], Awaitable[None]],
        *,
        options: SweepOptions | None = None,
        prober: Callable[[SweepOptions], Prober] | None = None,
        profiles: dict[str, Profile] | None = None,
        max_addresses: int = MAX_ADDRESSES,
        keep: int = KEEP,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self.inventory, self._reload_jobs = inventory, reload_jobs
        self.options = options or SweepOptions()
        self._prober = prober or NetworkProber
        self._profiles = profiles
        self.max_addresses, self.keep, self._now = max_addresses, keep, now
        self._sweeps: dict[str, Sweep] = {}  # oldest first
        self._lock = asyncio.Lock()  # accepts one at a time: the same host twice is refused

    async def start(self, body: DiscoverIn, actor: str) -> SweepPublic:
        """Start a sweep (409 while one runs; 422 naming the field for a bad request)."""
        running = next((s for s in self._sweeps.values() if s.state == "running"), None)
        if running is not None:
            raise ConflictError(
                f"a sweep is running already (id {running.id}, {running.cidr}): one at a time; "
                "wait for it to finish"
            )
        addresses = sweep_addresses(body.cidr, self.max_addresses)
        refs = await asyncio.to_thread(self._refs, body)
        cidr = str(ipaddress.ip_network(body.cidr.strip(), strict=False))
        sweep = Sweep(secrets.token_hex(6), body, cidr, len(addresses), actor, self._now())
        self._sweeps[sweep.id] = sweep
        self._forget_old()
        sweep.task = asyncio.create_task(self._run(sweep, addresses, refs), name="discovery")
        log.info("discovery.started", id=sweep.id, cidr=cidr, by=actor, addresses=len(addresses))
        return sweep.public()

    def get(self, sweep_id: str) -> SweepPublic:
        """A sweep kept in memory (404 once forgotten)."""
        return self._sweep(sweep_id).public()

    def sweeps(self) -> list[SweepPublic]:
        """The sweeps kept, newest first."""
        return [s.public() for s in reversed(self._sweeps.values())]

    async def close(self) -> None:
        """Stop a running sweep (the service is stopping)."""
        tasks = [s.task for s in self._sweeps.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _sweep(self, sweep_id: str) -> Sweep:
        sweep = self._sweeps.get(sweep_id)
        if sweep is None:
            raise NotFoundError(
                f"sweep {sweep_id!r} not found (only the newest {self.keep} are kept, in "
                "memory until a restart)"
            )
        return sweep

    def _forget_old(self) -> None:
        while len(self._sweeps) > self.keep:
            oldest = next(s for s in self._sweeps.values())
            if oldest.state == "running":
                break
            del self._sweeps[oldest.id]

    def _refs(self, body: DiscoverIn) -> list[CredentialRef]:
        """(In a thread.) The chosen entries, checked: known, of a kind a sweep tries."""
        if body.site is not None:
            try:
                self.inventory.get_site(body.site)
            except NotFoundError:
                raise InventoryError(f"site: unknown site {body.site!r}") from None
        refs = self.inventory.credential_refs()
        for i, name in enumerate(body.credentials):
            ref = refs.get(name)
            if ref is None:
                raise InventoryError(f"credentials.{i}: unknown credentials {name!r}")
            if ref.kind not in _SWEEP_KINDS:
                raise InventoryError(
                    f"credentials.{i}: {name!r} are {ref.kind} credentials; a sweep tries "
                    "snmp and ssh ones"
                )
            _opens(ref, i)
        return [refs[name] for name in dict.fromkeys(body.credentials)]

    async def _run(self, sweep: Sweep, addresses: list[str], refs: list[CredentialRef]) -> None:
        r = sweep.request
        prober = self._prober(self.options)
        try:
            facts = await run_sweep(
                addresses, refs, prober, snmp=r.snmp, ssh=r.ssh, site=r.site, tags=r.tags,
                concurrency=self.options.concurrency, progress=sweep.on_progress,
            )  # fmt: skip
            sweep.found = await asyncio.to_thread(self._describe, facts, r)
            sweep.state, sweep.stage = "done", "done"
        except asyncio.CancelledError:
            sweep.state, sweep.error = "failed", "stopped: the server is stopping"
            raise
        except Exception as exc:  # a sweep that cannot run says why; the server goes on
            log.exception("discovery.failed", id=sweep.id)
            sweep.state, sweep.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            sweep.finished_at = self._now()
            close = getattr(prober, "close", None)
            if close is not None:
                await close()
        log.info("discovery.done", id=sweep.id, found=len(sweep.found), state=sweep.state)

    def _describe(self, facts: Sequence[HostFacts], r: DiscoverIn) -> dict[str, FoundHost]:
        """(In a thread.) Each host's identity and proposal, against the inventory now."""
        if self._profiles is None:
            self._profiles = load_profiles()
        known = Known.of(self.inventory.target_addresses())
        taken: set[str] = set()
        return {
            f.address: describe(f, self._profiles, known, taken, site=r.site, tags=r.tags)
            for f in facts
        }

    async def accept(self, sweep_id: str, body: AcceptIn, actor: str) -> AcceptAnswer:
        """Add the chosen found hosts with their checks (the admin's overrides applied), all
        or nothing; the jobs start at once."""
        async with self._lock:
            sweep = self._sweep(sweep_id)
            if sweep.state != "done":
                raise ConflictError(f"sweep {sweep_id} is {sweep.state}: accept a finished one")
            hosts = _chosen(sweep, body)
            entries = [_entry(h, body.overrides.get(h.address)) for h in hosts]
            add = self.inventory.add_targets_with_checks
            try:
                jobs = await asyncio.to_thread(add, entries, actor, admin=True)
            except (InventoryError, ForbiddenError) as exc:
                raise _naming_address(exc, hosts) from exc
            await self._reload_jobs()
            made = []
            for host, (cfg, checks) in zip(hosts, entries, strict=True):
                sweep.accepted.append(host.address)
                host.exists, host.existing, host.name = True, cfg.name, cfg.name
                made.append(
                    Made(name=cfg.name, address=cfg.address, checks=[j.kind for j in checks])
                )
            log.info("discovery.accepted", id=sweep.id, targets=len(made), jobs=jobs, by=actor)
            return AcceptAnswer(targets=made, jobs=jobs)


def _opens(ref: CredentialRef, index: int) -> None:
    """The entry gives what its kind needs (a community or v3 user; an SSH user), now, not
    as a failure at every address."""
    try:
        if ref.kind == "snmp":
            snmp_credentials(ref, snmp_version(ref))
        else:
            ssh_credentials(ref)
    except (SecretMissingError, ValueError) as exc:
        raise InventoryError(f"credentials.{index}: {exc}") from None


def _chosen(sweep: Sweep, body: AcceptIn) -> list[FoundHost]:
    """The found hosts named by ``body`` (each known, not added before, once)."""
    hosts: list[FoundHost] = []
    for i, text in enumerate(body.addresses):
        address = _canonical(text)
        host = sweep.found.get(address)
        if host is None:
            raise InventoryError(
                f"addresses.{i}: {text} is not among the hosts sweep {sweep.id} found"
            )
        if address in sweep.accepted:
            raise ConflictError(f"addresses.{i}: {address} was added from this sweep already")
        if host in hosts:
            raise InventoryError(f"addresses.{i}: {address} is named twice")
        hosts.append(host)
    chosen = {h.address for h in hosts}
    for text in body.overrides:
        if _canonical(text) not in chosen:
            raise InventoryError(f"overrides.{text}: not among the addresses to add")
    body.overrides = {_canonical(k): v for k, v in body.overrides.items()}
    return hosts


def _canonical(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return text


def _entry(host: FoundHost, override: Override | None) -> tuple[TargetConfig, list[JobConfig]]:
    """The target and jobs of one accepted host."""
    fields: dict[str, Any] = host.proposal.target.model_dump()
    if override is not None and override.name:
        fields["name"] = override.name
    cfg = TargetConfig.model_validate(fields)
    checks = host.proposal.checks
    if override is not None:
        for key in ("interfaces", "disks"):
            if getattr(override, key) is not None and not any(key in c.params for c in checks):
                raise InventoryError(
                    f"overrides.{host.address}.{key}: no check of this host selects {key} "
                    "(only device polls that take a selection do)"
                )
        checks = [_overridden(c, override) for c in checks]
    return cfg, [check_job(cfg.name, j, check) for j, check in enumerate(checks)]


def _overridden(check: CheckIn, override: Override) -> CheckIn:
    """``check`` with the admin's interface and disk selections, where it takes them."""
    params = dict(check.params)
    for key in ("interfaces", "disks"):
        chosen = getattr(override, key)
        if chosen is not None and key in params:
            params[key] = chosen.model_dump(mode="json")
    return check.model_copy(update={"params": params})


def _naming_address(exc: Exception, hosts: Sequence[FoundHost]) -> Exception:
    """The inventory's ``[i] field: message`` as ``addresses.i: <address>: field: message``."""
    found = _ENTRY.match(str(exc))
    if found is None or int(found.group(1)) >= len(hosts):
        return exc
    i = int(found.group(1))
    return type(exc)(f"addresses.{i}: {hosts[i].address}: {found.group(2)}")


__all__ = ["KEEP", "DiscoveryManager", "Sweep"]
