"""What a start does to the inventory: the built-in targets of a first start, a file that
keeps what it does not declare (or owns all), and a preview that is the sync itself,
undone (SQLite and PostgreSQL)."""

from __future__ import annotations

from netgauge.config.defaults import default_config
from netgauge.config.loader import load_config_text
from netgauge.config.model import TargetConfig
from netgauge.inventory import Inventory, preview_sync, seed_builtin, sync_inventory

FILE = """
sites: [{name: hq}]
targets:
  - {name: gw, address: 127.0.0.1, site: hq}
jobs:
  - {name: ping-gw, kind: icmp, targets: [gw], interval: 30s}
"""


def names(inv: Inventory) -> set[str]:
    return {t.name for t in inv.list_targets().items}


def test_builtin_targets_are_made_once_and_kept_by_a_file(inventory: Inventory) -> None:
    first = seed_builtin(inventory, default_config(8470), "builtin")
    assert first.created == 3 and names(inventory) == {"localhost"}
    report = sync_inventory(inventory, load_config_text(FILE, "f.yaml").config, "yaml:f.yaml")
    assert report.deleted == 0 and names(inventory) == {"gw", "localhost"}
    assert {(k, n) for k, n, _ in report.kept} == {
        ("target", "localhost"), ("job", "ping-localhost"), ("job", "netgauge-api-tcp")
    }  # fmt: skip


def test_a_builtin_target_the_admin_deleted_is_not_made_again(inventory: Inventory) -> None:
    seed_builtin(inventory, default_config(8470), "builtin")
    for job in ("ping-localhost", "netgauge-api-tcp"):
        inventory.delete_job(job, "admin")
    inventory.delete_target("localhost", "admin")
    inventory.put_target(TargetConfig(name="gw", address="127.0.0.1"), "admin", admin=True)
    again = seed_builtin(inventory, default_config(8470), "builtin")
    assert again.created == 0 and names(inventory) == {"gw"}


def test_builtin_jobs_follow_the_port_while_still_builtin(inventory: Inventory) -> None:
    seed_builtin(inventory, default_config(8470), "builtin")
    moved = seed_builtin(inventory, default_config(9000), "builtin")
    assert moved.updated == 1
    assert inventory.get_job("netgauge-api-tcp").params["port"] == 9000


def test_owns_all_deletes_what_the_file_does_not_declare(inventory: Inventory) -> None:
    seed_builtin(inventory, default_config(8470), "builtin")
    cfg = load_config_text("owns: all\n" + FILE, "f.yaml").config
    report = sync_inventory(inventory, cfg, "yaml:f.yaml")
    assert report.deleted == 3 and report.kept == [] and names(inventory) == {"gw"}


def test_a_preview_is_the_sync_undone(inventory: Inventory) -> None:
    seed_builtin(inventory, default_config(8470), "builtin")
    sync_inventory(inventory, load_config_text(FILE, "f.yaml").config, "yaml:f.yaml")
    changed = FILE.replace("interval: 30s", "interval: 1m").replace("{name: hq}", "{name: hq2}")
    changed = changed.replace("site: hq", "site: hq2")
    cfg = load_config_text("owns: all\n" + changed, "f.yaml").config
    before = len(inventory.list_changes(limit=1000))
    preview = preview_sync(inventory, cfg, "yaml:f.yaml")
    assert len(inventory.list_changes(limit=1000)) == before  # nothing happened
    assert names(inventory) == {"gw", "localhost"}
    done = sync_inventory(inventory, cfg, "yaml:f.yaml")
    assert preview.changes == done.changes and preview.changes
    assert {(c.kind, c.name, c.action) for c in done.changes} >= {
        ("site", "hq2", "create"), ("site", "hq", "delete"), ("job", "ping-gw", "update"),
        ("target", "localhost", "delete"),
    }  # fmt: skip
