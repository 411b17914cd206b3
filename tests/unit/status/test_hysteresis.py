"""Device states with hysteresis: offline only after N failures in a row, online after M
successes, degraded when it answers partly, flapping when it changes too often."""

from __future__ import annotations

from netgauge.pollers.readings import DeviceState
from netgauge.status.hysteresis import DeviceHysteresis, Observation, Thresholds, Transition

S = 1_000_000_000
OK, DEG, FAIL = Observation.OK, Observation.DEGRADED, Observation.FAIL


def feed(
    machine: DeviceHysteresis,
    *observations: Observation,
    every_s: float = 30.0,
    start_s: float = 0.0,
) -> list[Transition]:
    found = []
    for i, observation in enumerate(observations):
        t = machine.observe(observation, int((start_s + i * every_s) * S), detail=f"#{i}")
        if t is not None:
            found.append(t)
    return found


def states(transitions: list[Transition]) -> list[DeviceState]:
    return [t.new for t in transitions]


def test_the_first_answer_is_online_at_once() -> None:
    found = feed(DeviceHysteresis("sw1"), OK)
    assert states(found) == [DeviceState.ONLINE] and found[0].previous is None


def test_offline_only_after_three_failures_in_a_row_and_at_the_third() -> None:
    machine = DeviceHysteresis("sw1")
    found = feed(machine, OK, FAIL, FAIL, OK, FAIL, FAIL, FAIL)
    assert states(found) == [DeviceState.ONLINE, DeviceState.OFFLINE]
    offline = found[1]
    assert offline.at_ns == 6 * 30 * S  # the third failure in a row: within 3 x interval
    assert offline.reason == "3 checks in a row without an answer"
    assert offline.previous is DeviceState.ONLINE and offline.detail == "#6"


def test_online_again_after_two_good_checks() -> None:
    machine = DeviceHysteresis("sw1")
    found = feed(machine, OK, FAIL, FAIL, FAIL, OK, FAIL, OK, OK)
    assert states(found) == [DeviceState.ONLINE, DeviceState.OFFLINE, DeviceState.ONLINE]
    assert found[-1].reason == "2 good checks in a row"


def test_a_device_that_answers_partly_is_degraded_not_offline() -> None:
    found = feed(DeviceHysteresis("sw1"), OK, DEG, DEG, DEG, OK, OK)
    assert states(found) == [DeviceState.ONLINE, DeviceState.DEGRADED, DeviceState.ONLINE]


def test_a_device_that_keeps_changing_is_flapping_until_quiet_for_a_window() -> None:
    machine = DeviceHysteresis("sw1", Thresholds(fail_after=1, recover_after=1, flap_changes=3))
    found = feed(machine, OK, FAIL, OK, FAIL, OK, FAIL, OK)  # one change every 30 s
    assert DeviceState.FLAPPING in states(found)
    flapping = states(found).index(DeviceState.FLAPPING)
    assert "changes within 600 s" in found[flapping].reason
    assert states(found)[flapping + 1 :] == []  # no more transitions while it flips
    # quiet (always ok) for more than the window: it settles to online, once
    quiet = feed(machine, *([OK] * 25), start_s=7 * 30)
    assert states(quiet) == [DeviceState.ONLINE]
    assert quiet[0].reason == "no change for 600 s"


def test_no_transition_is_repeated() -> None:
    found = feed(DeviceHysteresis("sw1"), *([OK] * 10), *([FAIL] * 10))
    assert states(found) == [DeviceState.ONLINE, DeviceState.OFFLINE]


def test_alternating_failed_and_degraded_checks_are_degraded_not_online() -> None:
    found = feed(DeviceHysteresis("sw1"), OK, *([FAIL, DEG] * 5))
    assert states(found) == [DeviceState.ONLINE, DeviceState.DEGRADED]
