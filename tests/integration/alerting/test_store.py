"""Alerting's tables on SQLite and PostgreSQL: an alert firing and resolving makes one
incident with its timeline; the gap watch is upserted in bulk; the outbox and the log are
written together; the inventory's placements read tags, sites and parents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from netgauge.alerting.model import Alert, AlertState
from netgauge.alerting.store import AlertStore, Change, LogEntry
from netgauge.config.model import SiteConfig, TargetConfig
from netgauge.inventory import Inventory

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_an_alert_episode_is_one_incident_with_its_timeline(inventory: Inventory) -> None:
    store = AlertStore(inventory.engine)
    alert = Alert(
        "fp1",
        "down",
        {"alertname": "down", "target": "gw"},
        {"summary": "gw is down"},
        AlertState.PENDING,
        T0,
        T0,
    )
    store.apply([Change("pending", alert)])
    assert [a.state for a in store.load_alerts()] == [AlertState.PENDING]
    fired = Alert(
        **{
            **{k: getattr(alert, k) for k in Alert.__slots__},
            "state": AlertState.FIRING,
            "fired_at": T0 + timedelta(seconds=2),
        }
    )
    opened = store.apply([Change("firing", fired)])
    assert list(opened) == ["fp1"]
    store.add_events(["fp1"], "notified", "firing sent to hook", T0 + timedelta(seconds=3))
    resolved = Alert(
        **{
            **{k: getattr(fired, k) for k in Alert.__slots__},
            "state": AlertState.RESOLVED,
            "resolved_at": T0 + timedelta(minutes=5),
        }
    )
    store.apply([Change("resolved", resolved)])
    assert store.load_alerts() == []
    [incident], total = store.list_incidents(None, 10, 0)
    assert total == 1 and incident.state == "resolved" and incident.target == "gw"
    assert incident.resolved_at == T0 + timedelta(minutes=5)
    acked = store.ack(incident.id, "alice", "on it", T0 + timedelta(minutes=6))
    assert [e.kind for e in acked.events] == ["fired", "notified", "resolved", "acked"]
    assert "true for 2s first" in acked.events[0].detail and acked.acked_by == "alice"


def test_the_gap_watch_is_upserted_in_bulk(inventory: Inventory) -> None:
    store = AlertStore(inventory.engine)
    first = {f"t{i}": T0 + timedelta(seconds=i) for i in range(2000)}
    store.save_last_seen(first, [])
    later = {"t0": T0 + timedelta(hours=1)}
    store.save_last_seen(later, ["t1999"])
    loaded = store.load_last_seen()
    assert len(loaded) == 1999 and loaded["t0"] == T0 + timedelta(hours=1)
    assert loaded["t5"] == T0 + timedelta(seconds=5)


def test_a_notification_and_its_log_entry_are_written_together(inventory: Inventory) -> None:
    store = AlertStore(inventory.engine)
    entry = LogEntry(("fp1",), (), T0)
    nid = store.enqueue("hook", "down:{}", "firing", {"alerts": []}, entry, T0)
    assert store.load_log() == {("hook", "down:{}"): entry}
    [due] = store.due(T0)
    assert due.id == nid and due.attempts == 0
    store.attempted(nid, T0, "503", T0 + timedelta(seconds=2))
    assert store.due(T0) == [] and store.next_due() == T0 + timedelta(seconds=2)
    store.attempted(nid, T0 + timedelta(seconds=2), None, None)
    [row], _ = store.notifications(10, 0)
    assert row.state == "sent" and row.attempts == 2 and row.last_error is None


def test_placements_read_tags_sites_and_parents(inventory: Inventory) -> None:
    inventory.put_site(SiteConfig(name="hq"), "tests")
    inventory.put_target(
        TargetConfig(name="gw", address="127.0.0.1", site="hq", tags=["b", "a"]),
        "tests",
        admin=True,
    )
    inventory.put_target(
        TargetConfig(name="sw", address="127.0.0.2", parent="gw", type="device"),
        "tests",
        admin=True,
    )
    assert inventory.target_placements() == [
        ("gw", "destination", "hq", ["a", "b"], None),
        ("sw", "device", None, [], "gw"),
    ]
