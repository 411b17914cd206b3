"""Inventory repository: every read and write of sites, targets, jobs, runs and the change log.

All writes record what changed (field → [old, new]) in ``inventory_changes`` with the actor.
Input is the same pydantic models the YAML file uses, so the API and the file obey one set of rules.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import JSON, Engine, Select, String, cast, delete, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from netgauge.config.files import NO_FILES, FilePolicy
from netgauge.config.model import CredentialConfig, JobConfig, SiteConfig, TargetConfig
from netgauge.config.schedules import ScheduleConfig
from netgauge.credentials.scope import operator_refusal, scope_of
from netgauge.errors import ConflictError, ForbiddenError, InventoryError, NotFoundError
from netgauge.inventory.db import session_factory
from netgauge.inventory.readcache import ChangeCounter, ReadCache
from netgauge.inventory.tables import (
    AgentCursor,
    AgentToken,
    Credential,
    DeviceStateChange,
    Event,
    InventoryChange,
    JobRow,
    JobRun,
    JobRunTarget,
    ScheduleRow,
    Site,
    TargetPath,
    TargetRow,
    TargetTag,
    utcnow,
)
from netgauge.models import CredentialRef, Target, TargetType
from netgauge.status.hysteresis import Transition

# per-target outcomes kept per run: every target's of a small run; of a bigger one only its
# failures, up to RUN_TARGETS_KEPT (its successes are the run's counts: a 500-target job each
# minute would otherwise add 720,000 rows a day)
RUN_ALL_OUTCOMES_UP_TO = 50
RUN_TARGETS_KEPT = 500

if TYPE_CHECKING:
    from netgauge.probes.base import ProbeParams

RowT = TypeVar("RowT", Site, Credential, TargetRow, JobRow, ScheduleRow)


@dataclass(frozen=True)
class Page:
    """One page of a listing plus the total count."""

    items: list[Any]
    total: int


@dataclass(frozen=True)
class TargetFilter:
    """Search and filters for the target list (all optional, combined with AND)."""

    q: str | None = None  # substring of name or address, case-insensitive
    tag: str | None = None
    site: str | None = None
    type: TargetType | None = None
    names: Sequence[str] | None = None  # only these (the live-state filter's names)
    exclude: Sequence[str] | None = None  # none of these (the "unknown" live state)


@dataclass(frozen=True, slots=True)
class TargetSummary:
    """A target as lists show it: plain values read in one query, not an ORM entity (a
    page of entities costs several queries and most of a list request's time)."""

    name: str
    address: str
    type: str
    site: str | None
    tags: list[str]
    credentials: str | None
    description: str
    parent: str | None
    source: str
    created_at: datetime
    updated_at: datetime


def summary_of(row: TargetRow) -> TargetSummary:
    """An entity as a list's plain values."""
    return TargetSummary(
        row.name, row.address, row.type, row.site.name if row.site else None, row.tags,
        row.credentials, row.description, row.parent, row.source, row.created_at,
        row.updated_at,
    )  # fmt: skip


def target_fields(row: TargetRow) -> dict[str, Any]:
    """The user-visible fields of a target, as JSON values (what the change log diffs)."""
    return {
        "address": row.address,
        "type": row.type,
        "site": row.site.name if row.site else None,
        "tags": row.tags,
        "credentials": row.credentials,
        "description": row.description,
        "parent": row.parent,
    }


def schedule_config(row: ScheduleRow) -> ScheduleConfig:
    """A stored schedule as the validated config model."""
    return ScheduleConfig.model_validate({"name": row.name, **row.spec})


def job_config(row: JobRow) -> JobConfig:
    """A stored job as the validated config model."""
    return JobConfig.model_validate(
        {
            "name": row.name,
            "kind": row.kind,
            "params": row.params,
            "targets": row.target_names,
            "selector": row.selector,
            "interval": row.interval_s,
            "timeout": row.timeout_s,
            "concurrency": row.concurrency,
            "window": row.window,
            "enabled": row.enabled,
            "run_when": row.run_when,
            "maintenance": row.maintenance,
            "vantage": row.vantage,
            "quorum": row.quorum,
        }
    )


def job_fields(row: JobRow) -> dict[str, Any]:
    """The user-visible fields of a job, as JSON values."""
    return job_config(row).model_dump(mode="json", exclude={"name"})


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}


