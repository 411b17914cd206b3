"""The SNMP poller against many simulated agents: snmpsim serving recorded device walks
(``tests/fixtures/snmprec``, one community per device) on 127.0.0.1.

Every expected value is computed here from the walk the agent serves (the vendor's formula
applied to the records), never from the poller. Rates use an injected clock and counters
changed in the served data between polls, so they are exact: delta / seconds.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator, Mapping

import pytest

from netgauge.pollers.readings import DeviceReading, DeviceState, Metric
from netgauge.pollers.snmp import SnmpPoller
from netgauge.pollers.snmp_ber import V1, V2C, Value
from netgauge.pollers.snmp_client import Credentials, Endpoint, SnmpClient
from netgauge.pollers.snmp_profiles import load_profiles
from tests.lab.snmpsim import (
    Oid,
    Records,
    SnmpSim,
    format_snmprec,
    snmprec_value,
)

pytestmark = [pytest.mark.network]

CISCO = "cisco-ios-c9300"  # cisco-ios profile
JUNIPER = "juniper-mx480"  # juniper-junos profile
ARISTA = "arista-7050sx"  # no profile: generic, ENTITY-SENSOR temperatures
OLD = "old-ucd-linux24"  # no profile: generic, 32-bit counters only
LINUX = "linux-net-snmp"  # net-snmp-linux profile
HP = "hp-procurve-2920"  # hp-procurve profile: HP's private MIBs, two interfaces named lo0
NEXUS = "cisco-nexus-93180"  # cisco-nxos profile: CISCO-SYSTEM-EXT, CISCO-ENTITY-SENSOR
MIKROTIK = "mikrotik-ccr2004"  # mikrotik profile: temperatures in MIKROTIK-MIB's gauges
FORTIGATE = "fortigate-100f"  # fortigate profile: fgSysCpuUsage, fgSysMemUsage
APC = "apc-smart-ups"  # apc-ups profile: the battery's temperature only
WINDOWS = "windows-server-2019"  # generic: disks named "C:\ Label:OS  Serial Number ..."
PALOALTO = "paloalto-pa3220"  # generic: HOST-RESOURCES and ENTITY-SENSOR
ASA = "cisco-asa-5516"  # cisco-ios profile (sysObjectID under ciscoProducts)
EDGEROUTER = "ubiquiti-edgerouter4"  # ubiquiti profile: net-snmp 5.7, no memSysAvail
SYNOLOGY = "synology-ds920"  # net-snmp-linux (DSM's sysObjectID), SYNOLOGY-SYSTEM temperature
ARUBA_CX = "aruba-cx-6300"  # aruba-cx profile: ARUBAWIRED-VSFv2 and -TEMPSENSOR
QNAP = "qnap-ts453d"  # qnap profile: NAS-MIB's text answers
EDGESWITCH = "ubiquiti-edgeswitch24"  # fastpath profile: the CPU is a text of three averages
PRINTER = "hp-laserjet-m507"  # generic: a printer's HOST-RESOURCES processor and RAM
DEVICES: tuple[str, ...] = (CISCO, JUNIPER, ARISTA, OLD, LINUX, HP, NEXUS)
DEVICES += (MIKROTIK, FORTIGATE, APC, WINDOWS, PALOALTO, ASA, EDGEROUTER, SYNOLOGY, ARUBA_CX)
DEVICES += (QNAP, EDGESWITCH, PRINTER)

NS = 1_000_000_000
M32 = 1 << 32


def oid(text: str) -> Oid:
    return tuple(int(arc) for arc in text.split("."))


SYS_UPTIME = oid("1.3.6.1.2.1.1.3.0")
HR_SYSTEM_UPTIME = oid("1.3.6.1.2.1.25.1.1.0")  # the host's, where the agent serves it
IF_NUMBER = oid("1.3.6.1.2.1.2.1.0")
IF_ENTRY = oid("1.3.6.1.2.1.2.2.1")  # IF-MIB ifTable
IF_DESCR = IF_ENTRY + (2,)
IF_TYPE = IF_ENTRY + (3,)  # IANAifType
IF_IN = IF_ENTRY + (10,)  # ifInOctets, 32 bits
IF_OUT = IF_ENTRY + (16,)
IFX_ENTRY = oid("1.3.6.1.2.1.31.1.1.1")  # IF-MIB ifXTable
IF_NAME = IFX_ENTRY + (1,)
IF_HC_IN = IFX_ENTRY + (6,)  # ifHCInOctets, 64 bits
IF_HC_OUT = IFX_ENTRY + (10,)
HR_STORAGE = oid("1.3.6.1.2.1.25.2.3.1")
HR_RAM = oid("1.3.6.1.2.1.25.2.1.2")
HR_FIXED_DISK = oid("1.3.6.1.2.1.25.2.1.4")
HR_PROCESSOR_LOAD = oid("1.3.6.1.2.1.25.3.3.1.2")
CPM_CPU_1MIN_REV = oid("1.3.6.1.4.1.9.9.109.1.1.1.1.7")
CISCO_POOL_USED = oid("1.3.6.1.4.1.9.9.48.1.1.1.5")
CISCO_POOL_FREE = oid("1.3.6.1.4.1.9.9.48.1.1.1.6")
CISCO_TEMP_DESCR = oid("1.3.6.1.4.1.9.9.13.1.3.1.2")
CISCO_TEMP_VALUE = oid("1.3.6.1.4.1.9.9.13.1.3.1.3")
JNX_OPERATING = oid("1.3.6.1.4.1.2636.3.1.13.1")
JNX_DESCR = JNX_OPERATING + (5,)
JNX_TEMP = JNX_OPERATING + (7,)
JNX_CPU = JNX_OPERATING + (8,)
JNX_BUFFER = JNX_OPERATING + (11,)
ENT_PHYSICAL_NAME = oid("1.3.6.1.2.1.47.1.1.1.1.7")
ENT_PHYSICAL_DESCR = oid("1.3.6.1.2.1.47.1.1.1.1.2")
CISCO_ENT_SENSOR = oid("1.3.6.1.4.1.9.9.91.1.1.1.1")  # CISCO-ENTITY-SENSOR entSensorValueEntry
CSE_MEMORY = oid("1.3.6.1.4.1.9.9.305.1.1.2.0")  # CISCO-SYSTEM-EXT cseSysMemoryUtilization
HP_CPU = oid("1.3.6.1.4.1.11.2.14.11.5.1.9.6.1.0")  # STATISTICS-MIB hpSwitchCpuStat
HP_MEM_FREE = oid("1.3.6.1.4.1.11.2.14.11.5.1.1.2.1.1.1.6")  # NETSWITCH-MIB hpLocalMemFreeBytes
HP_MEM_ALLOC = oid("1.3.6.1.4.1.11.2.14.11.5.1.1.2.1.1.1.7")  # ... hpLocalMemAllocBytes
ENT_SENSOR = oid("1.3.6.1.2.1.99.1.1.1")  # entPhySensorEntry: type, scale, precision...
LM_TEMP_NAME = oid("1.3.6.1.4.1.2021.13.16.2.1.2")
LM_TEMP_VALUE = oid("1.3.6.1.4.1.2021.13.16.2.1.3")  # millidegrees
UCD_MEM_TOTAL = oid("1.3.6.1.4.1.2021.4.5.0")
UCD_MEM_AVAIL = oid("1.3.6.1.4.1.2021.4.6.0")  # MemFree, despite its name
UCD_MEM_BUFFER = oid("1.3.6.1.4.1.2021.4.14.0")
UCD_MEM_CACHED = oid("1.3.6.1.4.1.2021.4.15.0")
UCD_MEM_SYS_AVAIL = oid("1.3.6.1.4.1.2021.4.27.0")  # MemAvailable (net-snmp 5.8+)
SS_CPU_RAW = oid("1.3.6.1.4.1.2021.11")
SS_IO_RAW_SENT = SS_CPU_RAW + (57, 0)  # blocks written: not CPU ticks
# UCD-SNMP-MIB ssCpuRaw*: user nice system interrupt softIRQ steal are busy; idle and wait not
CPU_BUSY = {"user": 50, "nice": 51, "system": 52, "interrupt": 56, "softirq": 61, "steal": 64}
CPU_IDLE = {"idle": 53, "wait": 54}


# -- reading the walks --------------------------------------------------------------------


def column(records: Records, column_oid: Oid) -> dict[Oid, Value]:
    """{row index: value} of one table column of a walk."""
    n = len(column_oid)
    return {
        key[n:]: snmprec_value(*record)
        for key, record in records.items()
        if key[:n] == column_oid and len(key) > n
    }


def numbers(records: Records, column_oid: Oid) -> dict[Oid, int]:
    """{row index: value} of a column of numbers."""
    found = column(records, column_oid)
    assert all(isinstance(v, int) for v in found.values()), column_oid
    return {index: int(v) for index, v in found.items() if isinstance(v, int)}


def number(records: Records, key: Oid) -> int:
    value = snmprec_value(*records[key])
    assert isinstance(value, int)
    return value


def text(value: Value) -> str:
    assert isinstance(value, bytes)
    return value.decode()


def mean(values: list[int]) -> float:
    assert values
    return sum(values) / len(values)


def uptime(records: Records) -> float:
    """The host's uptime: hrSystemUptime where the walk has it, else the agent's sysUpTime."""
    return number(records, HR_SYSTEM_UPTIME if HR_SYSTEM_UPTIME in records else SYS_UPTIME) / 100


HR_FS_ACCESS = oid("1.3.6.1.2.1.25.3.8.1.5")  # readOnly(2)
HR_FS_STORAGE_INDEX = oid("1.3.6.1.2.1.25.3.8.1.7")
PSEUDO_TREES = ("/proc", "/sys", "/dev", "/run")


def hr_storage(records: Records, kind: Oid) -> list[tuple[str, float]]:
    """(hrStorageDescr, used %) of every row of ``kind`` with a size; for disks, not those
    hrFSTable marks read-only, nor mounts in the pseudo trees (a tmpfs at /run, /dev/shm)."""
    read_only = {
        (number(records, HR_FS_STORAGE_INDEX + row),)
        for row, access in numbers(records, HR_FS_ACCESS).items()
        if access == 2
    }
    rows = []
    for index, row_kind in column(records, HR_STORAGE + (2,)).items():
        size = number(records, HR_STORAGE + (5, *index))
        if row_kind == kind and size:
            used = number(records, HR_STORAGE + (6, *index))
            name = text(snmprec_value(*records[HR_STORAGE + (3, *index)]))
            point = name.rpartition(", mounted on: ")[2]  # Junos names the device first
            pseudo = any(point == t or point.startswith(t + "/") for t in PSEUDO_TREES)
            if kind == HR_FIXED_DISK and (index in read_only or pseudo):
                continue
            rows.append((name, 100 * used / size))
    return rows


def interface_names(records: Records) -> dict[Oid, str]:
    """ifIndex -> ifName, or ifDescr where the device has no ifXTable, of the interfaces a
    job watches by default: not those the walk's ifType says are softwareLoopback (24)."""
    names = column(records, IF_NAME) or column(records, IF_DESCR)
    loopbacks = {index for index, kind in numbers(records, IF_TYPE).items() if kind == 24}
    return {index: text(name) for index, name in names.items() if index not in loopbacks}


