"""What the health score counts from the inventory's history (fleet_history), against rows
this test wrote itself: transitions and error-log entries inside the window, job-run
outcomes of runs that kept every target's outcome, nothing older than the window."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from netgauge.inventory.health_queries import fleet_history
from netgauge.inventory.repository import RUN_ALL_OUTCOMES_UP_TO, Inventory
from netgauge.inventory.tables import ErrorLog, JobRun
from netgauge.pollers.readings import DeviceState
from netgauge.status.hysteresis import Transition


def run(inv: Inventory, outcomes: list[tuple[str, str]]) -> int:
    run_id = inv.start_run("job", datetime.now(UTC), "schedule")
    ok = sum(1 for _, status in outcomes if status == "ok")
    per_target = [
        (name, status, None if status == "ok" else "refused") for name, status in outcomes
    ]
    inv.finish_run(run_id, "partial", ok, len(outcomes) - ok, None, per_target=per_target)
    return run_id


def test_counts_in_the_window(inventory: Inventory) -> None:
    now = datetime.now(UTC)
    for state in (DeviceState.OFFLINE, DeviceState.ONLINE, DeviceState.OFFLINE):
        inventory.record_device_transition(
            Transition("sw1", None, state, "test", None, time.time_ns())
        )
    old = Transition("sw2", None, DeviceState.OFFLINE, "test", None,
                     int((now - timedelta(days=2)).timestamp() * 1e9))  # fmt: skip
    inventory.record_device_transition(old)
    run(inventory, [("sw1", "ok"), ("sw2", "failed"), ("sw1", "timeout")])
    run(inventory, [("sw1", "ok")])
    # a big run keeps its failures only: not counted (sw1 would look failed every time)
    big = [(f"d{i}", "ok") for i in range(RUN_ALL_OUTCOMES_UP_TO)] + [("sw1", "failed")]
    run(inventory, big)
    stale = run(inventory, [("sw2", "ok")])
    with inventory.session() as s:
        row = s.get(JobRun, stale)
        assert row is not None
        row.started_at = now - timedelta(days=8)
        s.add(ErrorLog(at=now, category="collector", severity="error", message="x", device="sw1"))
        s.add(ErrorLog(at=now - timedelta(days=2), category="collector", severity="error",
                       message="old", device="sw1"))  # fmt: skip
        s.add(ErrorLog(at=now, category="api", severity="error", message="no device"))
    history = fleet_history(inventory, now - timedelta(days=1), now - timedelta(days=7))
    assert history.changes_24h == {"sw1": 3}
    assert history.outcomes_7d == {"sw1": (2, 1), "sw2": (0, 1)}
    assert history.errors_24h == {"sw1": 1}
