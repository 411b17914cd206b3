"""The SNMP poller's logic against an in-memory agent: profile choice, every source shape,
rates across polls (wrap, restart), absent metrics, refused samples, offline devices."""

from __future__ import annotations

from typing import Any

from netgauge.pollers.readings import DeviceReading, DeviceState
from netgauge.pollers.snmp import SnmpPoller
from netgauge.pollers.snmp_ber import Counter32, Counter64, Gauge32, TimeTicks
from netgauge.pollers.snmp_client import Credentials, Endpoint, SnmpErrorStatus
from netgauge.pollers.snmp_profiles import load_profiles
from tests.unit.pollers.fake_agent import FakeAgent, oid

S = 1_000_000_000
ENDPOINT = Endpoint("192.0.2.1")
CREDS = Credentials(1, b"x")
LINUX = oid("1.3.6.1.4.1.8072.3.2.10")
CISCO = oid("1.3.6.1.4.1.9.1.2494")
UPTIME = oid("1.3.6.1.2.1.1.3.0")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * S

    def __call__(self) -> int:
        return self.now


def linux_agent() -> FakeAgent:
    return FakeAgent(
        {
            oid("1.3.6.1.2.1.1.2.0"): LINUX,
            UPTIME: TimeTicks(10_000),
            oid("1.3.6.1.2.1.25.3.3.1.2.196608"): 10,  # hrProcessorLoad, two CPUs
            oid("1.3.6.1.2.1.25.3.3.1.2.196609"): 30,
            oid("1.3.6.1.4.1.2021.4.5.0"): 8_000_000,  # memTotalReal kB
            oid("1.3.6.1.4.1.2021.4.6.0"): 1_000_000,  # memAvailReal kB: MemFree
            oid("1.3.6.1.4.1.2021.4.14.0"): 500_000,  # memBuffer
            oid("1.3.6.1.4.1.2021.4.15.0"): 4_000_000,  # memCached
            oid("1.3.6.1.4.1.2021.4.27.0"): 6_000_000,  # memSysAvail: MemAvailable
            # hrStorage: 1 = RAM (not a disk), 31 = "/" fixed disk
            oid("1.3.6.1.2.1.25.2.3.1.2.1"): oid("1.3.6.1.2.1.25.2.1.2"),
            oid("1.3.6.1.2.1.25.2.3.1.3.1"): b"Physical memory",
            oid("1.3.6.1.2.1.25.2.3.1.4.1"): 1024,
            oid("1.3.6.1.2.1.25.2.3.1.5.1"): 100,
            oid("1.3.6.1.2.1.25.2.3.1.6.1"): 90,
            oid("1.3.6.1.2.1.25.2.3.1.2.31"): oid("1.3.6.1.2.1.25.2.1.4"),
            oid("1.3.6.1.2.1.25.2.3.1.3.31"): b"/",
            oid("1.3.6.1.2.1.25.2.3.1.4.31"): 4096,
            oid("1.3.6.1.2.1.25.2.3.1.5.31"): 1000,
            oid("1.3.6.1.2.1.25.2.3.1.6.31"): 250,
            # IF-MIB: eth0 (index 2) with 64-bit counters
            oid("1.3.6.1.2.1.2.2.1.2.2"): b"eth0 descr",
            oid("1.3.6.1.2.1.31.1.1.1.1.2"): b"eth0",
            oid("1.3.6.1.2.1.2.2.1.10.2"): Counter32(1000),
            oid("1.3.6.1.2.1.2.2.1.16.2"): Counter32(2000),
            oid("1.3.6.1.2.1.31.1.1.1.6.2"): Counter64(1000),
            oid("1.3.6.1.2.1.31.1.1.1.10.2"): Counter64(2000),
        }
    )


def values(reading: DeviceReading) -> dict[str, float]:
    return {metric.series(): metric.value for metric in reading.metrics}


async def poll(poller: SnmpPoller) -> DeviceReading:
    return await poller.poll("host1", ENDPOINT, CREDS)


