"""Several jobs at different paces feed one device's state: a fresh failure is not hidden
by an old answer, and one lost slow poll is not counted again by every fast check."""

from __future__ import annotations

from netgauge.models import ProbeResult, ProbeStatus
from netgauge.pollers.readings import DeviceState
from netgauge.status.devices import DeviceStates
from netgauge.status.hysteresis import Thresholds, Transition

S = 1_000_000_000
T0 = 1_700_000_000  # seconds: the timeline starts here (samples need positive times)
PING, POLL = ("ping", 30.0), ("snmp", 300.0)


def result(ts_s: float, up: bool, partial: bool = False) -> ProbeResult:
    details = {"state": "degraded"} if partial else {}
    status = ProbeStatus.OK if up else ProbeStatus.TIMEOUT
    ts_ns = int((T0 + ts_s) * S)
    return ProbeResult("sw1", "x", ts_ns, status, {}, None if up else "silent", details)


class Timeline:
    def __init__(self) -> None:
        self.recorded: list[Transition] = []
        self.devices = DeviceStates(Thresholds(), self.recorded.append)

    async def run(
        self, until_s: float, *, ping_up: bool, poll_up: bool, start_s: float = 0.0
    ) -> None:
        """Both jobs on their grids from ``start_s`` to ``until_s`` (ping every 30 s, poll
        every 300 s), in time order."""
        span = range(int(start_s), int(until_s))
        events = [(t, PING, ping_up) for t in span if t % 30 == 0]
        events += [(t, POLL, poll_up) for t in span if t % 300 == 0]
        for t, (job, interval), up in sorted(events, key=lambda e: (e[0], e[1][0])):
            await self.devices.observe(result(t, up), job, interval)

    def changes(self) -> list[tuple[DeviceState, float]]:
        return [(t.new, t.at_ns / S - T0) for t in self.recorded]


async def test_a_dead_device_is_offline_within_three_pings_despite_an_older_poll() -> None:
    line = Timeline()
    await line.run(120, ping_up=True, poll_up=True)  # alive: ping 0..90, poll at 0
    await line.run(300, ping_up=False, poll_up=False, start_s=120)  # dies after 90
    assert line.changes() == [(DeviceState.ONLINE, 0), (DeviceState.OFFLINE, 180)]


async def test_a_persistently_failing_poll_with_a_live_ping_is_degraded() -> None:
    line = Timeline()
    await line.run(1200, ping_up=True, poll_up=False)
    states = [state for state, _at in line.changes()]
    assert states == [DeviceState.ONLINE, DeviceState.DEGRADED]
    assert line.changes()[1][1] >= 600  # only once the poll failed fail_after (3) times


async def test_one_lost_poll_is_not_counted_again_by_every_ping() -> None:
    line = Timeline()
    await line.run(300, ping_up=True, poll_up=True)
    await line.devices.observe(result(300, False), *POLL)  # one lost poll
    await line.run(600, ping_up=True, poll_up=True, start_s=330)
    assert [state for state, _at in line.changes()] == [DeviceState.ONLINE]


async def test_a_poll_answering_in_part_degrades() -> None:
    line = Timeline()
    for t in (0, 300, 600):
        await line.devices.observe(result(t, True, partial=True), *POLL)
    assert line.devices.state("sw1") is DeviceState.DEGRADED
