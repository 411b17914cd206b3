"""The one folding step: what a result becomes, whichever way it came (runner or agent)."""

from __future__ import annotations

from typing import Any

from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, ProbeResult, ProbeStatus
from netgauge.status.devices import DeviceStates
from netgauge.status.fold import ResultFolder
from netgauge.status.hysteresis import Thresholds
from netgauge.status.tracker import StatusTracker
from netgauge.storage.writer import BatchWriter
from tests.unit.storage.test_writer import RecordingSink


def _folder() -> tuple[ResultFolder, RecordingSink, list[Any]]:
    sink, transitions = RecordingSink(), list[Any]()
    writer = BatchWriter([sink], batch_size=1000, flush_interval_s=3600)
    devices = DeviceStates(Thresholds(fail_after=1, recover_after=1), transitions.append)
    return ResultFolder(writer, StatusTracker(), devices), sink, transitions


def _stored(folder: ResultFolder) -> set[tuple[str, str, str]]:
    return folder.writer.pending_series("gw") | folder.writer.pending_series("sw1")


async def test_a_destination_stores_its_metrics_and_its_up_down() -> None:
    folder, _, _ = _folder()
    result = ProbeResult("gw", "icmp", 1, ProbeStatus.OK, {"rtt_avg_ms": 1.5, "loss_pct": None})
    assert await folder.fold("ping", result, device=False, interval_s=30) == 2
    assert _stored(folder) == {
        (DEVICE_METRICS, "gw", "icmp.rtt_avg_ms"),  # the absent loss is absent, not 0
        (DEVICE_STATUS, "gw", "status"),
    }
    state = folder.status.get("gw")
    assert state is not None and state.state == "up"


async def test_a_device_stores_its_decided_state_not_the_checks_up_down() -> None:
    folder, _, transitions = _folder()
    result = ProbeResult("sw1", "snmp", 1, ProbeStatus.OK, {"cpu_percent": 7.0}, prefixed=False)
    await folder.fold("poll", result, device=True, interval_s=60)
    assert (DEVICE_METRICS, "sw1", "cpu_percent") in _stored(folder)
    assert folder.devices.state("sw1") is not None and transitions  # decided: online
    assert (DEVICE_STATUS, "sw1", "status") in _stored(folder)


async def test_an_older_batch_is_stored_without_becoming_the_newest_check() -> None:
    folder, _, transitions = _folder()
    result = ProbeResult("sw1", "agent", 1, ProbeStatus.OK, {"cpu_percent": 7.0}, prefixed=False)
    await folder.fold("agent", result, device=True, interval_s=120, observe=False)
    assert _stored(folder) == {(DEVICE_METRICS, "sw1", "cpu_percent")}
    assert folder.status.get("sw1") is None and folder.devices.state("sw1") is None
    assert transitions == []
