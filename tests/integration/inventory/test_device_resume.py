"""A new process (a restart, a new leader on the same PostgreSQL) resumes every device's
decided state from the transitions the last one stored: an offline device is not
undecided until it failed three times again, and a flapping one keeps flapping until a
whole quiet window, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from netgauge.config.loader import load_config_text
from netgauge.inventory import Inventory, sync_inventory
from netgauge.models import ProbeResult, ProbeStatus
from netgauge.pollers.readings import DeviceState
from netgauge.status.devices import DeviceStates
from netgauge.status.hysteresis import Thresholds, Transition

S = 1_000_000_000
FILE = """
targets:
  - {name: sw1, address: 127.0.0.2, type: device}
  - {name: sw2, address: 127.0.0.3, type: device}
  - {name: web, address: 127.0.0.4}
"""


def result(target: str, at_s: float, up: bool) -> ProbeResult:
    status = ProbeStatus.OK if up else ProbeStatus.TIMEOUT
    return ProbeResult(target, "tcp", int(at_s * S), status, {}, None if up else "silent")


async def feed(devices: DeviceStates, target: str, start_s: float, *ups: bool) -> None:
    for i, up in enumerate(ups):
        await devices.observe(result(target, start_s + i * 30, up), "reach", 30.0)


async def test_a_new_process_resumes_each_devices_state_and_flapping(
    inventory: Inventory,
) -> None:
    sync_inventory(inventory, load_config_text(FILE, "t.yaml").config, "yaml:t.yaml")
    thresholds = Thresholds(flap_changes=2, flap_window_s=600)
    t0 = time.time() - 3600  # an hour ago: sw1 went offline then; sw2 flaps from 9 min ago
    first = DeviceStates(thresholds, inventory.record_device_transition)
    await feed(first, "sw1", t0, True, False, False, False)
    await feed(first, "sw2", time.time() - 540, True, False, False, False, True, True)
    await feed(first, "sw2", time.time() - 360, False, False, False)
    assert first.states() == {"sw1": DeviceState.OFFLINE, "sw2": DeviceState.FLAPPING}
    inventory.record_device_transition(  # a device deleted since: not resumed
        Transition("gone", None, DeviceState.OFFLINE, "x", None, time.time_ns())
    )

    since = datetime.fromtimestamp(time.time() - 600, UTC)
    stored = inventory.device_states_now(since)
    assert {d: s for d, (s, _) in stored.items()} == {"sw1": "offline", "sw2": "flapping"}
    assert stored["sw1"][1] == []  # its change is older than the window
    assert len(stored["sw2"][1]) == 3  # online→offline→online→flapping: three changes

    recorded: list[Transition] = []
    second = DeviceStates(thresholds, recorded.append)
    assert second.resume(stored) == 2
    now = time.time()
    await feed(second, "sw1", now, False)  # one more failure: still offline, no new change
    assert second.state("sw1") is DeviceState.OFFLINE and recorded == []
    await feed(second, "sw1", now + 30, True, True)  # recover_after (2) answers: online
    assert [(t.previous, t.new) for t in recorded] == [(DeviceState.OFFLINE, DeviceState.ONLINE)]
    await feed(second, "sw2", now, True, True, True)  # answers, but the window is not quiet
    assert second.state("sw2") is DeviceState.FLAPPING
    await feed(second, "sw2", now + 700, True)  # 700 s on: no change for a whole window
    assert second.state("sw2") is DeviceState.ONLINE