# -- what each device should read, by its vendor's formula -----------------------------------


def expected_cisco(r: Records) -> list[tuple[str, float]]:
    used = sum(numbers(r, CISCO_POOL_USED).values())
    free = sum(numbers(r, CISCO_POOL_FREE).values())
    names = column(r, CISCO_TEMP_DESCR)
    return [
        ("uptime_seconds", uptime(r)),
        # cpmCPUTotal1minRev per CPU, averaged (the older cpmCPUTotal1min differs on purpose)
        ("cpu_percent", mean(list(numbers(r, CPM_CPU_1MIN_REV).values()))),
        ("memory_percent", 100 * used / (used + free)),  # pools summed
        *(
            (f'temperature_celsius{{sensor="{text(names[i])}"}}', float(v))
            for i, v in numbers(r, CISCO_TEMP_VALUE).items()
        ),
    ]


def expected_juniper(r: Records) -> list[tuple[str, float]]:
    def nonzero(col: Oid) -> dict[Oid, int]:
        return {i: v for i, v in numbers(r, col).items() if v != 0}

    names = column(r, JNX_DESCR)
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", mean(list(nonzero(JNX_CPU).values()))),  # components without a CPU: 0
        ("memory_percent", mean(list(nonzero(JNX_BUFFER).values()))),
        *((f'disk_percent{{mount="{m}"}}', p) for m, p in hr_storage(r, HR_FIXED_DISK)),
        *(
            (f'temperature_celsius{{sensor="{text(names[i])}"}}', float(v))
            for i, v in nonzero(JNX_TEMP).items()
        ),
    ]


