"""The running service: inventory, scheduler, runner, writer and stores, started/stopped together.

The API, the CLI and the web console call this object; none talks to a backend directly.
Routes and pages use its methods (the section "what routes and pages read" below) and its
application services (``live``, ``accounts``, ``alerting``, ``credentials``, ``discovery``,
``audit``, ``inventory``), never its domain parts (``status``, ``devices``, ``runner``,
``writer``, ``scheduler``, ``store``, ``throttle``): tests/unit/test_layers.py checks it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from netgauge.alerting.model import TargetInfo
from netgauge.alerting.service import Alerting
from netgauge.alerting.store import AlertStore
from netgauge.analytics.health_service import HealthScores
from netgauge.analytics.impact_service import ImpactAnalysis
from netgauge.analytics.lake_service import LakeRunner
from netgauge.analytics.recorder import AnalyticsRecorder
from netgauge.analytics.risk_service import risk_for
from netgauge.audit import AuditLog
from netgauge.auth.accounts import FIRST_ADMIN, Accounts
from netgauge.auth.passwords import INSECURE_TEST_PROFILE, PasswordPool, argon2_profile
from netgauge.auth.roles import Principal
from netgauge.auth.secret import signing_key
from netgauge.auth.throttle import LoginThrottle
from netgauge.clock import Clock, SystemClock
from netgauge.collectors.hub import CollectorHub
from netgauge.config.defaults import DEFAULTS_SOURCE
from netgauge.config.model import ConfigFile, JobConfig
from netgauge.config.schedules import ScheduleConfig
from netgauge.config.settings import Settings
from netgauge.coordination.leader import Leadership, StartupLock
from netgauge.credentials import vault
from netgauge.credentials.manage import CredentialsManager
from netgauge.credentials.vault import Vault, VaultError
from netgauge.datadir import private_dir, private_file
from netgauge.discovery import DiscoveryManager
from netgauge.errors import NotFoundError
from netgauge.inventory import Inventory, make_engine, migrate, seed_builtin, sync_inventory
from netgauge.inventory.cluster import record_leader
from netgauge.inventory.repository import job_config, schedule_config
from netgauge.limits import RateLimiter
from netgauge.models import ProbeResult, Target, TargetType
from netgauge.pollers.agent import AgentIngest
from netgauge.pollers.jobs import REJECTIONS
from netgauge.pollers.readings import DeviceState
from netgauge.runner import JobRunner
from netgauge.runner.test_now import TestReport, test_target
from netgauge.scheduler.loop import Scheduler
from netgauge.scheduler.of_config import schedule_of, window_of
from netgauge.schedules import Calendar, Calendars
from netgauge.status import StatusTracker, TargetState
from netgauge.status.devices import DeviceStates
from netgauge.status.fold import ResultFolder
from netgauge.status.hysteresis import Thresholds
from netgauge.status.live import LiveStates
from netgauge.storage import BatchWriter
from netgauge.storage.base import Aggregation, LatestValue, Point, SinkHealth
from netgauge.storage.factory import build_stores, query_store
from netgauge.storage.spool import DiskSpool
from netgauge.storage.writer import Loss

log = structlog.get_logger(__name__)
AGENT_CHECK_S = 30.0  # how often silent push agents are looked for
HOUSEKEEPING_S = 3600.0  # how often job runs past their retention are deleted


@dataclass
class Service:
    """Owns every long-lived component of one netgauge process."""

    settings: Settings
    config: ConfigFile
    config_source: str = DEFAULTS_SOURCE
    clock: Clock = field(default_factory=SystemClock)

    def __post_init__(self) -> None:
        self.started = False
        self.start_error: str | None = None
        self._scheduler_task: asyncio.Task[None] | None = None
        self._agents_task: asyncio.Task[None] | None = None
        self._housekeeping_task: asyncio.Task[None] | None = None
        self.lake = LakeRunner(self.settings, self.clock.sleep)  # the data lake: schedule, status
        self._lake_task: asyncio.Task[None] | None = None
        self._led = False  # this process did the leader's work (and must stop it)

    async def start(self) -> None:
        """Migrate, sync the file into the inventory, open the store, start scheduling."""
        s = self.settings
        private_dir(s.data_dir)
        if s.database_url is None:  # the default SQLite inventory, in the data directory
            private_file(s.data_dir / "inventory.db")
        self.engine = make_engine(s.inventory_url())
        turn = StartupLock(s.database_url)  # peers on one PostgreSQL: one at a time
        await asyncio.to_thread(turn.acquire)
        try:
            await self._prepare_inventory()
        finally:
            await asyncio.to_thread(turn.release)
        self.stores = build_stores(s, s.metrics_path())
        self.store = query_store(s, self.stores)  # answers the API's metric queries
        # every store but the embedded one spools what it cannot take (the embedded store is
        # on this disk already: a spool beside it would fail with it)
        spools = {
            store.name: DiskSpool(
                s.data_dir / "spool" / f"{store.name}.db",
                max_bytes=s.spool_max_mb * 1024 * 1024,
                policy=s.spool_policy,
            )
            for store in self.stores[1:]
        }
        self.writer = BatchWriter(
            self.stores,
            spools=spools,
            batch_size=s.write_batch_size,
            flush_interval_s=s.write_flush_interval_s,
            clock=self.clock,
        )
        self.writer.start()
        self.status = StatusTracker()
        self.devices = DeviceStates(
            Thresholds(
                fail_after=s.device_fail_after,
                recover_after=s.device_recover_after,
                flap_changes=s.device_flap_changes,
                flap_window_s=s.device_flap_window_s,
            ),
            self.inventory.record_device_transition,
        )
        # the one reading of a target's live state (routes, pages, exports, alert rules)
        self.live = LiveStates(self.status, self.devices)
        self.risk = risk_for(self)  # failure risk, trained on this fleet's history on request
        self.calendars = Calendars()
        await self.reload_calendars()
        self.alerting = Alerting(
            self.config.alerts,
            self.config.notifiers,
            AlertStore(self.engine),
            self.clock,
            state_of=self.state_of,
            muted=self.calendars.muted,
            load_targets=self._target_infos,
            external_url=s.external_url,
            give_up_s=s.notification_give_up_s,
            flap_window_s=s.alert_flap_window_s,
            default_gap=s.default_gap_alert,
            points=self.store.points,
            problems=self._health_problems,
        )
        # the one step every result takes, polled or pushed: stored, states, alert rules
        self.folder = ResultFolder(self.writer, self.status, self.devices, self.alerting)
        self.agents = AgentIngest(
            self.inventory,
            self.writer,
            self.status,
            self.devices,
            rejections=REJECTIONS,
            silent_after_s=s.agent_silent_after_s,
            stored_series=self.store.series,
            max_series=s.ingest_max_series_per_device,
            folder=self.folder,
        )
        # remote collectors: their syncs and results, and which targets are the central's
        self.collectors = CollectorHub(
            self.inventory, self.folder, self.writer,
            poll_s=s.collector_poll_s, dead_after_s=s.collector_dead_after_s, clock=self.clock,
        )  # fmt: skip
        self.runner = JobRunner(
            self.inventory,
            self.writer,
            self.status,
            max_concurrency=s.max_concurrency,
            default_timeout_s=s.default_timeout_s,
            clock=self.clock,
            devices=self.devices,
            kind_concurrency=s.kind_concurrency,
            folder=self.folder,
            calendars=self.calendars,
            placement=self.collectors.placement,
        )
        self.scheduler = Scheduler(
            self._execute, self.runner.record_skip, self.clock, stop_grace_s=s.shutdown_grace_s
        )
        await self.reload_jobs()
        self.discovery = DiscoveryManager(
            self.inventory, self.reload_jobs, max_addresses=s.discovery_max_addresses
        )
        self.health_scores = HealthScores(
            self.points, self.series, self.inventory, self.writer.submit, self.clock
        )
        self.recorder = AnalyticsRecorder(  # stored history of anomalies, risk, forecasts
            self.points, self.series, self.inventory, self.risk, self.writer.submit, self.clock,
            s.analytics_record_interval_s,
        )  # fmt: skip
        self.impact = ImpactAnalysis(self.points, self.inventory, self.clock)
        # the rest is the leader's: one process of those sharing a PostgreSQL inventory
        self.leadership = Leadership(s.database_url, retry_s=s.leader_retry_s)
        self.started = True
        await self.leadership.start(self._lead)

    async def _prepare_inventory(self) -> None:
        """Migrate, create the first admin, sync the config file (one process at a time)."""
        s = self.settings
        await asyncio.to_thread(migrate, self.engine)
        self.inventory = Inventory(self.engine, s.file_policy())
        await self._start_auth()
        if self.config_source == DEFAULTS_SOURCE:  # no file: this host, on a first start
            report = await asyncio.to_thread(seed_builtin, self.inventory, self.config, "builtin")
        else:
            report = await asyncio.to_thread(
                sync_inventory, self.inventory, self.config, f"yaml:{self.config_source}"
            )
        log.info(
            "inventory.synced",
            source=self.config_source,
            created=report.created,
            updated=report.updated,
            deleted=report.deleted,
            kept=len(report.kept),
        )
        resealed = await asyncio.to_thread(self._reseal)
        if resealed:
            log.warning("credentials.resealed", count=resealed, detail="under the new secret key")
        if report.kept:
            log.info(
                "inventory.kept_undeclared",
                detail="the file does not declare these; `owns: all` in it would delete them",
                entities=[f"{kind} {name} ({source})" for kind, name, source in report.kept][:50],
            )

    @property
    def leading(self) -> bool:
        """Whether this process schedules, evaluates rules and folds pushed results."""
        return self.started and self.leadership.leading

    async def _lead(self) -> None:
        """Become the process that schedules checks, evaluates and notifies, and records the
        health and analytics series (at start, or when elected: see coordination/leader.py)."""
        if self.leadership.role == "leader":  # the standbys forward requests here
            url = self.settings.peer_url()
            await asyncio.to_thread(record_leader, self.inventory, url, os.getpid())
        # runs a stopped (or killed) leader left open: never a live leader's (a standby
        # starting meanwhile must not close those)
        dangling = await asyncio.to_thread(self.inventory.close_dangling_runs)
        if dangling:
            log.warning("runs.closed_dangling", count=dangling)
        # devices keep their decided states across a restart or a switch of leaders: an
        # offline device is not undecided (and its alert not ended) until it fails again
        since = self.clock.now() - timedelta(seconds=self.settings.device_flap_window_s)
        stored = await asyncio.to_thread(self.inventory.device_states_now, since)
        resumed = self.devices.resume(stored)
        if resumed:
            log.info("devices.resumed", count=resumed)
        await self.alerting.start()  # persisted rule states: no one is told twice
        # planned from now: a standby's plan is as old as its start, and its overdue ticks
        # (run by the old leader) would fire at once, each a second run of its slot
        s = self.settings
        self.scheduler = Scheduler(
            self._execute, self.runner.record_skip, self.clock, stop_grace_s=s.shutdown_grace_s
        )
        await self.reload_jobs()
        self.health_scores.start()
        self.recorder.start()
        self._scheduler_task = asyncio.create_task(self.scheduler.run(), name="netgauge-scheduler")
        self._agents_task = asyncio.create_task(self._watch_agents(), name="netgauge-agents")
        self._housekeeping_task = asyncio.create_task(
            self._housekeep(), name="netgauge-housekeeping"
        )
        if self.lake.enabled:
            self._lake_task = asyncio.create_task(self.lake.loop(), name="netgauge-lake")
        self._led = True

    async def _execute(self, job: str, scheduled_at: datetime) -> None:
        await self.runner.execute(job, scheduled_at)

    async def reload_jobs(self) -> None:
        """Hand the inventory's current jobs to the scheduler (after any job change)."""
        rows = await asyncio.to_thread(self.inventory.list_jobs)
        self.collectors.changed()  # their assignments follow
        schedules = []
        for row in rows:
            try:
                schedules.append(schedule_of(job_config(row)))
            except ValueError as exc:  # one bad stored job must not stop the others
                log.error("job.invalid", job=row.name, error=str(exc))
        self.scheduler.set_jobs(schedules)
        for gone in set(self.status.jobs()) - {row.name for row in rows}:
            self.status.forget_job(gone)

    async def calendar_of(self, site: str) -> tuple[Calendar, str | None]:
        """The calendar of ``site`` (open around the clock without a schedule) and the
        name of its schedule."""
        row = await asyncio.to_thread(self.inventory.get_site, site)
        spec = ScheduleConfig(name="always-open")
        if row.schedule is not None:
            stored = await asyncio.to_thread(self.inventory.get_schedule, row.schedule)
            spec = schedule_config(stored)
        return Calendar(spec, row.timezone), row.schedule

    async def reload_calendars(self) -> None:
        """Read the sites' schedules again (after a site or schedule changed)."""
        schedules, sites = await asyncio.to_thread(self.inventory.site_calendars)
        self.calendars.set(schedules, sites)

    async def run_now(self, job: str) -> bool:
        """Run ``job`` at once; False when a run of it is already going."""
        self.runner.mark_manual(job)
        try:
            started = await self.scheduler.run_now(job)
        except KeyError:
            self.runner.unmark_manual(job)
            raise NotFoundError(f"job {job!r} not found") from None
        if not started:
            self.runner.unmark_manual(job)
        return started

    async def test_target(self, name: str) -> TestReport:
        """Test now: ``name``'s checks run once, nothing stored (see runner/test_now.py)."""
        return await test_target(self.inventory, self.runner, name)

    def state_of(self, target: str) -> str | None:
        """One target's live state (``status.live``), None while unknown: what alert rules
        read."""
        return self.live.known(target)

    def _target_infos(self) -> list[TargetInfo]:
        """(In a thread.) The inventory's targets as alert rules see them."""
        return [
            TargetInfo(name, TargetType(kind), site, tuple(tags), parent)
            for name, kind, site, tags, parent in self.inventory.target_placements()
        ]

    def next_runs(self) -> dict[str, datetime | None]:
        """Next scheduled run per job name."""
        return {j.name: j.next_due for j in self.scheduler.status().jobs}

    async def _watch_agents(self) -> None:
        """Every AGENT_CHECK_S, a silent push agent is a failed check of its device."""
        await self.agents.resume()
        while True:
            await self.clock.sleep(AGENT_CHECK_S)
            try:
                await self.agents.check_silent(self.settings.agent_silent_after_s)
            except Exception:  # a bug here must not stop the watch, nor the service
                log.exception("agents.watch_failed")

    async def _housekeep(self) -> None:
        """At start and then hourly: job runs older than ``run_retention_days`` go; from the
        first hour on, the failure-risk model is retrained once stale."""
        for passes in itertools.count():
            if passes:  # not at start: the history is read when the first hour has passed
                await self.risk.refresh()
            cutoff = self.clock.now() - timedelta(days=self.settings.run_retention_days)
            try:
                removed = await asyncio.to_thread(self.inventory.expire_runs, cutoff)
                if removed:
                    log.info("runs.expired", runs=removed, before=cutoff.isoformat())
            except Exception:  # housekeeping must never take the service down
                log.exception("runs.expiry_failed")
            await self.clock.sleep(HOUSEKEEPING_S)

    async def stop(self) -> None:
        """Stop scheduling, let runs finish, flush every pending sample, close everything."""
        if not self.started:
            return
        self.started = False
        await self.leadership.stop()
        await self.scheduler.stop()
        await self.discovery.close()
        for task in (self._agents_task, self._housekeeping_task, self._lake_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._scheduler_task is not None:
            await asyncio.gather(self._scheduler_task, return_exceptions=True)
        await self.health_scores.stop()
        await self.recorder.stop()
        await self.runner.close()
        if self._led:  # a standby's rule states are not the truth: the leader's are kept
            await self.alerting.stop()
        await self.writer.close(timeout_s=self.settings.shutdown_grace_s)
        for store in self.stores:
            await store.close()
        await self.audit.stop()
        self.passwords.close()
        self.engine.dispose()
        log.info("service.stopped", samples_accepted=self.writer.accepted)

    def _reseal(self) -> int:
        """Stored secrets still sealed under a previous key, re-sealed under the current one
        (a secret none of the keys opens stays as it is: its checks say so)."""
        v = self.vault

        def again(sealed: str) -> str | None:
            if v.is_current(sealed):
                return None
            try:
                return v.reseal(sealed)
            except VaultError:
                return None

        return self.inventory.reseal_credentials(again)

    async def _start_auth(self) -> None:
        """Accounts, the token signing key, the login throttle; the first admin on first start
        (a generated password is printed once, to the terminal, never to the log)."""
        s = self.settings
        self.accounts = Accounts(self.inventory)
        self.audit = AuditLog(
            self.inventory,
            {
                "requests": s.audit_request_retention_days,
                "errors": s.audit_error_retention_days,
                "activity": s.audit_activity_retention_days,
            },
        )
        self.audit.start()
        self.signing_key = signing_key(s.secret_key, s.secret_key_file, s.data_dir)
        # stored credentials are sealed under the same key (and opened by the previous
        # ones until the start below re-seals them: key rotation)
        self.vault = Vault([self.signing_key, *s.previous_keys()])
        vault.install(self.vault)
        self.credentials = CredentialsManager(self.inventory, self.vault)
        self.throttle = LoginThrottle(s.login_max_failures, lockout_s=s.login_lockout_s)
        self.passwords = PasswordPool(s.login_workers or None)
        if argon2_profile() == INSECURE_TEST_PROFILE:
            log.warning(
                "auth.argon2_insecure", detail="password hashes at minimum cost: tests only"
            )
        per_minute = s.activity_per_minute
        self.activity_limit = RateLimiter(per_minute / 60.0, burst=per_minute)
        given, _variable = s.given_admin_password()
        generated = await asyncio.to_thread(self.accounts.ensure_first_admin, given)
        if generated is not None:
            print(  # noqa: T201 - shown once to whoever started netgauge, on purpose not logged
                f"netgauge: created the first admin, user {FIRST_ADMIN!r}, password {generated}"
                " (shown once: change it, or set NETGAUGE_ADMIN_PASSWORD before the first start)",
                file=sys.stderr,
                flush=True,
            )
            log.info("auth.first_admin_created", user=FIRST_ADMIN, password="(shown once)")

    async def health(self) -> dict[str, Any]:
        """Scheduler, stores and last write, for /api/v1/health."""
        sched = self.scheduler.status()
        stores = [await each.health() for each in self.stores]
        store = stores[0]  # the embedded one: the service needs it; the others are extra
        # one reading of each spool for both its own figures and the pending count: a spool
        # written by its thread between two readings would show bytes but no samples
        spooled = self.writer.spooled()
        pending = {
            name: queued + (spooled[name].samples if name in spooled else 0)
            for name, queued in self.writer.queued().items()
        }
        dropped = self.writer.dropped()
        refusals = self.writer.refusals()
        succeeded = self.writer.last_success()
        failing, losses = self.writer.failing(), self.writer.losses()
        verdicts = {h.name: self._store_state(h, failing, losses) for h in stores}
        scheduling = sched.running or not self.leading  # a standby schedules nothing
        healthy = self.started and scheduling and all(v[0] == "ok" for v in verdicts.values())
        return {
            "status": "ok" if healthy else "degraded",
            "role": self.leadership.role,  # single | leader | standby
            "scheduler": {
                "running": sched.running,
                "jobs": sched.job_count,
                "in_flight": list(sched.in_flight),
                "runs_started": self.runner.runs_started,
            },
            "stores": [
                {
                    "name": h.name,
                    # ok | degraded (lost samples lately) | down (unreachable, writes failing)
                    "state": verdicts[h.name][0],
                    # what kind of problem, in words that name no host: unreachable,
                    # permission_denied, writes_failing, samples_lost (None when ok)
                    "cause": verdicts[h.name][1],
                    "reason": verdicts[h.name][2],  # the store's own words (details only)
                    "reachable": h.reachable,
                    "samples_written": h.samples_written,
                    "last_write_ns": h.last_write_ns,  # the newest sample it holds
                    "last_success_ns": succeeded.get(h.name),  # when it last took a batch
                    "pending": pending.get(h.name, 0),
                    "dropped": dropped.get(h.name, 0),
                    # samples it could not carry (part of dropped), by reason
                    "refused": refusals.get(h.name, {}),
                    "error": h.error,
                    "answers_queries": h.name == self.store.name,
                    "spool": (
                        {
                            "batches": spooled[h.name].batches,
                            "samples": spooled[h.name].samples,
                            "bytes": spooled[h.name].bytes,
                            "dropped_samples": spooled[h.name].dropped_samples,
                        }
                        if h.name in spooled
                        else None
                    ),
                }
                for h in stores
            ],
            "last_write_ns": store.last_write_ns,
            # device samples refused by validation, by reason (never stored, never silent)
            "rejected_samples": REJECTIONS.counts(),
            "lake": self.lake.health(),
        }

    def _store_state(
        self, h: SinkHealth, failing: dict[str, str], losses: dict[str, Loss]
    ) -> tuple[str, str | None, str | None]:
        """(state, cause, reason) of one store. A ping that answers is not enough: a store whose
        writes fail (a user without WRITE) is down, and one that lost samples within
        ``store_degraded_for_s`` is degraded, with the newest reason."""
        if not h.reachable:
            return "down", "unreachable", h.error or "unreachable"
        if h.name in failing:
            error = failing[h.name]
            cause = "permission_denied" if self.writer.denied(h.name) else "writes_failing"
            return "down", cause, f"writes failing, samples wait in the spool: {error}"
        loss = losses.get(h.name)
        window_ns = int(self.settings.store_degraded_for_s * 1e9)
        if loss is not None and self._now_ns() - loss.at_ns <= window_ns:
            when = datetime.fromtimestamp(loss.at_ns / 1e9, UTC).isoformat(timespec="seconds")
            reason = f"{loss.total} samples lost, the last at {when}: {loss.reason}"
            return "degraded", "samples_lost", reason
        return "ok", None, None

    async def _health_problems(self) -> dict[str, dict[str, str]]:
        """netgauge's own problems by kind (store_down, samples_lost) and store."""
        failing, losses = self.writer.failing(), self.writer.losses()
        found: dict[str, dict[str, str]] = {}
        for store in self.stores:
            h = await store.health()
            state, cause, reason = self._store_state(h, failing, losses)
            if state == "down":
                found.setdefault("store_down", {})[h.name] = reason or cause or "down"
            elif state == "degraded":
                found.setdefault("samples_lost", {})[h.name] = reason or "samples lost"
        return found

    # -- what routes and pages read (they call these, never the parts behind them) --------
    async def points(
        self,
        target: str,
        metric: str,
        start_ns: int,
        end_ns: int,
        step_s: float | None = None,
        agg: Aggregation = "avg",
    ) -> list[Point]:
        """One stored series of ``target`` in [start, end), from the store that answers
        queries; with ``step_s``, one ``agg`` point per step."""
        return await self.store.points(target, metric, start_ns, end_ns, step_s, agg)

    async def series(self, target: str | None = None) -> list[tuple[str, str, str]]:
        """(measurement, target, metric) of every stored series (of one target)."""
        return await self.store.series(target)

    async def latest(self, measurement: str) -> list[LatestValue]:
        """The newest stored value of every series of ``measurement``."""
        return await self.store.latest(measurement)

    async def rounds(
        self, target: str, kind: str, start_ns: int, end_ns: int, limit: int
    ) -> list[tuple[int, dict[str, float]]]:
        """Per probe round of ``target``, every stored ``<kind>.*`` metric."""
        return await self.store.rounds(target, kind, start_ns, end_ns, limit)

    def pending_series(self, target: str) -> set[tuple[str, str, str]]:
        """(measurement, target, metric) of ``target``'s samples accepted but not yet
        stored: with :meth:`series`, every series a page may show."""
        return self.writer.pending_series(target)

    def checked(self, target: str) -> TargetState | None:
        """The newest results of ``target``'s checks, None until one ran since the start."""
        return self.status.get(target)

    def all_checked(self) -> list[TargetState]:
        """The newest results of every checked target, by name."""
        return self.status.all()

    def current_metrics(self, target: str) -> set[str] | None:
        """The metrics ``target``'s newest results stored (None before any result since
        the start): the exposition leaves out series no check writes any more."""
        return self.status.current_series(target)

    def forget_target(self, target: str) -> None:
        """Drop what is known live of a target deleted from the inventory."""
        self.status.forget(target)

    def device_states(self) -> dict[str, DeviceState | None]:
        """Every device's decided state (None while undecided), by name."""
        return self.devices.states()

    async def probe(self, cfg: JobConfig, targets: list[Target]) -> list[ProbeResult]:
        """Run ``cfg``'s check once on ``targets`` within the runner's limits; nothing is
        stored."""
        return await self.runner.probe(cfg, targets)

    async def log_in(self, username: str, password: str, address: str) -> Principal | None:
        """The user when the password is right (None when wrong), counted by the login
        throttle per user and address. Raises ``Throttled`` while locked out and
        ``PoolBusy`` when too many passwords are being checked (the attempt is not
        counted then)."""
        attempt = self.throttle.begin(username, address)
        try:
            found = await self.accounts.authenticate(username, password, self.passwords)
        except BaseException:  # undecided (busy, cancelled): its place is given back
            self.throttle.abandoned(attempt)
            raise
        if found is None:
            self.throttle.failed(attempt)
        else:
            self.throttle.succeeded(attempt)
        return found

    def _now_ns(self) -> int:
        return int(self.clock.now().timestamp() * 1e9)


__all__ = ["Service", "schedule_of", "window_of"]