class Inventory:
    """The inventory store (SQLite or PostgreSQL through SQLAlchemy)."""

    def __init__(self, engine: Engine, files: FilePolicy | None = None) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)
        # the files jobs may name (None: no path a job names is allowed but the defaults)
        self.files = files if files is not None else NO_FILES
        # pages of the target list, until targets, their tags or sites change (readcache)
        changes = ChangeCounter(self._sessions, frozenset({"targets", "target_tags", "sites"}))
        self._target_pages: ReadCache[Page] = ReadCache(changes)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commit on success, roll back on error, integrity errors translated."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except IntegrityError as exc:
                session.rollback()
                raise ConflictError(f"conflicts with existing data: {exc.orig}") from exc
            except BaseException:
                session.rollback()
                raise

    # -- change log -----------------------------------------------------------------------
    @staticmethod
    def _log(
        s: Session, kind: str, name: str, action: str, changes: dict[str, Any], actor: str
    ) -> None:
        if action != "update" or changes:
            s.add(
                InventoryChange(
                    entity_type=kind,
                    entity_name=name,
                    action=action,
                    changes=changes,
                    actor=short_actor(actor),
                )
            )

    record_change = _log  # for the other owners of inventory tables (auth.accounts)

    def list_changes(
        self,
        entity_type: str | None = None,
        name: str | None = None,
        limit: int = 100,
        types: Collection[str] | None = None,
    ) -> list[InventoryChange]:
        """Newest changes first, optionally for one entity, or of ``types`` only."""
        stmt = select(InventoryChange).order_by(InventoryChange.id.desc()).limit(limit)
        if entity_type:
            stmt = stmt.where(InventoryChange.entity_type == entity_type)
        if types is not None:
            stmt = stmt.where(InventoryChange.entity_type.in_(list(types)))
        if name:
            stmt = stmt.where(InventoryChange.entity_name == name)
        with self.session() as s:
            return list(s.scalars(stmt))

    # -- generic helpers ------------------------------------------------------------------
    @staticmethod
    def _get(s: Session, model: type[RowT], name: str) -> RowT:
        row = s.scalars(select(model).where(model.name == name)).one_or_none()
        if row is None:
            raise NotFoundError(f"{model.__tablename__[:-1]} {name!r} not found")
        return row

    @staticmethod
    def _find(s: Session, model: type[RowT], name: str) -> RowT | None:
        return s.scalars(select(model).where(model.name == name)).one_or_none()

    # -- sites ------------------------------------------------------------------------------
    def list_sites(self) -> list[Site]:
        """All sites by name."""
        with self.session() as s:
            return list(s.scalars(select(Site).order_by(Site.name)))

    def put_site(self, cfg: SiteConfig, actor: str, source: str = "api") -> Site:
        """Create or update a site."""
        with self.session() as s:
            return self._put_site(s, cfg, actor, source)

    def _put_site(self, s: Session, cfg: SiteConfig, actor: str, source: str) -> Site:
        if cfg.schedule is not None and self._find(s, ScheduleRow, cfg.schedule) is None:
            raise InventoryError(f"schedule: unknown schedule {cfg.schedule!r}")
        row = self._find(s, Site, cfg.name)
        new = {"description": cfg.description, "timezone": cfg.timezone, "schedule": cfg.schedule}
        if row is None:
            row = Site(name=cfg.name, source=source, **new)
            s.add(row)
            self._log(s, "site", cfg.name, "create", _diff({}, new), actor)
        else:
            old = {
                "description": row.description,
                "timezone": row.timezone,
                "schedule": row.schedule,
            }
            row.description, row.timezone, row.source = cfg.description, cfg.timezone, source
            row.schedule = cfg.schedule
            self._log(s, "site", cfg.name, "update", _diff(old, new), actor)
        s.flush()
        return row

    def get_site(self, name: str) -> Site:
        """One site by name."""
        with self.session() as s:
            return self._get(s, Site, name)

    def delete_site(self, name: str, actor: str) -> None:
        """Delete a site that no target uses."""
        with self.session() as s:
            row = self._get(s, Site, name)
            used = s.scalar(select(func.count()).where(TargetRow.site_id == row.id))
            if used:
                raise ConflictError(f"site {name!r} is used by {used} target(s)")
            s.delete(row)
            self._log(s, "site", name, "delete", {}, actor)

    # -- schedules (site calendars) -------------------------------------------------------------
    def list_schedules(self) -> list[ScheduleRow]:
        """All schedules by name."""
        with self.session() as s:
            return list(s.scalars(select(ScheduleRow).order_by(ScheduleRow.name)))

    def get_schedule(self, name: str) -> ScheduleRow:
        with self.session() as s:
            return self._get(s, ScheduleRow, name)

    def put_schedule(self, cfg: ScheduleConfig, actor: str, source: str = "api") -> ScheduleRow:
        """Create or update a schedule."""
        with self.session() as s:
            return self._put_schedule(s, cfg, actor, source)

    def _put_schedule(
        self, s: Session, cfg: ScheduleConfig, actor: str, source: str
    ) -> ScheduleRow:
        row = self._find(s, ScheduleRow, cfg.name)
        new = cfg.model_dump(mode="json", exclude={"name"})
        if row is None:
            row = ScheduleRow(name=cfg.name, source=source, spec=new)
            s.add(row)
            self._log(s, "schedule", cfg.name, "create", _diff({}, new), actor)
        else:
            old = dict(row.spec)
            row.spec, row.source = new, source
            self._log(s, "schedule", cfg.name, "update", _diff(old, new), actor)
        s.flush()
        return row

    def delete_schedule(self, name: str, actor: str) -> None:
        """Delete a schedule no site uses."""
        with self.session() as s:
            row = self._get(s, ScheduleRow, name)
            users = list(s.scalars(select(Site.name).where(Site.schedule == name)))
            if users:
                raise ConflictError(f"schedule {name!r} is used by site(s): {', '.join(users)}")
            s.delete(row)
            self._log(s, "schedule", name, "delete", {}, actor)

    def site_calendars(self) -> tuple[list[ScheduleConfig], list[tuple[str, str, str | None]]]:
        """Every schedule and every site's (name, time zone, schedule): the calendars."""
        with self.session() as s:
            schedules = [schedule_config(r) for r in s.scalars(select(ScheduleRow))]
            sites = [(r.name, r.timezone, r.schedule) for r in s.scalars(select(Site))]
            return schedules, sites

    # -- credentials references -----------------------------------------------------------------
    def put_credential(
        self,
        cfg: CredentialConfig,
        actor: str,
        source: str = "api",
        sealed: Mapping[str, str | None] | None = None,
    ) -> Credential:
        """Create or update a credentials reference; ``sealed`` sets stored secrets (field
        → sealed value; None removes one; fields not named keep theirs)."""
        with self.session() as s:
            return self._put_credential(s, cfg, actor, source, sealed)

    def _put_credential(
        self,
        s: Session,
        cfg: CredentialConfig,
        actor: str,
        source: str,
        sealed: Mapping[str, str | None] | None = None,
    ) -> Credential:
        new = cfg.model_dump(mode="json", exclude={"name"})
        row = self._find(s, Credential, cfg.name)
        old: dict[str, Any] = {}
        if row is None:
            row = Credential(name=cfg.name, source=source, **new)
            s.add(row)
        else:
            old = {
                "kind": row.kind,
                "env": row.env,
                "files": row.files,
                "username": row.username,
                "scope": row.scope,
            }
            row.kind, row.env, row.files = cfg.kind, dict(cfg.env), dict(cfg.files)
            row.username, row.source, row.scope = cfg.username, source, new["scope"]
        changes = _diff(old, new)
        stored = dict(row.sealed or {})
        for key, value in (sealed or {}).items():  # the log says which, never the value
            if value is None and key in stored:
                del stored[key]
                changes[f"secret.{key}"] = ["stored", None]
            elif value is not None:
                changes[f"secret.{key}"] = ["stored" if key in stored else None, "new value"]
                stored[key] = value
        if source == "yaml":  # the file declares the whole credential, its secrets too
            changes.update({f"secret.{key}": ["stored", None] for key in stored})
            stored = {}
        row.sealed = stored or None
        action = "update" if old else "create"
        self._log(s, "credentials", cfg.name, action, changes, actor)
        s.flush()
        return row

    def credential_use(self) -> dict[str, int]:
        """How many targets name each credentials entry."""
        with self.session() as s:
            rows = s.execute(
                select(TargetRow.credentials, func.count())
                .where(TargetRow.credentials.is_not(None))
                .group_by(TargetRow.credentials)
            ).all()
            return {str(name): int(count) for name, count in rows}

    def get_credential(self, name: str) -> Credential:
        with self.session() as s:
            row = self._find(s, Credential, name)
            if row is None:
                raise NotFoundError(f"no credentials named {name!r}")
            return row

    def delete_credential(self, name: str, actor: str) -> None:
        """Delete a credentials reference no target names (ConflictError naming them)."""
        with self.session() as s:
            row = self._find(s, Credential, name)
            if row is None:
                raise NotFoundError(f"no credentials named {name!r}")
            users = sorted(s.scalars(select(TargetRow.name).where(TargetRow.credentials == name)))
            if users:
                raise ConflictError(
                    f"credentials {name!r} are used by target(s) {', '.join(users[:20])}: "
                    "give them other credentials first"
                )
            self._log(s, "credentials", name, "delete", {}, actor)
            s.delete(row)

    def reseal_credentials(self, reseal: Callable[[str], str | None]) -> int:
        """Pass every stored secret through ``reseal`` (its new sealed value, or None when
        it is current already); the number re-sealed. One transaction."""
        count = 0
        with self.session() as s:
            for row in s.scalars(select(Credential).where(Credential.sealed.is_not(None))):
                fresh = {}
                for key, value in (row.sealed or {}).items():
                    new = reseal(value)
                    fresh[key] = new if new is not None else value
                    count += new is not None
                if fresh != row.sealed:
                    row.sealed = fresh
        return count

    def list_credentials(self) -> list[Credential]:
        """All credentials references by name."""
        with self.session() as s:
            return list(s.scalars(select(Credential).order_by(Credential.name)))

    def credential_refs(self) -> dict[str, CredentialRef]:
        """Every credentials entry as the checks use it (references, sealed secrets, scope)."""
        return {row.name: _to_credential_ref(row) for row in self.list_credentials()}

    # -- targets ----------------------------------------------------------------------------
    def target_query(self, f: TargetFilter) -> Select[TargetRow]:
        """Targets matching ``f`` (a query to page, sort or count; the filter rules live here)."""
        stmt = select(TargetRow)
        if f.site:
            stmt = stmt.join(Site, TargetRow.site_id == Site.id)
        return self._filtered(stmt, f)

    def _filtered(self, stmt: _Q, f: TargetFilter) -> _Q:
        """``stmt`` (of targets, joined to their site when ``f.site`` is set) narrowed by
        ``f``."""
        if f.q:
            like = f"%{_escape_like(f.q.lower())}%"
            stmt = stmt.where(
                or_(
                    func.lower(TargetRow.name).like(like, escape="\\"),
                    func.lower(TargetRow.address).like(like, escape="\\"),
                )
            )
        if f.tag:
            has_tag = select(TargetTag.target_id).where(TargetTag.tag == f.tag)
            stmt = stmt.where(TargetRow.id.in_(has_tag))
        if f.site:
            stmt = stmt.where(Site.name == f.site)
        if f.type:
            stmt = stmt.where(TargetRow.type == f.type.value)
        if f.names is not None:
            stmt = stmt.where(TargetRow.name.in_(self._name_set(f.names)))
        if f.exclude:
            stmt = stmt.where(TargetRow.name.not_in(self._name_set(f.exclude)))
        return stmt

    def _name_set(self, names: Sequence[str]) -> list[str] | Select[tuple[str]]:
        """``names`` for ``IN``: bound one by one when few; past _BOUND_NAMES, one JSON
        parameter the database unpacks (SQLite refuses over 32,766 bound values, and
        binding 10,000 is slower than parsing one string)."""
        if len(names) <= _BOUND_NAMES:
            return list(names)
        payload = literal(json.dumps(list(names)), String)
        if self.engine.dialect.name == "postgresql":
            rows = func.json_array_elements_text(cast(payload, JSON)).table_valued("value")
        else:
            rows = func.json_each(payload).table_valued("value")
        return select(rows.c.value)

    def list_targets(
        self, f: TargetFilter | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        """Targets matching ``f``, ordered by name, one page."""
        stmt = self.target_query(f or TargetFilter())
        with self.session() as s:
            total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            rows = s.scalars(stmt.order_by(TargetRow.name).limit(limit).offset(offset)).unique()
            return Page(list(rows), total)

    def list_target_summaries(
        self, f: TargetFilter | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        """Targets matching ``f`` as TargetSummary, ordered by name, one page: the page and
        the total in one statement (a count window), the page's tags in a second. Pages of
        a filter without names are kept until the next change (``readcache``); their
        items are shared: read them, do not change them."""
        f = f or TargetFilter()
        if not _keeps(f):
            return self._read_summaries(f, limit, offset)
        return self._target_pages.get(
            (f, limit, offset), lambda: self._read_summaries(f, limit, offset)
        )

    def peek_target_summaries(
        self, f: TargetFilter | None = None, limit: int = 100, offset: int = 0
    ) -> Page | None:
        """The kept page of :meth:`list_target_summaries` if there is one (no I/O: the
        caller may skip the thread it would read in)."""
        f = f or TargetFilter()
        return self._target_pages.peek((f, limit, offset)) if _keeps(f) else None

    def _read_summaries(self, f: TargetFilter, limit: int, offset: int) -> Page:
        # built from the columns (not over target_query as a subquery: that costs more to
        # construct than the query takes to run), read without the ORM's session
        page = self._filtered(_SUMMARY.outerjoin(Site, Site.id == TargetRow.site_id), f)
        page = page.order_by(TargetRow.name).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            rows = conn.execute(page).all()
            if not rows:  # past the end (or nothing matches): the count alone
                counted = select(func.count()).select_from(TargetRow)
                if f.site:
                    counted = counted.join(Site, TargetRow.site_id == Site.id)
                return Page([], conn.scalar(self._filtered(counted, f)) or 0)
            tags: dict[int, list[str]] = {}
            of_page = select(TargetTag.target_id, TargetTag.tag).where(
                TargetTag.target_id.in_([r[0] for r in rows])
            )
            for target_id, tag in conn.execute(of_page.order_by(TargetTag.tag)):
                tags.setdefault(target_id, []).append(tag)
        items = [TargetSummary(*r[1:5], tags.get(r[0], []), *r[5:11]) for r in rows]  # type: ignore[arg-type]
        return Page(items, rows[0][11])

    def target_placements(self) -> list[tuple[str, str, str | None, list[str], str | None]]:
        """(name, type, site, tags, parent) of every target: what alert rules look at (two
        plain queries, no entities: it is read every 30 s for the whole fleet)."""
        with self.session() as s:
            tags: dict[int, list[str]] = {}
            for target_id, tag in s.execute(
                select(TargetTag.target_id, TargetTag.tag).order_by(TargetTag.tag)
            ):
                tags.setdefault(target_id, []).append(tag)
            rows = s.execute(
                select(TargetRow.id, TargetRow.name, TargetRow.type, Site.name, TargetRow.parent)
                .outerjoin(Site, TargetRow.site_id == Site.id)
                .order_by(TargetRow.name)
            )
            return [
                (name, kind, site, tags.get(target_id, []), parent)
                for target_id, name, kind, site, parent in rows
            ]

    def get_target(self, name: str) -> TargetRow:
        """One target by name."""
        with self.session() as s:
            return self._get(s, TargetRow, name)

    def put_target(
        self,
        cfg: TargetConfig,
        actor: str,
        source: str = "api",
        *,
        admin: bool,
        create_only: bool = False,
    ) -> TargetRow:
        """Create or update a target (``create_only``: fail if the name exists). Without
        ``admin``, credentials go only where their scope allows (ForbiddenError otherwise:
        see ``credentials.scope``)."""
        with self.session() as s:
            return self._put_target(s, cfg, actor, source, create_only, admin=admin)

    def target_addresses(self) -> dict[str, str]:
        """Every target's address by its name."""
        with self.session() as s:
            rows = s.execute(select(TargetRow.name, TargetRow.address))
            return {str(name): str(address) for name, address in rows}

    def target_names(self) -> set[str]:
        """Every target's name."""
        with self.session() as s:
            return set(s.scalars(select(TargetRow.name)))

    def add_target_with_checks(
        self,
        cfg: TargetConfig,
        checks: Sequence[JobConfig],
        actor: str,
        *,
        admin: bool,
    ) -> tuple[TargetRow, list[str]]:
        """Create a target and a job of its own per check, in one transaction: all or
        nothing (an error names ``checks.N.<field>``). The jobs' names, in order."""
        with self.session() as s:
            return self._add_with_checks(s, cfg, checks, actor, admin)

    def add_targets_with_checks(
        self,
        entries: Sequence[tuple[TargetConfig, Sequence[JobConfig]]],
        actor: str,
        *,
        admin: bool,
        dry_run: bool = False,
    ) -> int:
        """Many targets with their checks (an import), in one transaction: all or nothing;
        with ``dry_run`` undone even when all went well. An error says which entry (its
        index, then the field). The number of jobs made."""

        def apply(s: Session) -> int:
            made = 0
            taken = set(s.scalars(select(JobRow.name)))  # once: not per target
            for i, (cfg, checks) in enumerate(entries):
                try:
                    made += len(self._add_with_checks(s, cfg, checks, actor, admin, taken)[1])
                except (InventoryError, ForbiddenError) as exc:
                    raise type(exc)(f"[{i}] {exc}") from exc
            s.flush()
            return made

        made: int = (self.try_in_session if dry_run else self.run_in_session)(apply)
        return made

    def _add_with_checks(
        self,
        s: Session,
        cfg: TargetConfig,
        checks: Sequence[JobConfig],
        actor: str,
        admin: bool,
        taken: set[str] | None = None,
    ) -> tuple[TargetRow, list[str]]:
        """``taken``: the job names in use (read here when not given; names made are added)."""
        row = self._put_target(s, cfg, actor, "api", True, admin=admin)
        if taken is None:
            taken = set(s.scalars(select(JobRow.name)))
        names = []
        for i, check in enumerate(checks):
            name, n = check.name, 2
            while name in taken:  # web-http taken: web-http-2
                name, n = f"{check.name}-{n}", n + 1
            taken.add(name)
            try:
                job = check.model_copy(update={"name": name})
                self._put_job(s, job, actor, "api", True, admin=admin)
            except (InventoryError, ForbiddenError) as exc:
                raise type(exc)(f"checks.{i}.{exc}") from exc
            names.append(name)
        return row, names

    def _put_target(
        self,
        s: Session,
        cfg: TargetConfig,
        actor: str,
        source: str,
        create_only: bool = False,
        *,
        admin: bool = True,
    ) -> TargetRow:
        site = self._find(s, Site, cfg.site) if cfg.site else None
        if cfg.site and site is None:
            raise InventoryError(f"site: unknown site {cfg.site!r}")
        credential = self._find(s, Credential, cfg.credentials) if cfg.credentials else None
        if cfg.credentials and credential is None:
            raise InventoryError(f"credentials: unknown credentials {cfg.credentials!r}")
        row = self._find(s, TargetRow, cfg.name)
        old = target_fields(row) if row else {}
        if row is not None and create_only:
            raise ConflictError(f"name: a target named {cfg.name!r} already exists")
        if not admin:
            scope = scope_of(credential.scope) if credential is not None else None
            refused = operator_refusal(old or None, cfg, scope)
            if refused is not None:
                raise ForbiddenError(f"{refused[0]}: {refused[1]}")
        if row is None:
            row = TargetRow(name=cfg.name)
            s.add(row)
        row.address, row.type, row.site = cfg.address, cfg.type.value, site
        row.credentials, row.description, row.source = cfg.credentials, cfg.description, source
        if source != "yaml":  # a file's parents were checked whole (one may come later in it)
            self._check_parent(s, cfg)
        row.parent = cfg.parent
        if sorted(row.tags) != sorted(cfg.tags):
            row.tag_rows = [TargetTag(tag=t) for t in sorted(set(cfg.tags))]
        s.flush()
        action = "update" if old else "create"
        self._log(s, "target", cfg.name, action, _diff(old, target_fields(row)), actor)
        return row

    def _check_parent(self, s: Session, cfg: TargetConfig) -> None:
        """``parent`` names another target, and following parents never comes back."""
        at, seen = cfg.parent, {cfg.name}
        while at is not None:
            if at in seen:
                raise InventoryError(f"parent: {cfg.name!r} would be its own ancestor")
            seen.add(at)
            row = self._find(s, TargetRow, at)
            if row is None:
                raise InventoryError(f"parent: unknown target {at!r}")
            at = row.parent

    def delete_target(self, name: str, actor: str) -> None:
        """Delete a target (jobs naming it explicitly, targets naming it as their parent,
        must be changed first)."""
        with self.session() as s:
            row = self._get(s, TargetRow, name)
            users = [j.name for j in s.scalars(select(JobRow)) if name in j.target_names]
            if users:
                raise ConflictError(f"target {name!r} is used by job(s): {', '.join(users)}")
            children = list(s.scalars(select(TargetRow.name).where(TargetRow.parent == name)))
            if children:
                raise ConflictError(
                    f"target {name!r} is the parent of: {', '.join(sorted(children))}"
                )
            self._log(s, "target", name, "delete", _diff(target_fields(row), {}), actor)
            s.delete(row)
            # its agent's tokens die with it: a later target of that name starts without them
            for token in s.scalars(select(AgentToken).where(AgentToken.device == name)):
                token.revoked_at = token.revoked_at or utcnow()

    # -- jobs --------------------------------------------------------------------------------
    def list_jobs(self) -> list[JobRow]:
        """All jobs by name."""
        with self.session() as s:
            return list(s.scalars(select(JobRow).order_by(JobRow.name)))

    def get_job(self, name: str) -> JobRow:
        """One job by name."""
        with self.session() as s:
            return self._get(s, JobRow, name)

    def put_job(
        self,
        cfg: JobConfig,
        actor: str,
        source: str = "api",
        *,
        admin: bool,
        create_only: bool = False,
    ) -> JobRow:
        """Create or update a job after checking its kind, params (files included) and
        target names; without ``admin``, settings only an admin may give a job (accepting
        any SSH host key) are refused with ForbiddenError."""
        with self.session() as s:
            return self._put_job(s, cfg, actor, source, create_only, admin=admin)

    def _put_job(
        self,
        s: Session,
        cfg: JobConfig,
        actor: str,
        source: str,
        create_only: bool = False,
        *,
        admin: bool = True,
    ) -> JobRow:
        params = check_job(cfg, self.files)
        risky = params.risky_settings()
        if risky and not admin:
            name = risky[0]
            raise ForbiddenError(
                f"params.{name}: {name}: {params.admin_only[name]!r} would send the targets' "
                "credentials to whichever host answers: only an admin may set it"
            )
        if cfg.selector is not None and cfg.selector.site is not None:
            if self._find(s, Site, cfg.selector.site) is None:
                raise InventoryError(f"selector.site: unknown site {cfg.selector.site!r}")
        for site in cfg.vantage or ():
            if self._find(s, Site, site) is None:
                raise InventoryError(f"vantage: unknown site {site!r}")
        known = set(s.scalars(select(TargetRow.name).where(TargetRow.name.in_(cfg.targets))))
        missing = [n for n in cfg.targets if n not in known]
        if missing:
            raise InventoryError(f"targets: unknown target(s) {', '.join(map(repr, missing))}")
        row = self._find(s, JobRow, cfg.name)
        if row is not None and create_only:
            raise ConflictError(f"name: a job named {cfg.name!r} already exists")
        old = job_fields(row) if row else {}
        if row is None:
            row = JobRow(name=cfg.name)
            s.add(row)
        data = cfg.model_dump(mode="json")
        row.kind, row.params, row.target_names = cfg.kind, data["params"], list(cfg.targets)
        row.selector, row.window = data["selector"], data["window"]
        row.interval_s, row.timeout_s, row.concurrency = cfg.interval, cfg.timeout, cfg.concurrency
        row.enabled, row.source = cfg.enabled, source
        row.run_when, row.maintenance = cfg.run_when, cfg.maintenance
        row.vantage, row.quorum = cfg.vantage, cfg.quorum
        s.flush()
        action = "update" if old else "create"
        self._log(s, "job", cfg.name, action, _diff(old, job_fields(row)), actor)
        return row

    def set_job_enabled(self, name: str, enabled: bool, actor: str) -> JobRow:
        """Enable or disable a job."""
        with self.session() as s:
            row = self._get(s, JobRow, name)
            if row.enabled != enabled:
                self._log(s, "job", name, "update", {"enabled": [row.enabled, enabled]}, actor)
                row.enabled = enabled
            return row

    def delete_job(self, name: str, actor: str) -> None:
        """Delete a job (its run history stays)."""
        with self.session() as s:
            row = self._get(s, JobRow, name)
            self._log(s, "job", name, "delete", _diff(job_fields(row), {}), actor)
            s.delete(row)

    def job_targets(self, cfg: JobConfig) -> list[Target]:
        """The targets a job covers now: its explicit names plus its selector's matches,
        each with its credentials reference (where the secrets are, not the secrets)."""
        with self.session() as s:
            rows: dict[str, TargetRow] = {}
            if cfg.targets:
                stmt = self.target_query(TargetFilter(names=cfg.targets))
                rows.update((r.name, r) for r in s.scalars(stmt).unique())
            if cfg.selector is not None:
                for row in s.scalars(self._selector_query(cfg)).unique():
                    rows[row.name] = row
            wanted = {row.credentials for row in rows.values() if row.credentials}
            refs = {
                c.name: _to_credential_ref(c)
                for c in s.scalars(select(Credential).where(Credential.name.in_(wanted)))
            }
            return [to_target(rows[n], refs) for n in sorted(rows)]

    def jobs_covering(self, name: str) -> list[JobRow]:
        """The jobs that cover target ``name`` now (enabled or not), by name: one target
        row and the jobs, not every job's targets."""
        target = to_target(self.get_target(name))
        return [row for row in self.list_jobs() if job_covers(job_config(row), target)]

    def recent_runs(self, jobs: Sequence[str], limit: int) -> list[JobRun]:
        """The newest runs of any of ``jobs``, newest first, in one query."""
        if not jobs:
            return []
        stmt = select(JobRun).where(JobRun.job_name.in_(list(jobs)))
        with self.session() as s:
            return list(s.scalars(stmt.order_by(JobRun.id.desc()).limit(limit)))

    def _selector_query(self, cfg: JobConfig) -> Select[TargetRow]:
        assert cfg.selector is not None
        sel = cfg.selector
        stmt = self.target_query(TargetFilter(site=sel.site, type=sel.type))
        for tag in sel.tags:
            stmt = stmt.where(
                TargetRow.id.in_(select(TargetTag.target_id).where(TargetTag.tag == tag))
            )
        return stmt

    # -- job runs ------------------------------------------------------------------------------
    def start_run(self, job: str, scheduled_at: datetime, trigger: str) -> int:
        """Record that a run started; returns its id."""
        with self.session() as s:
            run = JobRun(
                job_name=job,
                trigger=trigger,
                scheduled_at=scheduled_at,
                started_at=utcnow(),
                status="running",
            )
            s.add(run)
            s.flush()
            return run.id

    def finish_run(
        self,
        run_id: int,
        status: str,
        ok: int,
        failed: int,
        error: str | None,
        samples_rejected: int = 0,
        per_target: Sequence[tuple[str, str, str | None]] = (),
    ) -> None:
        """Record how a run ended, and each target's (name, status, error) outcome: all of
        them in a run of up to RUN_ALL_OUTCOMES_UP_TO targets, else its failures, at most
        RUN_TARGETS_KEPT."""
        kept = list(per_target)
        if len(kept) > RUN_ALL_OUTCOMES_UP_TO:
            kept = [t for t in kept if t[1] != "ok"][:RUN_TARGETS_KEPT]
        with self.session() as s:
            run = s.get(JobRun, run_id)
            if run is None:
                raise NotFoundError(f"job run {run_id} not found")
            run.status, run.targets_ok, run.targets_failed = status, ok, failed
            run.error, run.finished_at = error, utcnow()
            run.samples_rejected = samples_rejected
            s.add_all(
                JobRunTarget(run_id=run_id, target=name, status=outcome, error=why)
                for name, outcome, why in kept
            )

    def runs_targets(self, run_ids: Sequence[int]) -> dict[int, list[JobRunTarget]]:
        """The per-target outcomes of several runs (one query), failures first."""
        found: dict[int, list[JobRunTarget]] = {run_id: [] for run_id in run_ids}
        if not run_ids:
            return found
        with self.session() as s:
            stmt = select(JobRunTarget).where(JobRunTarget.run_id.in_(list(run_ids)))
            for row in s.scalars(stmt):
                found[row.run_id].append(row)
        for rows in found.values():
            rows.sort(key=lambda r: (r.status == "ok", r.target))
        return found

    def run_targets(self, run_id: int) -> list[JobRunTarget]:
        """The recorded per-target outcomes of a run: failures first, then by name."""
        with self.session() as s:
            if s.get(JobRun, run_id) is None:
                raise NotFoundError(f"job run {run_id} not found")
            stmt = select(JobRunTarget).where(JobRunTarget.run_id == run_id)
            rows = list(s.scalars(stmt))
        return sorted(rows, key=lambda r: (r.status == "ok", r.target))

    def record_skip(self, job: str, scheduled_at: datetime, reason: str, trigger: str) -> None:
        """Record an occurrence that did not run (previous run still going, ...)."""
        now = utcnow()
        with self.session() as s:
            s.add(
                JobRun(
                    job_name=job,
                    trigger=trigger,
                    scheduled_at=scheduled_at,
                    started_at=now,
                    finished_at=now,
                    status="skipped",
                    error=reason,
                )
            )

    def list_runs(
        self, job: str | None = None, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        """Runs, newest first."""
        stmt = select(JobRun)
        if job:
            stmt = stmt.where(JobRun.job_name == job)
        if status:
            stmt = stmt.where(JobRun.status == status)
        with self.session() as s:
            total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            rows = s.scalars(stmt.order_by(JobRun.id.desc()).limit(limit).offset(offset))
            return Page(list(rows), total)

    def expire_runs(self, older_than: datetime) -> int:
        """Delete runs started before ``older_than`` with their per-target outcomes (done
        here, not by the foreign key: SQLite enforces ON DELETE only when told to)."""
        with self.session() as s:
            old = select(JobRun.id).where(JobRun.started_at < older_than)
            s.execute(delete(JobRunTarget).where(JobRunTarget.run_id.in_(old)))
            result = s.execute(delete(JobRun).where(JobRun.started_at < older_than))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def close_dangling_runs(self) -> int:
        """Mark runs left 'running' by a crash as failed; returns how many."""
        with self.session() as s:
            rows = list(s.scalars(select(JobRun).where(JobRun.status == "running")))
            for run in rows:
                run.status, run.finished_at = "failed", utcnow()
                run.error = "netgauge stopped before the run finished"
            return len(rows)

    # -- paths and events ------------------------------------------------------------------
    def observe_path(self, job: str, target: str, path: Sequence[str | None]) -> Event | None:
        """Store the path ``job`` saw to ``target``; a different path than last time is an event.

        Returns the ``path_change`` event (with both paths) or None (first path, or unchanged).
        """
        new = list(path)
        with self.session() as s:
            row = s.get(TargetPath, (job, target))
            if row is None:
                s.add(TargetPath(job_name=job, target_name=target, path=new))
                return None
            row.seen_at = utcnow()
            if row.path == new:
                return None
            event = Event(
                kind="path_change",
                target_name=target,
                job_name=job,
                data={"old": row.path, "new": new},
            )
            row.path = new
            s.add(event)
            s.flush()
            return event

    def current_path(self, job: str, target: str) -> list[str | None] | None:
        """The newest path ``job`` saw to ``target``."""
        with self.session() as s:
            row = s.get(TargetPath, (job, target))
            return None if row is None else list(row.path)

    def list_events(
        self, target: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[Event]:
        """Events, newest first."""
        stmt = select(Event).order_by(Event.id.desc()).limit(limit)
        if target:
            stmt = stmt.where(Event.target_name == target)
        if kind:
            stmt = stmt.where(Event.kind == kind)
        with self.session() as s:
            return list(s.scalars(stmt))

    def record_device_transition(self, transition: Transition) -> DeviceStateChange:
        """Store one device state transition (``device_state_history``)."""
        row = DeviceStateChange(
            device=transition.device,
            previous_state=transition.previous.value if transition.previous else None,
            new_state=transition.new.value,
            reason=transition.reason,
            detail=transition.detail,
            at=datetime.fromtimestamp(transition.at_ns / 1e9, UTC),
        )
        with self.session() as s:
            s.add(row)
        return row

    def device_history(self, device: str, limit: int = 100) -> list[DeviceStateChange]:
        """A device's transitions, newest first."""
        stmt = (
            select(DeviceStateChange)
            .where(DeviceStateChange.device == device)
            .order_by(DeviceStateChange.id.desc())
            .limit(limit)
        )
        with self.session() as s:
            return list(s.scalars(stmt))

    def device_states_now(self, changes_since: datetime) -> dict[str, tuple[str, list[int]]]:
        """Every device's newest decided state and the times (ns) of its changes since
        ``changes_since``: what a new leader (or a restart) resumes from, so a device keeps
        its state, and its flapping count, across the switch. Devices no longer in the
        inventory are left out."""
        newest = (
            select(func.max(DeviceStateChange.id))
            .group_by(DeviceStateChange.device)
            .scalar_subquery()
        )
        devices = select(TargetRow.name).where(TargetRow.type == TargetType.DEVICE.value)
        with self.session() as s:
            found: dict[str, tuple[str, list[int]]] = {
                device: (state, [])
                for device, state in s.execute(
                    select(DeviceStateChange.device, DeviceStateChange.new_state).where(
                        DeviceStateChange.id.in_(newest), DeviceStateChange.device.in_(devices)
                    )
                )
            }
            recent = s.execute(
                select(DeviceStateChange.device, DeviceStateChange.at)
                .where(
                    DeviceStateChange.at >= changes_since,
                    DeviceStateChange.previous_state.is_not(None),  # a first decision: no change
                )
                .order_by(DeviceStateChange.id)
            )
            for device, at in recent:
                if device in found:
                    found[device][1].append(int(at.timestamp() * 1e9))
        return found

    # -- push agents ------------------------------------------------------------------------
    def create_agent_token(self, device: str, actor: str) -> str:
        """A new token for ``device``'s agent (returned once; only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        with self.session() as s:
            row = self._get(s, TargetRow, device)
            if row.type != TargetType.DEVICE.value:
                raise InventoryError(f"target {device!r} is not a device (type: device)")
            s.add(AgentToken(device=device, token_sha256=_sha256(token)))
            self._log(s, "agent_token", device, "create", {}, actor)
        return token

    def revoke_agent_tokens(self, device: str, actor: str) -> int:
        """Revoke every token of ``device``; how many were live."""
        with self.session() as s:
            rows = s.scalars(
                select(AgentToken).where(
                    AgentToken.device == device, AgentToken.revoked_at.is_(None)
                )
            ).all()
            for row in rows:
                row.revoked_at = utcnow()
            if rows:
                self._log(s, "agent_token", device, "revoke", {}, actor)
            return len(rows)

    def device_for_token(self, token: str) -> str | None:
        """The device a live token belongs to (while it is a device target), or None."""
        stmt = (
            select(AgentToken.device)
            .join(TargetRow, TargetRow.name == AgentToken.device)
            .where(
                AgentToken.token_sha256 == _sha256(token),
                AgentToken.revoked_at.is_(None),
                TargetRow.type == TargetType.DEVICE.value,
            )
        )
        with self.session() as s:
            return s.scalars(stmt).first()

    def agent_cursor(self, device: str) -> int:
        """The last batch sequence number stored for ``device`` (0: none yet)."""
        with self.session() as s:
            row = s.get(AgentCursor, device)
            return row.last_seq if row else 0

    def agent_last_posts(self) -> dict[str, datetime]:
        """When each device's agent last had a batch stored (for the silence watch)."""
        with self.session() as s:
            return {row.device: row.updated_at for row in s.scalars(select(AgentCursor))}

    def advance_agent_cursor(self, device: str, seq: int) -> None:
        """Record that every batch of ``device`` up to ``seq`` is stored."""
        with self.session() as s:
            row = s.get(AgentCursor, device)
            if row is None:
                s.add(AgentCursor(device=device, last_seq=seq))
            elif seq > row.last_seq:
                row.last_seq, row.updated_at = seq, utcnow()

    def run_in_session(self, fn: Callable[[Session], Any]) -> Any:
        """Run ``fn`` inside one transaction (used by the YAML sync)."""
        with self.session() as s:
            return fn(s)

    def try_in_session(self, fn: Callable[[Session], Any]) -> Any:
        """Run ``fn`` inside one transaction and undo it (what would ``fn`` do?)."""
        with self._sessions() as s:
            try:
                return fn(s)
            finally:
                s.rollback()


_BOUND_NAMES = 500


def _keeps(f: TargetFilter) -> bool:
    """Whether pages of ``f`` are kept: not of names (long lists make poor keys, and the
    live-state filter's names change with every check)."""
    return f.names is None and f.exclude is None


_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")
# a list's columns of a target and the total of the whole match (a count window)
_SUMMARY = select(
    TargetRow.id, TargetRow.name, TargetRow.address, TargetRow.type, Site.name,
    TargetRow.credentials, TargetRow.description, TargetRow.parent, TargetRow.source,
    TargetRow.created_at, TargetRow.updated_at, func.count().over(),
)  # fmt: skip


ACTOR_CHARS = 64  # inventory_changes.actor


def short_actor(actor: str) -> str:
    """``actor`` within the column: a long config file path keeps its start and its end
    ("yaml:/etc/…/netgauge.yaml"); PostgreSQL refuses a longer value where SQLite kept it."""
    if len(actor) <= ACTOR_CHARS:
        return actor
    head = actor[: actor.index(":") + 1] if ":" in actor[:16] else ""
    return head + "…" + actor[-(ACTOR_CHARS - len(head) - 1) :]


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _escape_like(text: str) -> str:
    """``q`` is a plain substring: LIKE's wildcards in it match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_job(cfg: JobConfig, files: FilePolicy) -> ProbeParams:
    """The kind is a registered probe and the params fit it, the files they name included
    (API input gets the YAML rules); the validated params."""
    from netgauge.probes.base import PROBES, params_error, validate_params
    from netgauge.probes.builtin import load_builtin_probes

    load_builtin_probes()
    if cfg.kind not in PROBES:
        raise InventoryError(
            f"kind: unknown check kind {cfg.kind!r} (known: {', '.join(PROBES.names())})"
        )
    try:
        return validate_params(PROBES.get(cfg.kind).params_model, cfg.params, files)
    except ValidationError as exc:
        raise InventoryError(params_error(exc)) from exc


def job_covers(cfg: JobConfig, target: Target) -> bool:
    """Whether ``cfg`` checks ``target``: named in its targets, or matched by its selector
    (every listed tag, and the site and type when given): ``_selector_query``'s rule, for
    one target in memory."""
    if target.name in cfg.targets:
        return True
    sel = cfg.selector
    if sel is None:
        return False
    return (
        (sel.site is None or sel.site == target.site)
        and (sel.type is None or sel.type is target.type)
        and set(sel.tags) <= set(target.tags)
    )


def to_target(row: TargetRow, refs: dict[str, CredentialRef] | None = None) -> Target:
    """A stored target as the checks see it (credentials: with ``refs``, else none)."""
    return Target(
        name=row.name,
        address=row.address,
        type=TargetType(row.type),
        site=row.site.name if row.site else None,
        tags=tuple(row.tags),
        credentials=(refs or {}).get(row.credentials) if row.credentials else None,
        parent=row.parent,
    )


def _to_credential_ref(row: Credential) -> CredentialRef:
    return CredentialRef(
        row.name,
        row.kind,
        dict(row.env),
        dict(row.files),
        row.username,
        scope_of(row.scope),
        dict(row.sealed or {}),
    )
