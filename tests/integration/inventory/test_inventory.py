"""The inventory on SQLite and on a real PostgreSQL server: sync, CRUD, filters, runs, changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from netgauge.config.loader import load_config_text
from netgauge.config.model import JobConfig, TargetConfig
from netgauge.errors import ConflictError, InventoryError, NotFoundError
from netgauge.inventory import Inventory, TargetFilter, sync_inventory
from netgauge.inventory.repository import RUN_ALL_OUTCOMES_UP_TO
from netgauge.models import TargetType

FILE_V1 = """
sites: [{name: hq}, {name: branch}]
targets:
  - {name: gw, address: 127.0.0.1, site: hq, tags: [core, lab]}
  - {name: v6, address: "::1", site: branch, tags: [core]}
  - {name: web, address: localhost, type: device, tags: [lab]}
jobs:
  - {name: ping-core, kind: icmp, selector: {tags: [core]}, interval: 30s}
  - {name: tcp-web, kind: tcp, params: {port: 80}, targets: [web], interval: 1m}
"""

FILE_V2 = """
sites: [{name: hq}]
targets:
  - {name: gw, address: 127.0.0.2, site: hq, tags: [core]}
jobs:
  - {name: ping-core, kind: icmp, selector: {tags: [core]}, interval: 1m}