def entity_temperatures(r: Records, entry: Oid) -> list[tuple[str, float]]:
    """Celsius sensors of an entPhySensorEntry-shaped table (ENTITY-SENSOR-MIB, or Cisco's
    entSensorValueEntry), by the MIB's formula, named by entPhysicalName unless it is empty
    or a bare number, then entPhysicalDescr, then the index."""
    temps = []
    names, descrs = column(r, ENT_PHYSICAL_NAME), column(r, ENT_PHYSICAL_DESCR)
    for index, kind in column(r, entry + (1,)).items():
        sensor = {c: number(r, entry + (c, *index)) for c in (2, 3, 4, 5)}
        if kind != 8 or sensor[5] != 1:  # celsius(8) sensors whose status is ok(1)
            continue
        scale, precision, value = sensor[2], sensor[3], sensor[4]
        degrees = value * 1000.0 ** (scale - 9) / 10**precision  # units(9) = x1, milli(8)...
        name = text(names.get(index, b""))
        if not name or name.isdigit():
            name = text(descrs.get(index, b"")) or ".".join(map(str, index))
        temps.append((f'temperature_celsius{{sensor="{name}"}}', degrees))
    return temps


def expected_hp(r: Records) -> list[tuple[str, float]]:
    # STATISTICS-MIB hpSwitchCpuStat; NETSWITCH-MIB hpLocalMem alloc / (alloc + free)
    used = sum(numbers(r, HP_MEM_ALLOC).values())
    free = sum(numbers(r, HP_MEM_FREE).values())
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", number(r, HP_CPU)),
        ("memory_percent", 100 * used / (used + free)),
    ]


def expected_nexus(r: Records) -> list[tuple[str, float]]:
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", mean(list(numbers(r, CPM_CPU_1MIN_REV).values()))),
        ("memory_percent", number(r, CSE_MEMORY)),  # cseSysMemoryUtilization, a percentage
        *((f'disk_percent{{mount="{m}"}}', p) for m, p in hr_storage(r, HR_FIXED_DISK)),
        *entity_temperatures(r, CISCO_ENT_SENSOR),
    ]


MT_GAUGE = oid("1.3.6.1.4.1.14988.1.1.3.100.1")  # MIKROTIK-MIB mtxrGaugeEntry
FG_CPU = oid("1.3.6.1.4.1.12356.101.4.1.3.0")  # FORTINET-FORTIGATE-MIB fgSysCpuUsage
FG_MEMORY = oid("1.3.6.1.4.1.12356.101.4.1.4.0")  # ... fgSysMemUsage
APC_BATTERY_TEMP = oid("1.3.6.1.4.1.318.1.1.1.2.2.2.0")  # PowerNet-MIB upsAdvBatteryTemperature


def expected_mikrotik(r: Records) -> list[tuple[str, float]]:
    celsius = {i for i, unit in numbers(r, MT_GAUGE + (4,)).items() if unit == 1}  # celsius(1)
    names = column(r, MT_GAUGE + (2,))
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", mean(list(numbers(r, HR_PROCESSOR_LOAD).values()))),
        ("memory_percent", hr_storage(r, HR_RAM)[0][1]),
        *((f'disk_percent{{mount="{m}"}}', p) for m, p in hr_storage(r, HR_FIXED_DISK)),
        *(
            (f'temperature_celsius{{sensor="{text(names[i])}"}}', float(v))
            for i, v in numbers(r, MT_GAUGE + (3,)).items()
            if i in celsius
        ),
    ]


def expected_fortigate(r: Records) -> list[tuple[str, float]]:
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", number(r, FG_CPU)),
        ("memory_percent", number(r, FG_MEMORY)),
    ]


def expected_apc(r: Records) -> list[tuple[str, float]]:
    return [
        ("uptime_seconds", uptime(r)),
        ('temperature_celsius{sensor="battery"}', number(r, APC_BATTERY_TEMP)),
    ]


SYNO_TEMP = oid("1.3.6.1.4.1.6574.1.2.0")  # SYNOLOGY-SYSTEM-MIB temperature
CX_MEMBER = oid("1.3.6.1.4.1.47196.4.1.1.3.15.1.2.1")  # arubaWiredVsfv2MemberEntry
CX_TEMP = oid("1.3.6.1.4.1.47196.4.1.1.3.11.3.1.1")  # arubaWiredTempSensorEntry


def expected_qnap(r: Records) -> list[tuple[str, float]]:
    # the texts' numbers, read here by hand: "6.1 %", "7843.6 MB" total, "1838.5 MB" free,
    # "38 C/100 F"
    assert text(snmprec_value(*r[oid("1.3.6.1.4.1.24681.1.2.1.0")])) == "6.1 %"
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", 6.1),
        ("memory_percent", 100 * (7843.6 - 1838.5) / 7843.6),
        ('temperature_celsius{sensor="system"}', 38.0),
    ]