async def test_a_linux_host_gives_every_metric_from_its_profile() -> None:
    agent, clock = linux_agent(), Clock()
    poller = SnmpPoller(agent, load_profiles(), clock_ns=clock)
    first = await poll(poller)
    assert first.state is DeviceState.ONLINE
    got = values(first)
    assert got["cpu_percent"] == 20.0  # the average of 10 and 30
    assert got["memory_percent"] == 25.0  # (8 - 6) / 8: memSysAvail, not MemFree
    assert got['disk_percent{mount="/"}'] == 25.0  # RAM is not listed as a disk
    assert got["uptime_seconds"] == 100.0
    assert not any(name.startswith("net_") for name in got)  # rates need a second poll
    assert any("temperature_celsius: not available" in e for e in first.errors)
    assert not any(m.name == "temperature_celsius" for m in first.metrics)  # absent, not 0

    agent.values[oid("1.3.6.1.2.1.31.1.1.1.6.2")] = Counter64(1000 + 5_000)
    agent.values[oid("1.3.6.1.2.1.31.1.1.1.10.2")] = Counter64(2000 + 10_000)
    agent.values[UPTIME] = TimeTicks(10_500)
    clock.now += 5 * S
    got = values(await poll(poller))
    assert got['net_in_bytes_per_sec{interface="eth0"}'] == 1000.0
    assert got['net_out_bytes_per_sec{interface="eth0"}'] == 2000.0


async def test_32_bit_counters_are_used_when_there_is_no_64_bit_one_and_wrap() -> None:
    agent, clock = linux_agent(), Clock()
    for column in ("1.3.6.1.2.1.31.1.1.1.6.2", "1.3.6.1.2.1.31.1.1.1.10.2"):
        del agent.values[oid(column)]
    agent.values[oid("1.3.6.1.2.1.2.2.1.10.2")] = Counter32(2**32 - 100)
    poller = SnmpPoller(agent, load_profiles(), clock_ns=clock)
    await poll(poller)
    agent.values[oid("1.3.6.1.2.1.2.2.1.10.2")] = Counter32(900)  # wrapped
    clock.now += 1 * S
    got = values(await poll(poller))
    assert got['net_in_bytes_per_sec{interface="eth0"}'] == 1000.0


async def test_an_agent_restart_gives_no_rate_across_it() -> None:
    agent, clock = linux_agent(), Clock()
    poller = SnmpPoller(agent, load_profiles(), clock_ns=clock)
    await poll(poller)
    agent.values[UPTIME] = TimeTicks(300)  # went down: restarted
    agent.values[oid("1.3.6.1.2.1.31.1.1.1.6.2")] = Counter64(10)
    clock.now += 5 * S
    reading = await poll(poller)
    assert not any(m.name.startswith("net_") for m in reading.metrics)
    assert any("restarted" in e for e in reading.errors)
    agent.values[oid("1.3.6.1.2.1.31.1.1.1.6.2")] = Counter64(510)
    agent.values[UPTIME] = TimeTicks(800)
    clock.now += 5 * S
    assert values(await poll(poller))['net_in_bytes_per_sec{interface="eth0"}'] == 100.0


async def test_interface_names_are_walked_again_only_when_interfaces_change() -> None:
    agent, clock = linux_agent(), Clock()
    poller = SnmpPoller(agent, load_profiles(), clock_ns=clock)
    if_name = oid("1.3.6.1.2.1.31.1.1.1.1")
    await poll(poller)
    await poll(poller)
    assert agent.walked.count(if_name) == 1
    agent.values[oid("1.3.6.1.2.1.31.1.1.1.1.7")] = b"eth1"
    agent.values[oid("1.3.6.1.2.1.31.1.1.1.6.7")] = Counter64(0)
    await poll(poller)
    assert agent.walked.count(if_name) == 2


async def test_cpu_ticks_are_the_fallback_and_need_two_polls() -> None:
    agent, clock = linux_agent(), Clock()
    for cpu in ("196608", "196609"):
        del agent.values[oid(f"1.3.6.1.2.1.25.3.3.1.2.{cpu}")]
    busy_oids = ["50", "51", "52", "56", "57", "61", "64"]
    for arc in busy_oids + ["53", "54"]:
        agent.values[oid(f"1.3.6.1.4.1.2021.11.{arc}.0")] = Counter32(0)
    poller = SnmpPoller(agent, load_profiles(), clock_ns=clock)
    first = await poll(poller)
    assert "cpu_percent" not in values(first)
    agent.values[oid("1.3.6.1.4.1.2021.11.50.0")] = Counter32(30)  # user
    agent.values[oid("1.3.6.1.4.1.2021.11.53.0")] = Counter32(70)  # idle
    clock.now += 5 * S
    assert values(await poll(poller))["cpu_percent"] == 30.0


