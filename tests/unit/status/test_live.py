"""status.live: one target's live state, the map of them, and the filter it narrows."""

from __future__ import annotations

import asyncio

from netgauge.inventory import TargetFilter
from netgauge.models import ProbeResult, ProbeStatus, TargetType
from netgauge.status.devices import DeviceStates
from netgauge.status.hysteresis import Thresholds
from netgauge.status.live import ALL_STATES, STATE_PATTERN, STATES, UNKNOWN, LiveStates
from netgauge.status.tracker import StatusTracker

S = 10**9


def _result(target: str, ok: bool, ts_s: int) -> ProbeResult:
    status = ProbeStatus.OK if ok else ProbeStatus.FAILED
    return ProbeResult(target, "icmp", ts_s * S, status, {})


def _feed(tracker: StatusTracker, devices: DeviceStates, target: str, oks: list[bool]) -> None:
    """What the result folder does with a device's results: both see each one."""
    for i, ok in enumerate(oks):
        result = _result(target, ok, 100 + 60 * i)
        tracker.update("ping", result)
        asyncio.run(devices.observe(result, "ping", 60.0))


def _live() -> tuple[LiveStates, StatusTracker, DeviceStates]:
    tracker = StatusTracker()
    devices = DeviceStates(Thresholds(fail_after=3, recover_after=2), lambda _t: None)
    return LiveStates(tracker, devices), tracker, devices


def test_a_device_gets_its_decided_state_not_the_trackers() -> None:
    live, tracker, devices = _live()
    # offline after three failures; one answer since: the tracker says up, the hysteresis
    # waits for a second one before it says online
    _feed(tracker, devices, "sw1", [False, False, False, True])
    assert tracker.get("sw1").state == "up"  # type: ignore[union-attr]
    assert devices.state("sw1") is not None and devices.state("sw1").value == "offline"  # type: ignore[union-attr]
    assert live.of("sw1") == "offline"
    assert live.of("sw1", TargetType.DEVICE) == "offline"
    assert live.of("sw1", "device") == "offline"
    assert live.known("sw1") == "offline"
    assert live.all() == {"sw1": "offline"}
    assert live.all(TargetType.DEVICE) == {"sw1": "offline"}


def test_undecided_device_is_unknown_and_destinations_are_the_trackers() -> None:
    live, tracker, devices = _live()
    _feed(tracker, devices, "sw2", [False])  # one failure: not decided yet (fail_after 3)
    tracker.update("ping", _result("gw", False, 100))
    assert tracker.get("sw2").state == "down"  # type: ignore[union-attr]
    assert devices.tracks("sw2") and devices.state("sw2") is None
    assert live.of("sw2") == UNKNOWN and live.known("sw2") is None
    assert live.of("gw") == "down" and live.of("gw", TargetType.DESTINATION) == "down"
    assert live.of("nowhere") == UNKNOWN and live.of("nowhere", "device") == UNKNOWN
    assert live.all() == {"gw": "down"}
    assert live.all(TargetType.DESTINATION) == {"gw": "down", "sw2": "down"}


def test_narrow_names_the_targets_in_the_state_or_leaves_the_known_ones_out() -> None:
    live, tracker, devices = _live()
    _feed(tracker, devices, "sw1", [False, False, False])
    for name, ok in (("a", True), ("b", False), ("c", True)):
        tracker.update("ping", _result(name, ok, 100))
    base = TargetFilter(q="x")
    assert live.narrow(base, None) is base
    assert sorted(live.narrow(base, "up").names or []) == ["a", "c"]
    assert live.narrow(base, "offline").names == ["sw1"]
    assert live.narrow(base, "online").names == []
    unknown = live.narrow(base, UNKNOWN)
    assert unknown.names is None and sorted(unknown.exclude or []) == ["a", "b", "c", "sw1"]
    assert unknown.q == "x"
    # given names stay the bound: the state narrows them further
    assert live.narrow(TargetFilter(names=["a", "b"]), "up").names == ["a"]
    # by type: a destination filter knows destinations only
    dests = live.narrow(TargetFilter(type=TargetType.DESTINATION), UNKNOWN)
    assert "sw1" in (dests.exclude or [])  # the tracker has sw1, and a destination filter


def test_vocabulary() -> None:
    assert STATES[TargetType.DESTINATION] == ("up", "down", "degraded", UNKNOWN)
    assert STATES[TargetType.DEVICE] == ("online", "offline", "degraded", "flapping", UNKNOWN)
    assert set(ALL_STATES) == {*STATES[TargetType.DESTINATION], *STATES[TargetType.DEVICE]}
    assert STATE_PATTERN == "^(up|down|degraded|unknown|online|offline|flapping)$"