def expected_fastpath(r: Records) -> list[tuple[str, float]]:
    cpu = text(snmprec_value(*r[oid("1.3.6.1.4.1.4413.1.1.1.1.4.9.0")]))
    assert "60 Secs ( 12.1%)" in cpu  # the one-minute figure, read here by hand
    free = number(r, oid("1.3.6.1.4.1.4413.1.1.1.1.4.1.0"))
    total = number(r, oid("1.3.6.1.4.1.4413.1.1.1.1.4.2.0"))
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", 12.1),
        ("memory_percent", 100 * (total - free) / total),
    ]


def expected_aruba_cx(r: Records) -> list[tuple[str, float]]:
    names = column(r, CX_TEMP + (5,))
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", mean(list(numbers(r, CX_MEMBER + (9,)).values()))),  # CpuUtil
        ("memory_percent", mean(list(numbers(r, CX_MEMBER + (10,)).values()))),  # MemoryUtil
        *(
            (f'temperature_celsius{{sensor="{text(names[i])}"}}', v / 1000)  # millidegrees
            for i, v in numbers(r, CX_TEMP + (7,)).items()
        ),
    ]


def expected_net_snmp_host(r: Records) -> list[tuple[str, float]]:
    """A Linux appliance's net-snmp: hrProcessorLoad, MemAvailable (memSysAvail, else
    free + buffers + cached), hrStorage disks but the pseudo trees, and its temperature."""
    total = number(r, UCD_MEM_TOTAL)
    if UCD_MEM_SYS_AVAIL in r:
        available = number(r, UCD_MEM_SYS_AVAIL)
    else:
        available = sum(number(r, o) for o in (UCD_MEM_AVAIL, UCD_MEM_BUFFER, UCD_MEM_CACHED))
    temps = (
        [('temperature_celsius{sensor="system"}', number(r, SYNO_TEMP))] if SYNO_TEMP in r else []
    )
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", mean(list(numbers(r, HR_PROCESSOR_LOAD).values()))),
        ("memory_percent", 100 * (total - available) / total),
        *((f'disk_percent{{mount="{m}"}}', p) for m, p in hr_storage(r, HR_FIXED_DISK)),
        *temps,
    ]


def expected_generic(r: Records) -> list[tuple[str, float]]:
    loads = list(numbers(r, HR_PROCESSOR_LOAD).values())
    ram = hr_storage(r, HR_RAM)
    temps = entity_temperatures(r, ENT_SENSOR)
    return [
        ("uptime_seconds", uptime(r)),
        ("cpu_percent", mean(loads)),
        ("memory_percent", ram[0][1]),
        # (series() writes the label as JSON: a Windows volume's backslash is escaped)
        *(
            (Metric("disk_percent", p, {"mount": m}).series(), p)
            for m, p in hr_storage(r, HR_FIXED_DISK)
        ),
        *temps,
    ]


def expected_linux(r: Records) -> list[tuple[str, float]]:
    total = number(r, UCD_MEM_TOTAL)
    if UCD_MEM_SYS_AVAIL in r:
        available = number(r, UCD_MEM_SYS_AVAIL)
    else:  # older agents: MemFree + Buffers + Cached, what the kernel could hand out
        available = sum(number(r, o) for o in (UCD_MEM_AVAIL, UCD_MEM_BUFFER, UCD_MEM_CACHED))
    names = column(r, LM_TEMP_NAME)
    repeated = [text(n) for n in names.values()]

    def label(index: tuple[int, ...]) -> str:
        # a name that several sensors share is told apart by the row index
        name = text(names[index])
        return f"{name}/{'.'.join(map(str, index))}" if repeated.count(name) > 1 else name

    return [
        ("uptime_seconds", uptime(r)),
        ("memory_percent", 100 * (total - available) / total),
        *((f'disk_percent{{mount="{m}"}}', p) for m, p in hr_storage(r, HR_FIXED_DISK)),
        *(
            (f'temperature_celsius{{sensor="{label(i)}"}}', v / 1000)  # millidegrees
            for i, v in numbers(r, LM_TEMP_VALUE).items()
        ),
    ]


EXPECTED = {
    CISCO: expected_cisco,
    JUNIPER: expected_juniper,
    ARISTA: expected_generic,
    OLD: expected_generic,
    LINUX: expected_linux,
    HP: expected_hp,
    NEXUS: expected_nexus,
    MIKROTIK: expected_mikrotik,
    FORTIGATE: expected_fortigate,
    APC: expected_apc,
    WINDOWS: expected_generic,
    PALOALTO: expected_generic,
    ASA: expected_cisco,
    EDGEROUTER: expected_net_snmp_host,
    SYNOLOGY: expected_net_snmp_host,
    ARUBA_CX: expected_aruba_cx,
    QNAP: expected_qnap,
    EDGESWITCH: expected_fastpath,
    PRINTER: expected_generic,
}
# metric -> the error line a device without it has (absent, never 0)
ABSENT = {
    CISCO: {"disk_percent": "disk_percent: not available on this device"},
    JUNIPER: {},
    ARISTA: {},
    OLD: {"temperature_celsius": "temperature_celsius: not available on this device"},
    # the first poll only records the tick counters (hrProcessorLoad is not there yet)
    LINUX: {"cpu_percent": "cpu_percent: first tick reading; the value comes next poll"},
    HP: {"temperature_celsius": "temperature_celsius: not available on this device"},
    NEXUS: {},
    MIKROTIK: {},
    FORTIGATE: {"temperature_celsius": "temperature_celsius: not available on this device"},
    APC: {},
    WINDOWS: {"temperature_celsius": "temperature_celsius: not available on this device"},
    PALOALTO: {},
    ASA: {
        "disk_percent": "disk_percent: not available on this device",
        "temperature_celsius": "temperature_celsius: not available on this device",
    },
    EDGEROUTER: {"temperature_celsius": "temperature_celsius: not available on this device"},
    SYNOLOGY: {},
    ARUBA_CX: {},
    QNAP: {"disk_percent": "disk_percent: not available on this device"},
    EDGESWITCH: {"temperature_celsius": "temperature_celsius: not available on this device"},
    PRINTER: {
        "disk_percent": "disk_percent: not available on this device",
        "temperature_celsius": "temperature_celsius: not available on this device",
    },
}