async def test_a_cisco_device_uses_its_profile() -> None:
    agent = FakeAgent(
        {
            oid("1.3.6.1.2.1.1.2.0"): CISCO,
            UPTIME: TimeTicks(1),
            oid("1.3.6.1.4.1.9.9.109.1.1.1.1.7.1"): Gauge32(42),
            oid("1.3.6.1.4.1.9.9.48.1.1.1.5.1"): Gauge32(300),  # pool used
            oid("1.3.6.1.4.1.9.9.48.1.1.1.6.1"): Gauge32(700),  # pool free
            oid("1.3.6.1.4.1.9.9.48.1.1.1.5.2"): Gauge32(100),
            oid("1.3.6.1.4.1.9.9.48.1.1.1.6.2"): Gauge32(900),
            oid("1.3.6.1.4.1.9.9.13.1.3.1.3.1"): Gauge32(38),
            oid("1.3.6.1.4.1.9.9.13.1.3.1.2.1"): b"Inlet",
        }
    )
    got = values(await poll(SnmpPoller(agent, load_profiles())))
    assert got["cpu_percent"] == 42.0
    assert got["memory_percent"] == 20.0  # (300 + 100) / 2000
    assert got['temperature_celsius{sensor="Inlet"}'] == 38.0


async def test_entity_sensors_apply_scale_and_precision_and_skip_broken_ones() -> None:
    base = "1.3.6.1.2.1.99.1.1.1"
    agent = FakeAgent({oid("1.3.6.1.2.1.1.2.0"): CISCO, UPTIME: TimeTicks(1)})
    for index, (kind, scale, precision, value, status, name) in {
        1: (8, 9, 1, 455, 1, b"CPU"),  # 45.5 degrees: units, one decimal
        2: (8, 8, 0, 51_000, 1, b"PSU"),  # milli-degrees
        3: (8, 9, 0, 99, 3, b"dead"),  # status nonoperational(3): skipped
        4: (12, 9, 0, 5000, 1, b"fan"),  # rpm, not celsius
    }.items():
        for column, item in enumerate((kind, scale, precision, value, status), start=1):
            agent.values[oid(f"{base}.{column}.{index}")] = item
        agent.values[oid(f"1.3.6.1.2.1.47.1.1.1.1.7.{index}")] = name
    got = values(await poll(SnmpPoller(agent, load_profiles())))
    temperatures = {k: v for k, v in got.items() if k.startswith("temperature")}
    assert temperatures == {
        'temperature_celsius{sensor="CPU"}': 45.5,
        'temperature_celsius{sensor="PSU"}': 51.0,
    }


async def test_an_implausible_value_is_refused_counted_and_reported() -> None:
    agent = linux_agent()
    agent.values[oid("1.3.6.1.2.1.25.3.3.1.2.196608")] = 490  # a broken agent
    poller = SnmpPoller(agent, load_profiles())
    reading = await poll(poller)
    assert "cpu_percent" not in values(reading)
    assert any(e.startswith("refused cpu_percent = 260.0") for e in reading.errors)
    assert poller.rejections.total == 1


async def test_a_silent_device_is_offline_not_an_exception() -> None:
    agent = linux_agent()
    agent.silent = True
    reading = await poll(SnmpPoller(agent, load_profiles()))
    assert reading.state is DeviceState.OFFLINE
    assert reading.metrics == () and "no SNMP answer" in reading.errors[0]


class FailingWalks(FakeAgent):
    """Answers GETs but fails every table walk with an error-status (e.g. genErr)."""

    async def walk(self, *args: object, **kwargs: object) -> dict[Any, Any]:
        raise SnmpErrorStatus(ENDPOINT, 5, 1)


async def test_a_part_failing_with_an_error_status_degrades_the_poll_not_the_rest() -> None:
    agent = FailingWalks(linux_agent().values)
    reading = await poll(SnmpPoller(agent, load_profiles()))
    assert reading.state is DeviceState.DEGRADED
    got = values(reading)
    assert got["uptime_seconds"] == 100.0 and got["memory_percent"] == 25.0  # GETs still read
    assert any("error-status 5" in e for e in reading.errors)


async def test_text_answers_are_read_with_their_units() -> None:
    # a QNAP answers NAS-MIB values as text; here total and free in different units
    agent = FakeAgent(
        {
            oid("1.3.6.1.2.1.1.2.0"): oid("1.3.6.1.4.1.24681"),
            oid("1.3.6.1.2.1.1.3.0"): TimeTicks(100),
            oid("1.3.6.1.4.1.24681.1.2.1.0"): b"12.5 %",
            oid("1.3.6.1.4.1.24681.1.2.2.0"): b"3.5 GB",
            oid("1.3.6.1.4.1.24681.1.2.3.0"): b"896 MB",
            oid("1.3.6.1.4.1.24681.1.2.6.0"): b"-3 C/27 F",
        }
    )
    got = values(await poll(SnmpPoller(agent, load_profiles())))
    assert got["cpu_percent"] == 12.5
    assert got["memory_percent"] == 75.0  # (3584 - 896) / 3584 MiB
    assert got['temperature_celsius{sensor="system"}'] == -3.0
