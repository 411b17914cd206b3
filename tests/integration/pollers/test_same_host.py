"""One host, three ways in: SNMP (net-snmp's snmpd), SSH (OpenSSH's sshd) and the push agent
(psutil) all run on this machine, so they must report the same memory % and uptime as each
other and as the kernel (``/proc/meminfo``'s MemAvailable, ``/proc/uptime``), within 2 points
and 2 seconds. (SNMP used to read memAvailReal, which is MemFree, and the agent's own
sysUpTime.)"""

from __future__ import annotations

import pytest

from netgauge.agent.collect import Collector, load_psutil
from netgauge.pollers.readings import DeviceReading
from tests.integration.pollers.test_snmp_poll import poll_once as poll_snmp
from tests.integration.pollers.test_ssh_poll import poll_once as poll_ssh
from tests.lab.host import local_memory_percent, local_uptime
from tests.lab.snmpd import Snmpd
from tests.lab.sshd import Sshd

pytestmark = pytest.mark.network


def _values(reading: DeviceReading) -> dict[str, float]:
    return {m.series(): m.value for m in reading.metrics}


async def test_memory_and_uptime_agree_across_snmp_ssh_agent_and_the_kernel(
    snmpd: Snmpd, sshd: Sshd
) -> None:
    memory_before, uptime_before = local_memory_percent(), local_uptime()
    by_snmp = _values(await poll_snmp(snmpd))
    by_ssh = _values(await poll_ssh(sshd))
    by_agent = {m.series(): m.value for m in Collector(load_psutil()).collect()}
    memory_after, uptime_after = local_memory_percent(), local_uptime()
    low, high = sorted((memory_before, memory_after))
    memory = {"snmp": by_snmp, "ssh": by_ssh, "agent": by_agent}
    for way, got in memory.items():
        assert low - 2.0 <= got["memory_percent"] <= high + 2.0, (way, got["memory_percent"])
        assert uptime_before - 2.0 <= got["uptime_seconds"] <= uptime_after + 2.0, way
    shown = sorted(got["memory_percent"] for got in memory.values())
    assert shown[-1] - shown[0] <= 2.0, memory