def assert_metrics(reading: DeviceReading, expected: list[tuple[str, float]]) -> None:
    """The reading has exactly the expected series (duplicates included), each value equal
    to the expected one (to the last bits of a float: scaling is a multiplication)."""
    got = sorted((m.series(), m.value) for m in reading.metrics)
    assert [s for s, _ in got] == sorted(s for s, _ in expected), reading.errors
    for (series, value), (_, want) in zip(got, sorted(expected), strict=True):
        assert value == pytest.approx(want, rel=1e-12, abs=1e-12), series


# -- changing the walks between polls ---------------------------------------------------------


def advance(records: Records, seconds: int, traffic: Mapping[int, tuple[int, int]]) -> Records:
    """``records`` ``seconds`` later: sysUpTime on, and octets in/out of each ifIndex of
    ``traffic`` grown by its deltas, in the 64-bit counters where the device has them and in
    the 32-bit ones (wrapping) always."""
    new = dict(records)
    for clock in (SYS_UPTIME, HR_SYSTEM_UPTIME):
        if clock in records:
            new[clock] = ("67", str(number(records, clock) + seconds * 100))
    for if_index, deltas in traffic.items():
        for delta, hc, narrow in zip(deltas, (IF_HC_IN, IF_HC_OUT), (IF_IN, IF_OUT), strict=True):
            if hc + (if_index,) in records:
                new[hc + (if_index,)] = ("70", str(number(records, hc + (if_index,)) + delta))
            value = (number(records, narrow + (if_index,)) + delta) % M32
            new[narrow + (if_index,)] = ("65", str(value))
    return new


class Clock:
    """The poller's clock (``clock_ns``), moved on by the test."""

    def __init__(self) -> None:
        self.now_ns = 1_700_000_000 * NS

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: int) -> None:
        self.now_ns += seconds * NS


def rates(reading: DeviceReading) -> dict[str, float]:
    return {m.series(): m.value for m in reading.metrics if m.name.startswith("net_")}


def rate_series(direction: str, interface: str) -> str:
    return f'net_{direction}_bytes_per_sec{{interface="{interface}"}}'


@pytest.fixture
def agents(snmpsim: SnmpSim) -> Iterator[SnmpSim]:
    """The session's snmpsim; what a test changed is put back after it."""
    yield snmpsim
    snmpsim.restore()


@pytest.fixture
async def client() -> AsyncIterator[SnmpClient]:
    """One client (one socket) for every device of a test."""
    async with SnmpClient(timeout=1.0, retries=1) as snmp:
        yield snmp


class Device:
    """One simulated device polled by one poller with an injected clock."""

    def __init__(
        self, agents: SnmpSim, client: SnmpClient, community: str, version: int = V2C
    ) -> None:
        self.agents = agents
        self.community = community
        self.clock = Clock()
        self.poller = SnmpPoller(client, load_profiles(), clock_ns=self.clock)
        self.endpoint = Endpoint(agents.address, agents.port)
        self.credentials = Credentials(version, community.encode())

    @property
    def records(self) -> Records:
        return self.agents.records(self.community)

    def serve(self, records: Records) -> None:
        self.agents.replace(self.community, format_snmprec(records))

    async def poll(self) -> DeviceReading:
        reading = await self.poller.poll(self.community, self.endpoint, self.credentials)
        assert reading.state is DeviceState.ONLINE, reading.errors
        return reading


# -- the tests ------------------------------------------------------------------------------


async def test_every_device_polled_at_once_reads_what_its_walk_says(
    agents: SnmpSim, client: SnmpClient
) -> None:
    assert sorted(agents.communities) == sorted(DEVICES)
    endpoint = Endpoint(agents.address, agents.port)
    poller = SnmpPoller(client, load_profiles())
    readings = await asyncio.gather(
        *(poller.poll(name, endpoint, Credentials(V2C, name.encode())) for name in DEVICES)
    )
    for name, reading in zip(DEVICES, readings, strict=True):
        assert reading.state is DeviceState.ONLINE, (name, reading.errors)
        assert_metrics(reading, EXPECTED[name](agents.records(name)))
        # a metric the device lacks is absent with a reason, never a 0
        names = {m.name for m in reading.metrics}
        for metric, error in ABSENT[name].items():
            assert metric not in names, name
            assert any(line.startswith(error) for line in reading.errors), (name, reading.errors)
        assert len(reading.errors) == len(ABSENT[name]), (name, reading.errors)
        # the first poll has no rates yet
        assert not rates(reading), name


