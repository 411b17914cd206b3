"""inventory.readcache: a kept page of the target list is served until the next committed
change to targets, their tags or sites, by whatever path it is written, and for at most
max_age_s; a page read while a change commits is never served after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, text, update

from netgauge.config.model import SiteConfig, TargetConfig
from netgauge.inventory import Inventory, TargetFilter
from netgauge.inventory.readcache import ChangeCounter, ReadCache
from netgauge.inventory.tables import JobRun, Site, TargetRow, TargetTag


def _names(inventory: Inventory, f: TargetFilter | None = None) -> list[str]:
    return [t.name for t in inventory.list_target_summaries(f, 100, 0).items]


def _kept(inventory: Inventory, f: TargetFilter | None = None) -> bool:
    return inventory.peek_target_summaries(f, 100, 0) is not None


def _target(name: str, **fields: object) -> TargetConfig:
    return TargetConfig.model_validate({"name": name, "address": "192.0.2.1", **fields})


def test_a_page_is_kept_until_a_change_by_any_path(inventory: Inventory) -> None:
    inventory.put_target(_target("a", tags=["x"]), "test", admin=True)
    assert _names(inventory) == ["a"] and _kept(inventory)
    first = inventory.peek_target_summaries(None, 100, 0)
    assert inventory.list_target_summaries(None, 100, 0) is first  # served, not read
    # the ORM: a new target
    inventory.put_target(_target("b"), "test", admin=True)
    assert not _kept(inventory) and _names(inventory) == ["a", "b"]
    # a tag only (another table than targets)
    inventory.put_target(_target("a", tags=["y"]), "test", admin=True)
    assert not _kept(inventory)
    assert inventory.list_target_summaries(None, 100, 0).items[0].tags == ["y"]
    # a site renamed under its targets (through a bulk UPDATE)
    inventory.put_site(SiteConfig(name="hq"), "test")
    inventory.put_target(_target("b", site="hq"), "test", admin=True)
    hq = TargetFilter(site="hq")
    assert _names(inventory, hq) == ["b"] and _kept(inventory, hq)
    with inventory.session() as s:
        s.execute(update(Site).where(Site.name == "hq").values(name="head-office"))
    assert not _kept(inventory, TargetFilter(site="hq"))
    assert _names(inventory, TargetFilter(site="hq")) == []
    # a bulk DELETE, and plain SQL text
    _names(inventory)
    with inventory.session() as s:
        s.execute(delete(TargetTag))
        s.execute(delete(TargetRow).where(TargetRow.name == "a"))
    assert not _kept(inventory) and _names(inventory) == ["b"]
    with inventory.session() as s:
        s.execute(text("UPDATE targets SET address = '192.0.2.9'"))
    assert not _kept(inventory)
    assert inventory.list_target_summaries(None, 100, 0).items[0].address == "192.0.2.9"
    # deleted through the repository
    inventory.delete_target("b", "test")
    assert not _kept(inventory) and _names(inventory) == []


def test_other_tables_leave_it_and_a_rollback_changes_nothing_served(
    inventory: Inventory,
) -> None:
    inventory.put_target(_target("a"), "test", admin=True)
    _names(inventory)
    with inventory.session() as s:  # a job run: written all day, nothing to do with targets
        at = datetime.now(UTC)
        s.add(JobRun(job_name="j", scheduled_at=at, started_at=at, status="ok"))
        s.execute(delete(JobRun).where(JobRun.started_at < at - timedelta(days=1)))
    assert _kept(inventory)
    try:
        with inventory.session() as s:
            s.add(TargetRow(name="ghost", address="192.0.2.2", source="t"))
            s.flush()
            raise RuntimeError("abandoned")
    except RuntimeError:
        pass
    # dropped (harmless), and read again without the row that never committed
    assert not _kept(inventory) and _names(inventory) == ["a"]


def test_a_page_read_while_a_change_commits_is_not_served_after(inventory: Inventory) -> None:
    counter = ChangeCounter(inventory._sessions, frozenset({"targets"}))
    cache: ReadCache[list[str]] = ReadCache(counter)

    def load_then_change() -> list[str]:
        seen = _names(inventory, TargetFilter(names=["a", "b"]))  # (not kept by the inventory)
        inventory.put_target(
            _target("b"), "test", admin=True
        )  # commits after the read, before the keep
        return seen

    inventory.put_target(_target("a"), "test", admin=True)
    assert cache.get("page", load_then_change) == ["a"]
    assert cache.peek("page") is None  # stale at once
    assert cache.get("page", lambda: _names(inventory)) == ["a", "b"]
    assert cache.peek("page") == ["a", "b"]


def test_a_page_is_kept_at_most_max_age(inventory: Inventory) -> None:
    now = [1000.0]
    counter = ChangeCounter(inventory._sessions, frozenset({"targets"}))
    cache: ReadCache[int] = ReadCache(counter, max_age_s=2.0, clock=lambda: now[0])
    assert cache.get("k", lambda: 1) == 1
    now[0] += 2.0
    assert cache.peek("k") == 1
    now[0] += 0.01  # past the age: what another process wrote is read again
    assert cache.peek("k") is None
    assert cache.get("k", lambda: 2) == 2