"""


def sync(inv: Inventory, text: str):  # type: ignore[no-untyped-def]
    return sync_inventory(inv, load_config_text(text, "test.yaml").config, "yaml:test.yaml")


def test_sync_creates_then_is_idempotent(inventory: Inventory) -> None:
    first = sync(inventory, FILE_V1)
    assert (first.created, first.updated, first.deleted) == (7, 0, 0)
    again = sync(inventory, FILE_V1)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert inventory.list_targets().total == 3


def test_sync_updates_and_removes_with_the_change_recorded(inventory: Inventory) -> None:
    sync(inventory, FILE_V1)
    report = sync(inventory, FILE_V2)
    assert (report.created, report.updated, report.deleted) == (0, 2, 4)
    names = [t.name for t in inventory.list_targets().items]
    assert names == ["gw"]
    change = inventory.list_changes("target", "gw")[0]
    assert change.action == "update" and change.actor == "yaml:test.yaml"
    assert change.changes == {
        "address": ["127.0.0.1", "127.0.0.2"],
        "tags": [["core", "lab"], ["core"]],
    }
    deleted = {
        (c.entity_type, c.entity_name) for c in inventory.list_changes() if c.action == "delete"
    }
    assert deleted == {("target", "v6"), ("target", "web"), ("job", "tcp-web"), ("site", "branch")}


def test_api_created_targets_survive_a_sync(inventory: Inventory) -> None:
    sync(inventory, FILE_V1)
    inventory.put_target(TargetConfig(name="extra", address="127.0.0.9"), "api", admin=False)
    sync(inventory, FILE_V2)
    assert inventory.get_target("extra").source == "api"


def test_filters_search_tag_site_type(inventory: Inventory) -> None:
    sync(inventory, FILE_V1)

    def names(**kw: object) -> list[str]:
        return [t.name for t in inventory.list_targets(TargetFilter(**kw)).items]  # type: ignore[arg-type]

    assert names(tag="lab") == ["gw", "web"]
    assert names(site="branch") == ["v6"]
    assert names(type=TargetType.DEVICE) == ["web"]
    assert names(q="127.0") == ["gw"]
    assert names(q="W") == ["gw", "web"]  # case-insensitive, name or address
    assert names(tag="core", site="hq") == ["gw"]
    page = inventory.list_targets(None, limit=2, offset=1)
    assert page.total == 3 and [t.name for t in page.items] == ["v6", "web"]


def test_job_targets_from_names_and_selector(inventory: Inventory) -> None:
    sync(inventory, FILE_V1)
    job = JobConfig(
        name="j", kind="icmp", targets=["web"], selector={"tags": ["core"], "site": "hq"}
    )
    assert [t.name for t in inventory.job_targets(job)] == ["gw", "web"]


def test_crud_rules(inventory: Inventory) -> None:
    sync(inventory, FILE_V1)
    with pytest.raises(ConflictError, match="already exists"):
        inventory.put_target(
            TargetConfig(name="gw", address="127.0.0.3"), "api", admin=True, create_only=True
        )
    with pytest.raises(InventoryError, match="site: unknown site 'mars'"):
        inventory.put_target(
            TargetConfig(name="x", address="127.0.0.3", site="mars"), "api", admin=True
        )
    with pytest.raises(ConflictError, match="used by job"):
        inventory.delete_target("web", "api")
    with pytest.raises(InventoryError, match="targets: unknown target"):
        inventory.put_job(
            JobConfig(name="j2", kind="tcp", params={"port": 1}, targets=["ghost"]),
            "api",
            admin=True,
        )
    with pytest.raises(InventoryError, match=r"params.port"):
        inventory.put_job(
            JobConfig(name="j3", kind="tcp", params={"port": 0}, targets=["gw"]),
            "api",
            admin=True,
        )
    with pytest.raises(ConflictError, match="used by 1 target"):
        inventory.delete_site("branch", "api")
    inventory.delete_job("tcp-web", "api")
    inventory.delete_target("web", "api")
    with pytest.raises(NotFoundError):
        inventory.get_target("web")


def test_runs_are_recorded(inventory: Inventory) -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    run = inventory.start_run("ping", at, "schedule")
    inventory.record_skip("ping", at, "previous run still running", "schedule")
    inventory.finish_run(run, "partial", 3, 1, "gw: timeout")
    runs = inventory.list_runs("ping").items
    assert [(r.status, r.targets_ok, r.targets_failed) for r in runs] == [
        ("skipped", 0, 0),
        ("partial", 3, 1),
    ]
    assert runs[1].scheduled_at == at and runs[1].finished_at is not None
    assert inventory.list_runs(status="skipped").total == 1


def test_runs_keep_their_targets_outcomes_bounded(inventory: Inventory) -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    small = inventory.start_run("ping", at, "schedule")
    inventory.finish_run(
        small, "partial", 1, 1, "b: timeout", 0, [("a", "ok", None), ("b", "timeout", "t")]
    )
    assert [(r.target, r.status) for r in inventory.run_targets(small)] == [
        ("b", "timeout"),  # failures first
        ("a", "ok"),
    ]
    # a big run keeps its failures only: its successes are its counts
    many = [
        (f"t{i:04}", "ok" if i % 10 else "failed", None) for i in range(RUN_ALL_OUTCOMES_UP_TO + 50)
    ]
    big = inventory.start_run("ping", at, "schedule")
    failures = sum(1 for t in many if t[1] != "ok")
    inventory.finish_run(big, "partial", len(many) - failures, failures, None, 0, many)
    kept = inventory.run_targets(big)
    assert len(kept) == failures and {r.status for r in kept} == {"failed"}
    assert inventory.runs_targets([small, big])[small][0].target == "b"


def test_old_runs_expire_with_their_outcomes(inventory: Inventory) -> None:
    run = inventory.start_run("ping", datetime(2026, 1, 1, tzinfo=UTC), "schedule")
    inventory.finish_run(run, "ok", 1, 0, None, 0, [("a", "ok", None)])
    assert inventory.expire_runs(datetime.now(UTC) - timedelta(days=1)) == 0
    assert inventory.list_runs().total == 1
    assert inventory.expire_runs(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert inventory.list_runs().total == 0
    with pytest.raises(NotFoundError):
        inventory.run_targets(run)
    assert inventory.runs_targets([run]) == {run: []}  # the outcomes went with the run


def test_dangling_runs_are_closed_at_start(inventory: Inventory) -> None:
    inventory.start_run("ping", datetime(2026, 1, 1, tzinfo=UTC), "schedule")
    assert inventory.close_dangling_runs() == 1
    assert inventory.list_runs().items[0].status == "failed"


def test_enable_disable_is_recorded(inventory: Inventory) -> None:
    sync(inventory, FILE_V1)
    inventory.set_job_enabled("ping-core", False, "api")
    assert inventory.get_job("ping-core").enabled is False
    assert inventory.list_changes("job", "ping-core")[0].changes == {"enabled": [True, False]}


def test_migrations_match_the_models(inventory: Inventory) -> None:
    """A model change without its Alembic migration fails here, on SQLite and PostgreSQL."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from netgauge.inventory.tables import Base

    with inventory.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_a_different_path_is_an_event_with_both_paths(inventory: Inventory) -> None:
    first = ["198.19.240.1", None, "198.19.240.9"]
    assert inventory.observe_path("trace", "gw", first) is None  # the first path is no change
    assert inventory.observe_path("trace", "gw", first) is None  # neither is the same again
    second = ["198.19.240.1", "198.19.240.5", "198.19.240.9"]
    event = inventory.observe_path("trace", "gw", second)
    assert event is not None and event.kind == "path_change"
    assert event.data == {"old": first, "new": second}
    assert inventory.current_path("trace", "gw") == second
    assert inventory.observe_path("trace", "other", first) is None  # per target
    listed = inventory.list_events(target="gw", kind="path_change")
    assert [(e.job_name, e.data["new"]) for e in listed] == [("trace", second)]