async def test_profile_is_chosen_by_sys_object_id(agents: SnmpSim, client: SnmpClient) -> None:
    """The same numbers read differently by profile: Cisco's CPU is cpmCPUTotal1minRev, not
    the older column; Juniper's skips components without a CPU; an unknown enterprise gets
    the generic profile (hrProcessorLoad, and temperatures from ENTITY-SENSOR)."""
    cisco = await Device(agents, client, CISCO).poll()
    juniper = await Device(agents, client, JUNIPER).poll()
    arista = await Device(agents, client, ARISTA).poll()
    got = {
        name: {m.series(): m.value for m in reading.metrics}
        for name, reading in ((CISCO, cisco), (JUNIPER, juniper), (ARISTA, arista))
    }
    assert got[CISCO]["cpu_percent"] == (7 + 4) / 2  # cpmCPUTotal1min says (8 + 5) / 2
    assert got[JUNIPER]["cpu_percent"] == (17 + 12 + 7 + 1) / 4  # 7 zero rows left out
    assert got[JUNIPER]["memory_percent"] == (31 + 30 + 14 + 12) / 4
    assert got[ARISTA]["cpu_percent"] == (6 + 9) / 2
    assert got[ARISTA]['temperature_celsius{sensor="TempSensor1"}'] == 45.2  # 452, precision 1
    # no entPhysicalName: its entPhysicalDescr (it was the bare index, 100006003)
    assert got[ARISTA]['temperature_celsius{sensor="Front-panel temp sensor"}'] == 33.7
    assert got[ARISTA]['temperature_celsius{sensor="TempSensor4"}'] == pytest.approx(52.375)
    arista_sensors = {m.labels["sensor"] for m in arista.metrics if m.labels.get("sensor")}
    assert "TempSensor5" not in arista_sensors  # status unavailable(2)
    assert not arista_sensors & {"VoltageSensor1", "FanSensor1"}  # not celsius


async def test_procurve_and_nexus_read_their_private_mibs(
    agents: SnmpSim, client: SnmpClient
) -> None:
    hp = Device(agents, client, HP)
    original = hp.records
    first = {m.series(): m.value for m in (await hp.poll()).metrics}
    assert first["cpu_percent"] == 13  # hpSwitchCpuStat
    # two stack members: (113,235,968 + 62,382,080) / (2 × 364,371,968) bytes allocated
    assert first["memory_percent"] == pytest.approx(100 * 175_618_048 / 728_743_936)
    hp.serve(advance(original, 10, {4001: (1_000, 0), 4002: (3_000, 0)}))
    hp.clock.advance(10)
    try:
        both = rates(await hp.poll())
    finally:
        hp.serve(original)
    # the two loopbacks both named lo0 stay two series
    assert both[rate_series("in", "lo0#4001")] == 100.0
    assert both[rate_series("in", "lo0#4002")] == 300.0

    nexus = {m.series(): m.value for m in (await Device(agents, client, NEXUS).poll()).metrics}
    assert nexus["memory_percent"] == 37  # cseSysMemoryUtilization
    temps = {k: v for k, v in nexus.items() if k.startswith("temperature_celsius")}
    assert len(temps) == 16  # the unavailable one and the voltage and current sensors left out
    assert temps['temperature_celsius{sensor="module-1 CPU"}'] == 36


async def test_an_ios_xe_catalyst_reads_cisco_entity_sensor_before_envmon(
    agents: SnmpSim, client: SnmpClient
) -> None:
    # IOS-XE 17 keeps its sensors in CISCO-ENTITY-SENSOR-MIB: here two celsius sensors (one
    # in tenths of a degree) and a voltage one, beside the ENVMON rows of the recording
    device = Device(agents, client, CISCO)
    original = device.records
    catalyst = dict(original)
    rows = {1008: ("Switch 1 - Inlet Temp Sensor", 8, 9, 0, 31), 1009: ("", 8, 9, 1, 456),
            1010: ("Switch 1 - PSU 1 Vout", 4, 9, 0, 12)}  # fmt: skip
    for index, (name, kind, scale, precision, value) in rows.items():
        for column_, number_ in ((1, kind), (2, scale), (3, precision), (4, value), (5, 1)):
            catalyst[CISCO_ENT_SENSOR + (column_, index)] = ("2", str(number_))
        catalyst[ENT_PHYSICAL_NAME + (index,)] = ("4", name)
        catalyst[ENT_PHYSICAL_DESCR + (index,)] = ("4", f"Temp Sensor {index}")
    device.serve(catalyst)
    try:
        reading = await device.poll()
    finally:
        device.serve(original)
    temps = {m.labels["sensor"]: m.value for m in reading.metrics if m.name.startswith("temp")}
    assert temps == {"Switch 1 - Inlet Temp Sensor": 31.0, "Temp Sensor 1009": 45.6}


async def test_interface_rates_are_the_counter_deltas_over_the_clock(
    agents: SnmpSim, client: SnmpClient
) -> None:
    device = Device(agents, client, CISCO)
    names = interface_names(device.records)
    assert names == {(1,): "Gi0/0", (9,): "Gi1/0/1", (10,): "Gi1/0/2", (61,): "Te1/1/1"}
    assert not rates(await device.poll())

    # 6.75 GB in 10 s on the 10G uplink: more than 2**32, so only the 64-bit counter tells
    traffic = {61: (6_750_000_000, 1_250_000_000), 9: (12_345_678, 87_654_321), 1: (0, 0)}
    device.serve(advance(device.records, 10, traffic))
    device.clock.advance(10)
    second = await device.poll()
    want = {}
    for (if_index,), name in names.items():
        delta_in, delta_out = traffic.get(if_index, (0, 0))
        want[rate_series("in", name)] = delta_in / 10
        want[rate_series("out", name)] = delta_out / 10
    assert rates(second) == want  # exactly: integer deltas over whole seconds
    assert want[rate_series("in", "Te1/1/1")] == 675_000_000.0

    # a 64-bit counter going down without a reboot was cleared: no rate, not a bogus one
    cleared = advance(device.records, 5, {61: (1_000_000, 2_000_000)})
    cleared[IF_HC_IN + (9,)] = ("70", "1000")
    cleared[IF_IN + (9,)] = ("65", "1000")
    device.serve(cleared)
    device.clock.advance(5)
    third = rates(await device.poll())
    assert rate_series("in", "Gi1/0/1") not in third
    assert third[rate_series("out", "Gi1/0/1")] == 0.0
    assert third[rate_series("in", "Te1/1/1")] == 1_000_000 / 5

    device.serve(advance(device.records, 4, {9: (4_000, 0)}))
    device.clock.advance(4)
    assert rates(await device.poll())[rate_series("in", "Gi1/0/1")] == 4_000 / 4


async def test_two_interfaces_with_one_name_stay_two_series(
    agents: SnmpSim, client: SnmpClient
) -> None:
    # an HP ProCurve names two loopbacks lo0: here Gi1/0/1 and Gi1/0/2 both answer "lo0"
    device = Device(agents, client, CISCO)
    original = device.records
    twins = dict(original)
    for index in (9, 10):
        twins[IF_NAME + (index,)] = ("4", "lo0")
    device.serve(twins)
    try:
        await device.poll()
        traffic = {9: (1_000, 0), 10: (5_000, 0)}
        device.serve(advance(twins, 10, traffic))
        device.clock.advance(10)
        got = rates(await device.poll())
        # and again, from a poller that starts afresh (a restart): the same series
        restarted = Device(agents, client, CISCO)
        await restarted.poll()
        device.serve(advance(device.records, 10, traffic))
        restarted.clock.advance(10)
        again = rates(await restarted.poll())
    finally:
        device.serve(original)
    assert got[rate_series("in", "lo0#9")] == 100.0
    assert got[rate_series("in", "lo0#10")] == 500.0
    assert rate_series("in", "lo0") not in got
    assert again[rate_series("in", "lo0#9")] == 100.0
    assert again[rate_series("in", "lo0#10")] == 500.0


@pytest.mark.parametrize("version", [V2C, V1], ids=["v2c", "v1"])
async def test_a_32_bit_counter_that_wraps_gives_the_wrapped_delta(
    agents: SnmpSim, client: SnmpClient, version: int
) -> None:
    device = Device(agents, client, OLD, version)
    records = device.records
    assert not column(records, IF_HC_IN), "the old device has no 64-bit counters"
    eth0 = (2,)
    before = number(records, IF_IN + eth0)
    assert before == 4_294_000_000  # 967,295 below the wrap
    await device.poll()

    wrapped = advance(records, 30, {3: (3_000, 6_000)})
    wrapped[IF_IN + eth0] = ("65", "1500000")
    device.serve(wrapped)
    device.clock.advance(30)
    got = rates(await device.poll())
    assert got[rate_series("in", "eth0")] == (1_500_000 + M32 - before) / 30
    assert got[rate_series("out", "eth0")] == 0.0
    assert got[rate_series("in", "eth1")] == 3_000 / 30  # named by ifDescr (no ifName)
    assert got[rate_series("out", "eth1")] == 6_000 / 30


async def test_an_agent_restart_gives_no_rate_then_the_right_one(
    agents: SnmpSim, client: SnmpClient
) -> None:
    device = Device(agents, client, JUNIPER)
    names = interface_names(device.records)
    await device.poll()

    # rebooted 3 minutes ago: sysUpTime down, every counter started again from 0
    rebooted = dict(device.records)
    rebooted[SYS_UPTIME] = ("67", "18000")
    for key, (tag, _value) in device.records.items():
        if (key[: len(IFX_ENTRY)] == IFX_ENTRY and tag == "70") or key[:-1] in (IF_IN, IF_OUT):
            rebooted[key] = (tag, "0")
    xe0 = 526
    rebooted = advance(rebooted, 0, {xe0: (1_000_000, 2_000_000)})
    device.serve(rebooted)
    device.clock.advance(300)
    after_reboot = await device.poll()
    assert not rates(after_reboot)
    assert any("agent restarted" in line for line in after_reboot.errors), after_reboot.errors
    values = {m.series(): m.value for m in after_reboot.metrics}
    assert values["uptime_seconds"] == 180.0
    assert "cpu_percent" in values  # a restart resets rates only

    traffic = {xe0: (600_000_000, 300_000_000), 1: (60_000, 6_000)}
    device.serve(advance(device.records, 60, traffic))
    device.clock.advance(60)
    next_poll = await device.poll()
    assert not any("restarted" in line for line in next_poll.errors)
    want = {}
    for (if_index,), name in names.items():
        delta_in, delta_out = traffic.get(if_index, (0, 0))
        want[rate_series("in", name)] = delta_in / 60
        want[rate_series("out", name)] = delta_out / 60
    assert rates(next_poll) == want


def with_interface(records: Records, if_index: int, like: int, name: str, descr: str) -> Records:
    """``records`` with one more interface, its rows copied from ifIndex ``like``."""
    new = dict(records)
    for key, (tag, value) in records.items():
        in_table = key[: len(IF_ENTRY)] == IF_ENTRY or key[: len(IFX_ENTRY)] == IFX_ENTRY
        if in_table and key[-1] == like:
            new[key[:-1] + (if_index,)] = (tag, value)
    new[IF_ENTRY + (1, if_index)] = ("2", str(if_index))
    new[IF_DESCR + (if_index,)] = ("4", descr)
    new[IF_NAME + (if_index,)] = ("4", name)
    new[IF_NUMBER] = ("2", str(number(records, IF_NUMBER) + 1))
    return new


async def test_a_new_interface_is_named_after_the_names_are_walked_again(
    agents: SnmpSim, client: SnmpClient
) -> None:
    device = Device(agents, client, CISCO)
    await device.poll()

    # a transceiver plugged in: Gi1/0/3 appears (ifIndex 11), between polls
    added = with_interface(device.records, 11, 10, "Gi1/0/3", "GigabitEthernet1/0/3")
    device.serve(advance(added, 10, {9: (1_000, 2_000)}))
    device.clock.advance(10)
    second = rates(await device.poll())
    assert second[rate_series("in", "Gi1/0/1")] == 100.0
    assert not any("Gi1/0/3" in series or '"11"' in series for series in second)  # first reading

    device.serve(advance(device.records, 10, {11: (50_000, 70_000)}))
    device.clock.advance(10)
    third = rates(await device.poll())
    assert third[rate_series("in", "Gi1/0/3")] == 5_000.0  # its ifName, walked again
    assert third[rate_series("out", "Gi1/0/3")] == 7_000.0
    assert {series.split('"')[1] for series in third} == {
        "Gi0/0",
        "Gi1/0/1",
        "Gi1/0/2",
        "Gi1/0/3",
        "Te1/1/1",
    }


@pytest.mark.parametrize(
    "io_blocks",
    [
        0,
        52_000,
    ],
    ids=["no-disk-writes", "disk-writes"],
)
async def test_linux_cpu_is_the_busy_share_of_the_ticks_between_polls(
    agents: SnmpSim, client: SnmpClient, io_blocks: int
) -> None:
    device = Device(agents, client, LINUX)
    first = await device.poll()
    assert "cpu_percent" not in {m.name for m in first.metrics}

    # 5 s of 4 CPUs at 100 ticks/s: 2000 ticks, 410 of them busy
    ticks = {"user": 300, "system": 100, "softirq": 10, "idle": 1540, "wait": 50}
    assert sum(ticks.values()) == 4 * 100 * 5
    later = advance(device.records, 5, {})
    for counter, delta in ticks.items():
        key = SS_CPU_RAW + ({**CPU_BUSY, **CPU_IDLE}[counter], 0)
        later[key] = ("65", str(number(later, key) + delta))
    later[SS_IO_RAW_SENT] = ("65", str(number(later, SS_IO_RAW_SENT) + io_blocks))
    device.serve(later)
    device.clock.advance(5)
    second = {m.series(): m.value for m in (await device.poll()).metrics}
    busy = sum(ticks.get(name, 0) for name in CPU_BUSY)
    assert second["cpu_percent"] == pytest.approx(100 * busy / sum(ticks.values()))  # 20.5 %


async def test_linux_memory_counts_page_cache_as_available_with_or_without_mem_sys_avail(
    agents: SnmpSim, client: SnmpClient
) -> None:
    device = Device(agents, client, LINUX)
    original = device.records
    r = original
    total = number(r, UCD_MEM_TOTAL)
    memory = {m.name: m.value for m in (await device.poll()).metrics}["memory_percent"]
    assert memory == 100 * (total - number(r, UCD_MEM_SYS_AVAIL)) / total
    # MemFree alone would call this much more memory used
    assert memory < 100 * (total - number(r, UCD_MEM_AVAIL)) / total - 5
    # an agent older than net-snmp 5.8: no memSysAvail
    older = {k: v for k, v in r.items() if k != UCD_MEM_SYS_AVAIL}
    device.serve(older)
    try:
        reading = await device.poll()
    finally:
        device.serve(original)
    free = sum(number(r, o) for o in (UCD_MEM_AVAIL, UCD_MEM_BUFFER, UCD_MEM_CACHED))
    got = {m.name: m.value for m in reading.metrics}["memory_percent"]
    assert got == 100 * (total - free) / total
    assert "2021.4.14.0" in reading.sources["memory_percent"]


async def test_each_sensor_is_a_series_of_its_own(agents: SnmpSim, client: SnmpClient) -> None:
    names = [text(v) for v in column(agents.records(LINUX), LM_TEMP_NAME).values()]
    assert names.count("temp1") == 2  # as lm-sensors names them on many PCs
    reading = await Device(agents, client, LINUX).poll()
    series = [m.series() for m in reading.metrics]
    assert len(series) == len(set(series))


async def test_the_old_device_reads_the_same_over_v1_and_v2c(
    agents: SnmpSim, client: SnmpClient
) -> None:
    v2c = await Device(agents, client, OLD, V2C).poll()
    v1 = await Device(agents, client, OLD, V1).poll()
    assert sorted((m.series(), m.value) for m in v1.metrics) == sorted(
        (m.series(), m.value) for m in v2c.metrics
    )
    assert v1.errors == v2c.errors


def mib2_view(records: Records) -> Records:
    """What an agent whose view holds only MIB-II system and interfaces serves: the MIB
    ends right after ifTable (no ifXTable, no HOST-RESOURCES, no enterprise tree)."""
    kept = (oid("1.3.6.1.2.1.1"), oid("1.3.6.1.2.1.2"))
    return {key: record for key, record in records.items() if key[:7] in kept}


async def test_v1_interfaces_of_an_agent_whose_mib_ends_after_if_table(
    agents: SnmpSim, client: SnmpClient
) -> None:
    view = mib2_view(agents.records(OLD))
    with SnmpSim({"mib2": format_snmprec(view)}) as small:
        device = Device(small, client, "mib2", V1)
        await device.poll()
        small.replace("mib2", format_snmprec(advance(view, 10, {2: (10_000, 20_000)})))
        device.clock.advance(10)
        second = await device.poll()
    assert not any(line.startswith("interfaces:") for line in second.errors), second.errors
    assert rates(second)[rate_series("in", "eth0")] == 1_000.0


def test_the_recorded_walks_are_well_formed(agents: SnmpSim) -> None:
    """Sorted by OID, one line each, every value of its tag's type (snmpsim answers GETNEXT
    in file order, so an unsorted walk would hide rows)."""
    for name in DEVICES:
        path_text = agents.data_file(name).read_text()
        records = agents.records(name)
        assert format_snmprec(records) == path_text, f"{name}.snmprec is not sorted by OID"
        for key, record in records.items():
            value = snmprec_value(*record)
            if record[0] in ("65", "66", "67"):
                assert isinstance(value, int) and 0 <= value < M32, (name, key)
            if record[0] == "2":  # INTEGER (Integer32): a bigger one is no device's answer
                assert isinstance(value, int) and -(1 << 31) <= value < 1 << 31, (name, key)
            if record[0] == "70":
                assert isinstance(value, int) and 0 <= value < 1 << 64, (name, key)
        uptime_s = uptime(records)
        assert math.isfinite(uptime_s) and uptime_s > 0
