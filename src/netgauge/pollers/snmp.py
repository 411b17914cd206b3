"""SNMP device poller: CPU, memory, disk, temperature, interface rates and uptime.

One poll of one device:

1. GET sysObjectID.0 and sysUpTime.0. No answer: the device is OFFLINE (a reading, not an
   exception). The sysObjectID picks the device profile (``snmp_profiles``); the uptime
   going down means the agent restarted, so every counter baseline of the device is reset.
2. Each metric from the first source of its profile that the device answers (a table it
   lacks moves on to the next source; none answering leaves the metric *absent*, with a
   line in ``errors`` saying so).
3. Interfaces and disks are those the job selects (its ``interfaces`` and ``disks``,
   :mod:`selection`): an interface by its name and ifType (loopbacks left out by default),
   a disk by its hrStorageDescr and hrStorageType name, after the default rule of
   :mod:`filesystems`. An interface left out is not read into any rate.
4. Counters (interface octets, CPU ticks) become rates against the previous poll's
   readings (``rates.RateTracker``): the first poll of a device has no rates yet. A
   one-shot ``netgauge poll snmp`` therefore polls twice, ``--rate-interval`` apart.

Tables are walked with GETBULK, all columns of a table at once (``snmp_client``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from netgauge.pollers import filesystems
from netgauge.pollers.rates import CounterReading, RateTracker
from netgauge.pollers.readings import (
    CPU_PERCENT,
    DISK_PERCENT,
    MEMORY_PERCENT,
    NET_IN_BYTES_PER_SEC,
    NET_OUT_BYTES_PER_SEC,
    TEMPERATURE_CELSIUS,
    UPTIME_SECONDS,
    DeviceReading,
    DeviceState,
    Metric,
)
from netgauge.pollers.selection import DiskSelection, InterfaceSelection, if_type_name
from netgauge.pollers.snmp_ber import Value, VarBindException
from netgauge.pollers.snmp_client import (
    Credentials,
    Endpoint,
    Oid,
    SnmpError,
    SnmpQueries,
    SnmpTimeoutError,
)
from netgauge.pollers.snmp_profiles import (
    AverageOf,
    CpuTicks,
    Profile,
    SensorTable,
    Source,
    UsedAndFree,
    UsedOfTotal,
    profile_for,
)
from netgauge.pollers.validation import Rejections
from netgauge.probes.patterns import Pattern, compile_text

KIND = "snmp"
SYS_OBJECT_ID: Oid = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 1, 3, 0)  # the SNMP agent's uptime
HR_SYSTEM_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 25, 1, 1, 0)  # the host's (HOST-RESOURCES-MIB)

# HOST-RESOURCES-MIB hrStorageTable
HR_STORAGE_TYPE: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 2)
HR_STORAGE_DESCR: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 3)
HR_STORAGE_UNITS: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 4)
HR_STORAGE_SIZE: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 5)
HR_STORAGE_USED: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 6)
HR_STORAGE_RAM: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 1, 2)
HR_STORAGE_FIXED_DISK: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 1, 4)
# hrFSTable: which file systems are read-only (hrFSAccess), and their hrStorage row
HR_FS_ACCESS: Oid = (1, 3, 6, 1, 2, 1, 25, 3, 8, 1, 5)
HR_FS_STORAGE_INDEX: Oid = (1, 3, 6, 1, 2, 1, 25, 3, 8, 1, 7)
_FS_READ_ONLY = 2  # hrFSAccess readOnly(2)
# HOST-RESOURCES-TYPES hrStorageTypes 1.3.6.1.2.1.25.2.1.<n>: a disk's type by its name
HR_STORAGE_TYPES: dict[Oid, str] = {
    (1, 3, 6, 1, 2, 1, 25, 2, 1, n): name
    for n, name in enumerate(
        ("hrStorageOther", "hrStorageRam", "hrStorageVirtualMemory", "hrStorageFixedDisk",
         "hrStorageRemovableDisk", "hrStorageFloppyDisk", "hrStorageCompactDisc",
         "hrStorageRamDisk", "hrStorageFlashMemory", "hrStorageNetworkDisk"),
        start=1,
    )
}  # fmt: skip

# IF-MIB: names, 64-bit octet counters (ifXTable) with the 32-bit ones as fallback
IF_DESCR: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)
IF_TYPE: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 3)  # IANAifType: softwareLoopback(24)...
IF_OPER_STATUS: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)
IF_IN_OCTETS: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 10)
IF_OUT_OCTETS: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 16)
IF_NAME: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_HC_IN_OCTETS: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6)
IF_HC_OUT_OCTETS: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10)

# ENTITY-SENSOR-MIB entPhySensorTable, named by ENTITY-MIB entPhysicalName
ENT_PHYSICAL_NAME: Oid = (1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 7)
ENT_PHYSICAL_DESCR: Oid = (1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 2)
ENT_SENSOR_ENTRY: Oid = (1, 3, 6, 1, 2, 1, 99, 1, 1, 1)  # ENTITY-SENSOR-MIB entPhySensorEntry
# CISCO-ENTITY-SENSOR-MIB entSensorValueEntry: Catalyst and Nexus put their sensors here
CISCO_ENT_SENSOR_ENTRY: Oid = (1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 1, 1, 1)
_COUNTERS = (IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS, IF_IN_OCTETS, IF_OUT_OCTETS)
_REFRESH_STEP_S = 0.1  # how often a poll asks whether the agent refreshed its counters
_WATCHED = 8  # interfaces watched for a refresh before the busiest one is known
_CELSIUS = 8  # EntitySensorDataType celsius(8)
_SENSOR_OK = 1  # EntitySensorStatus ok(1)
_UNITS_SCALE = 9  # EntitySensorDataScale units(9); each step is a factor of 1000


@dataclass
class _DeviceMemory:
    """What is kept about one device between polls."""

    profile: Profile | None = None
    sys_object_id: Oid = ()
    cpu_ticks: tuple[int, int] | None = None  # (busy, total) at the previous poll
    # ifIndex -> name and IANAifType name (None: the agent has no ifType), kept between
    # polls: walked again only when the set of interfaces changes or the agent restarts
    if_names: dict[Oid, str] = field(default_factory=dict)
    if_types: dict[Oid, str | None] = field(default_factory=dict)
    # the interface whose counters moved most at the last poll: watched for the agent's
    # counter refresh (None: none moved); live_counters: the agent reads them on every request
    busiest: Oid | None = None
    live_counters: bool = False
    idle: bool = False  # no interface moved between the last two polls: nothing to watch


@dataclass
class _Poll:
    """One poll in progress: the metrics found and the problems met."""

    device: str
    endpoint: Endpoint
    credentials: Credentials
    now_ns: int
    metrics: list[Metric] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    silent_parts: int = 0  # parts of the poll that timed out after the first answer
    sources: dict[str, str] = field(default_factory=dict)  # metric -> where it came from


def _number(value: Value) -> int | None:
    """An integer value, or None for a missing one (noSuchInstance, a string...)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return None


_TEXT_NUMBER = re.compile(r"([-+]?\d+(?:\.\d+)?)\s*([kKMGT]?B)?")
_UNIT = {None: 1, "B": 1, "kB": 1024, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _text_number(value: Value) -> float | None:
    """The first number of a text answer ("6.1 %" 6.1, "45 C/113 F" 45), times its unit when
    one follows ("7843.6 MB": bytes); None for no number."""
    found = _TEXT_NUMBER.search(_text(value))
    if found is None:
        return None
    return float(found.group(1)) * _UNIT.get(found.group(2), 1)


def _matched(value: Value, pattern: Pattern) -> float | None:
    """The number in the first group of ``pattern`` in a text answer (None: no match)."""
    found = pattern.search(_text(value))
    if found is None or not found.groups():
        return None
    try:
        return float(found.group(1))
    except (TypeError, ValueError):
        return None


def _value(value: Value, text: bool) -> float | None:
    """A number the source reads: an integer, or with ``text`` the number in a text."""
    return _text_number(value) if text else _number(value)


def _text(value: Value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00").strip()
    return "" if value is None or isinstance(value, VarBindException) else str(value)


class SnmpPoller:
    """Polls devices over SNMP v1/v2c; keeps per-device baselines for rates."""

    kind = KIND

    def __init__(
        self,
        client: SnmpQueries,
        profiles: Mapping[str, Profile],
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        rejections: Rejections | None = None,
        counter_wait_s: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        mounts: Sequence[str] = (),
        interfaces: InterfaceSelection | None = None,
        disks: DiskSelection | None = None,
    ) -> None:
        self._client = client
        self._mounts = tuple(mounts)  # patterns of the mounts to report (filesystems.is_disk)
        self._chosen_interfaces = interfaces if interfaces is not None else InterfaceSelection()
        self._chosen_disks = disks if disks is not None else DiskSelection()
        # net-snmp (and others) serve interface counters from a cache refreshed every few
        # seconds: a value read at t was counted up to 3 s earlier, and a 10 s rate was 10-20 %
        # off. Up to counter_wait_s, the poll waits for the next refresh and times the
        # counters by it (see _aligned_counters); 0 reads them as they come.
        self._counter_wait_s = counter_wait_s
        self._sleep = sleep
        # shared by every poller of a service, so refusals are counted in one place
        self.rejections = rejections if rejections is not None else Rejections()
        self._profiles = dict(profiles)
        self._clock_ns = clock_ns
        self._rates = RateTracker()
        self._memory: dict[str, _DeviceMemory] = {}

    async def poll(
        self, device: str, endpoint: Endpoint, credentials: Credentials
    ) -> DeviceReading:
        """One poll of ``device``: ONLINE with its metrics, or OFFLINE when it is silent."""
        poll = _Poll(device, endpoint, credentials, self._clock_ns())
        try:
            system = await self._client.get(
                endpoint, credentials, [SYS_OBJECT_ID, SYS_UPTIME, HR_SYSTEM_UPTIME]
            )
        except SnmpTimeoutError as exc:
            return DeviceReading(device, KIND, poll.now_ns, DeviceState.OFFLINE, (), (str(exc),))
        except SnmpError as exc:
            return DeviceReading(device, KIND, poll.now_ns, DeviceState.DEGRADED, (), (str(exc),))
        memory = self._remember(device, system.get(SYS_OBJECT_ID))
        self._uptime(poll, system.get(SYS_UPTIME), system.get(HR_SYSTEM_UPTIME))
        assert memory.profile is not None
        for name, sources in (
            (CPU_PERCENT, memory.profile.cpu_percent),
            (MEMORY_PERCENT, memory.profile.memory_percent),
            (DISK_PERCENT, memory.profile.disk_percent),
            (TEMPERATURE_CELSIUS, memory.profile.temperature_celsius),
            ("interfaces", memory.profile.interfaces),
        ):
            try:
                await self._first_answering(poll, memory, name, sources)
            except SnmpError as exc:
                # It answered the first request: a part that times out or fails (genErr,
                # tooBig, a v3 report) makes the poll degraded; the other parts still count.
                poll.errors.append(f"{name}: {exc}")
                poll.silent_parts += 1
        state = DeviceState.DEGRADED if poll.silent_parts else DeviceState.ONLINE
        kept, refused = self.rejections.screen(poll.metrics)
        return DeviceReading(
            device,
            KIND,
            poll.now_ns,
            state,
            tuple(kept),
            (*poll.errors, *refused),
            sources=poll.sources,
        )

    def forget(self, device: str) -> None:
        """Drop what is kept about ``device`` (removed from the inventory)."""
        self._memory.pop(device, None)
        self._rates.forget(device)

    def _remember(self, device: str, sys_object_id: Value) -> _DeviceMemory:
        memory = self._memory.setdefault(device, _DeviceMemory())
        oid = sys_object_id if isinstance(sys_object_id, tuple) else ()
        if memory.profile is None or oid != memory.sys_object_id:
            memory.profile = profile_for(self._profiles, oid)
            memory.sys_object_id = oid
        return memory

    def _uptime(self, poll: _Poll, agent_value: Value, host_value: Value) -> None:
        """uptime_seconds is the host's (hrSystemUptime) where the agent serves it: sysUpTime
        is the SNMP agent's, which restarts with snmpd (828 s on a host up 2.7 days). The
        agent's is still what tells that its counters started again."""
        agent, host = _number(agent_value), _number(host_value)
        if agent is not None and self._rates.device_restarted(poll.device, agent / 100.0):
            memory = self._memory.get(poll.device)
            if memory is not None:
                memory.cpu_ticks = None
                memory.if_names.clear()
            poll.errors.append("agent restarted (sysUpTime went down): rates start again")
        ticks, source = (host, "hrSystemUptime") if host is not None else (agent, "sysUpTime")
        if ticks is None:
            poll.errors.append("uptime_seconds: neither hrSystemUptime nor sysUpTime answered")
            return
        poll.sources[UPTIME_SECONDS] = source
        poll.metrics.append(Metric(UPTIME_SECONDS, ticks / 100.0))  # hundredths of a second

    async def _first_answering(
        self, poll: _Poll, memory: _DeviceMemory, name: str, sources: list[Source]
    ) -> None:
        for source in sources:
            if await self._read_source(poll, memory, name, source):
                return
        if sources:
            tried = ", ".join(source.shape for source in sources)
            poll.errors.append(f"{name}: not available on this device (tried {tried})")

    async def _read_source(
        self, poll: _Poll, memory: _DeviceMemory, name: str, source: Source
    ) -> bool:
        """Read one source of metric ``name`` into ``poll.metrics``; False when the device
        lacks it."""
        if source.average_of is not None:
            return await self._average_of(poll, name, source.average_of)
        if source.cpu_ticks is not None:
            return await self._cpu_ticks(poll, memory, source.cpu_ticks)
        if source.used_of_total is not None:
            return await self._used_of_total(poll, source.used_of_total)
        if source.used_and_free is not None:
            return await self._used_and_free(poll, source.used_and_free)
        if source.sensor_table is not None:
            return await self._sensor_table(poll, source.sensor_table)
        if source.hr_storage_ram or source.hr_storage_fixed:
            return await self._hr_storage(poll, ram=source.hr_storage_ram)
        if source.entity_sensor:
            return await self._entity_sensors(poll)
        if source.cisco_entity_sensor:
            return await self._entity_sensors(poll, CISCO_ENT_SENSOR_ENTRY)
        return await self._interfaces(poll, memory)

    async def _walk(self, poll: _Poll, *columns: Oid) -> dict[Oid, dict[Oid, Value]]:
        return await self._client.walk(poll.endpoint, poll.credentials, columns)

    async def _average_of(self, poll: _Poll, name: str, source: AverageOf) -> bool:
        rows = (await self._walk(poll, source.column))[source.column]
        if source.pattern is not None:
            pattern = compile_text(source.pattern)  # once per poll, not once per row
            read: Iterable[float | None] = (_matched(raw, pattern) for raw in rows.values())
        else:
            read = (_value(raw, source.text) for raw in rows.values())
        values = [v for v in read if v is not None]
        if source.skip_zero:
            values = [v for v in values if v != 0]
        if not values:
            return False
        poll.metrics.append(Metric(name, sum(values) / len(values)))
        return True

    async def _cpu_ticks(self, poll: _Poll, memory: _DeviceMemory, source: CpuTicks) -> bool:
        oids = [*source.busy, *source.idle]
        values = await self._client.get(poll.endpoint, poll.credentials, oids)
        busy = [_number(values.get(oid)) for oid in source.busy]
        idle = [_number(values.get(oid)) for oid in source.idle]
        if any(v is None for v in busy + idle):
            return False
        now = (sum(v or 0 for v in busy), sum(v or 0 for v in busy + idle))
        before, memory.cpu_ticks = memory.cpu_ticks, now
        if before is None:
            poll.errors.append("cpu_percent: first tick reading; the value comes next poll")
        elif now[1] > before[1] and now[0] >= before[0]:
            share = (now[0] - before[0]) / (now[1] - before[1])
            poll.metrics.append(Metric(CPU_PERCENT, 100.0 * min(share, 1.0)))
        else:
            # net-snmp refreshes these every 5 s: polls closer together see no change
            poll.errors.append("cpu_percent: the tick counters did not advance since last poll")
        return True  # the source answers: no fallback to the next one

    async def _used_of_total(self, poll: _Poll, source: UsedOfTotal) -> bool:
        values = await self._client.get(
            poll.endpoint, poll.credentials, [source.total, *source.available]
        )
        total = _value(values.get(source.total), source.text)
        parts = [_value(values.get(oid), source.text) for oid in source.available]
        if not total or any(part is None for part in parts):
            return False
        available = min(sum(part or 0.0 for part in parts), total)
        oids = ", ".join(".".join(map(str, oid)) for oid in source.available)
        poll.sources[MEMORY_PERCENT] = f"total {'.'.join(map(str, source.total))}, available {oids}"
        poll.metrics.append(Metric(MEMORY_PERCENT, 100.0 * (total - available) / total))
        return True

    async def _used_and_free(self, poll: _Poll, source: UsedAndFree) -> bool:
        tables = await self._walk(poll, source.used, source.free)
        used = sum(v for v in map(_number, tables[source.used].values()) if v is not None)
        free = sum(v for v in map(_number, tables[source.free].values()) if v is not None)
        if used + free <= 0:
            return False
        poll.metrics.append(Metric(MEMORY_PERCENT, 100.0 * used / (used + free)))
        return True

    async def _sensor_table(self, poll: _Poll, source: SensorTable) -> bool:
        columns = [source.value]
        columns += [source.name] if source.name is not None else []
        columns += [source.where.column] if source.where is not None else []
        tables = await self._walk(poll, *columns)
        rows = tables[source.value]
        if source.where is not None:
            kept = tables[source.where.column]
            rows = {i: v for i, v in rows.items() if _number(kept.get(i)) == source.where.equals}
        if source.name is not None:
            names = sensor_names(tables[source.name], rows)
        else:  # a fixed label: several rows are told apart by their index
            names = distinct_names(dict.fromkeys(rows, source.label), "/")
        found = False
        for index, raw in rows.items():
            value = _value(raw, source.text)
            if value is None or (source.skip_zero and value == 0):
                continue
            label = {"sensor": names[index]}
            poll.metrics.append(Metric(TEMPERATURE_CELSIUS, value * source.scale, label))
            found = True
        return found

    async def _entity_sensors(self, poll: _Poll, entry: Oid = ENT_SENSOR_ENTRY) -> bool:
        """Celsius sensors of ENTITY-SENSOR-MIB's entPhySensorTable, or of Cisco's own
        CISCO-ENTITY-SENSOR-MIB entSensorValueTable (``entry``): the same five columns
        (type, scale, precision, value, status) with the same codes, indexed by
        entPhysicalIndex. Scale and precision applied; a sensor whose status is not ok
        is skipped."""
        columns = [entry + (column,) for column in range(1, 6)]
        tables = await self._walk(poll, *columns)
        kinds, scales, precisions, values, statuses = (tables[c] for c in columns)
        celsius = [i for i, t in kinds.items() if _number(t) == _CELSIUS]
        names = await self._physical_names(poll, celsius) if celsius else {}
        found = False
        for index in celsius:
            value = _number(values.get(index))
            if value is None or _number(statuses.get(index)) != _SENSOR_OK:
                continue
            scale = _number(scales.get(index)) or _UNITS_SCALE
            precision = _number(precisions.get(index)) or 0
            degrees = value * 1000.0 ** (scale - _UNITS_SCALE) / 10.0**precision
            poll.metrics.append(Metric(TEMPERATURE_CELSIUS, degrees, {"sensor": names[index]}))
            found = True
        return found

    async def _physical_names(self, poll: _Poll, indexes: list[Oid]) -> dict[Oid, str]:
        """A readable name per entity: entPhysicalName, unless it is empty or a bare number
        (Arista names sensors ``100006001``), then entPhysicalDescr ("Cpu temp sensor"),
        else the index; a name several sensors share gets its index appended."""
        tables = await self._walk(poll, ENT_PHYSICAL_NAME, ENT_PHYSICAL_DESCR)

        def readable(index: Oid) -> str | None:
            name = _text(tables[ENT_PHYSICAL_NAME].get(index))
            if name and not name.isdigit():
                return name
            return _text(tables[ENT_PHYSICAL_DESCR].get(index)) or None

        return distinct_names({index: readable(index) for index in indexes}, "/")

    async def _hr_storage(self, poll: _Poll, *, ram: bool) -> bool:
        tables = await self._walk(
            poll,
            HR_STORAGE_TYPE,
            HR_STORAGE_DESCR,
            HR_STORAGE_UNITS,
            HR_STORAGE_SIZE,
            HR_STORAGE_USED,
        )
        wanted = HR_STORAGE_RAM if ram else HR_STORAGE_FIXED_DISK
        read_only = set() if ram else await self._read_only_storage(poll)
        found = False
        for index, kind in tables[HR_STORAGE_TYPE].items():
            size = _number(tables[HR_STORAGE_SIZE].get(index))
            used = _number(tables[HR_STORAGE_USED].get(index))
            if kind != wanted or not size or used is None:
                continue
            percent = 100.0 * used / size
            if ram:
                poll.metrics.append(Metric(MEMORY_PERCENT, percent))
                return True
            mount = _text(tables[HR_STORAGE_DESCR].get(index)) or ".".join(map(str, index))
            point = filesystems.mount_point(mount)
            if not filesystems.is_disk(
                point,
                fstype=HR_STORAGE_TYPES.get(kind) if isinstance(kind, tuple) else None,
                read_only=index in read_only,
                selected=self._mounts,
                disks=self._chosen_disks,
                label=mount,
            ):
                continue
            poll.metrics.append(Metric(DISK_PERCENT, percent, {"mount": mount}))
            found = True
        return found

    async def _read_only_storage(self, poll: _Poll) -> set[Oid]:
        """hrStorage indexes of read-only file systems, by HOST-RESOURCES' hrFSTable
        (hrFSAccess readOnly, joined by hrFSStorageIndex); none where the agent lacks it."""
        try:
            tables = await self._walk(poll, HR_FS_ACCESS, HR_FS_STORAGE_INDEX)
        except SnmpError:
            return set()
        return {
            (storage,)
            for row, access in tables[HR_FS_ACCESS].items()
            if _number(access) == _FS_READ_ONLY
            and (storage := _number(tables[HR_FS_STORAGE_INDEX].get(row))) is not None
        }

    async def _interfaces(self, poll: _Poll, memory: _DeviceMemory) -> bool:
        tables = await self._walk(poll, *_COUNTERS)
        read_at = self._clock_ns()  # when the counters were read, not when the poll began
        listed = set(tables[IF_IN_OCTETS]) | set(tables[IF_HC_IN_OCTETS])
        if not listed:
            return False
        if set(memory.if_names) != listed:
            memory.if_names, memory.if_types = await self._interface_names(poll, listed)
        indexes = {
            i
            for i in listed
            if self._chosen_interfaces.keeps(memory.if_names[i], memory.if_types[i])
        }
        if not indexes:
            poll.errors.append(
                f"interfaces: the job's selection leaves out all {len(listed)} interfaces"
            )
            return True
        if self._counter_wait_s and not memory.live_counters and not memory.idle:
            # the busiest interface of the last rates; before any, those that counted most
            watch = [memory.busiest] if memory.busiest else _most_counted(tables, indexes)
            watch = [index for index in watch if index in indexes]
            if watch:
                tables, read_at = await self._aligned_counters(poll, memory, watch, tables, read_at)
        moved: dict[Oid, int] = {}
        for index in sorted(indexes):
            for metric, wide, narrow in (
                (NET_IN_BYTES_PER_SEC, IF_HC_IN_OCTETS, IF_IN_OCTETS),
                (NET_OUT_BYTES_PER_SEC, IF_HC_OUT_OCTETS, IF_OUT_OCTETS),
            ):
                reading = _octets(tables[wide].get(index), tables[narrow].get(index), read_at)
                if reading is None:
                    continue
                key = f"{metric}.{'.'.join(map(str, index))}"
                rate = self._rates.rate(poll.device, key, reading)
                if rate is not None:
                    label = {"interface": memory.if_names[index]}
                    poll.metrics.append(Metric(metric, rate, label))
                    moved[index] = moved.get(index, 0) + int(rate)
        if moved:  # rates: watch the busiest next time; none moved: the device is idle
            busiest = max(moved, key=lambda i: moved[i])
            memory.busiest = busiest if moved[busiest] > 0 else None
            memory.idle = memory.busiest is None
        return True

    async def _aligned_counters(
        self,
        poll: _Poll,
        memory: _DeviceMemory,
        watch: list[Oid],
        tables: dict[Oid, dict[Oid, Value]],
        read_at: int,
    ) -> tuple[dict[Oid, dict[Oid, Value]], int]:
        """The counters timed by the agent's own refresh: the watched interfaces' counters
        are asked for every 100 ms until they change (the refresh), then every
        counter is read again. If that second reading moved on past the change, the agent
        reads its counters live (remembered: no more waiting for it) and the reading is
        timed when taken; otherwise it is the refresh's snapshot, timed at the change (to
        50 ms). No change within counter_wait_s: the first reading, as it was."""
        watched = [table + index for index in watch for table in _COUNTERS]
        before = [tables[table].get(index) for index in watch for table in _COUNTERS]
        for _ in range(max(1, int(self._counter_wait_s / _REFRESH_STEP_S))):
            await self._sleep(_REFRESH_STEP_S)
            now = await self._client.get(poll.endpoint, poll.credentials, watched)
            changed_at = self._clock_ns()
            seen = [now.get(oid) for oid in watched]
            if seen == before:
                continue
            again = await self._walk(poll, *_COUNTERS)
            taken_at = self._clock_ns()
            if [again[table].get(index) for index in watch for table in _COUNTERS] != seen:
                memory.live_counters = True
                return again, taken_at
            return again, changed_at - int(_REFRESH_STEP_S * 1e9 / 2)
        return tables, read_at

    async def _interface_names(
        self, poll: _Poll, indexes: set[Oid]
    ) -> tuple[dict[Oid, str], dict[Oid, str | None]]:
        """Each interface's name and IANAifType name (None where the agent has no ifType).

        The name is ifName where the device has it, else ifDescr, else the index itself; a
        name that several interfaces share (a ProCurve's two ``lo0``) is ``name#ifIndex``
        for each of them, so they stay two series, the same ones after a restart."""
        tables = await self._walk(poll, IF_NAME, IF_DESCR, IF_TYPE)
        plain = {
            index: _text(tables[IF_NAME].get(index)) or _text(tables[IF_DESCR].get(index))
            for index in indexes
        }
        types = {index: _number(tables[IF_TYPE].get(index)) for index in indexes}
        named = {i: None if t is None else if_type_name(t) for i, t in types.items()}
        return distinct_names(plain, "#"), named


def distinct_names(plain: Mapping[Oid, str | None], separator: str) -> dict[Oid, str]:
    """A label per row: its name, ``name<separator>index`` for every row of a name that
    several rows share, or the index for a row without one."""
    seen = [name for name in plain.values() if name]

    def label(index: Oid, name: str | None) -> str:
        dotted = ".".join(map(str, index))
        if name and seen.count(name) > 1:
            return f"{name}{separator}{dotted}"
        return name or dotted

    return {index: label(index, name) for index, name in plain.items()}


def sensor_names(names: Mapping[Oid, Value], rows: Mapping[Oid, Value]) -> dict[Oid, str]:
    """A distinct label per sensor row: its name, or ``name/index`` where names repeat
    (lm-sensors calls many chips' first sensor ``temp1``), or the index without a name."""
    return distinct_names({index: _text(names.get(index)) for index in rows}, "/")


def _most_counted(tables: Mapping[Oid, Mapping[Oid, Value]], indexes: set[Oid]) -> list[Oid]:
    """The interfaces whose counters hold the most octets, at most _WATCHED of them (one GET
    asks for their four counters each)."""
    totals = {i: sum(_number(tables[t].get(i)) or 0 for t in _COUNTERS) for i in indexes}
    ranked = sorted((i for i in totals if totals[i] > 0), key=lambda i: -totals[i])
    return ranked[:_WATCHED]


def _octets(wide: Value, narrow: Value, now_ns: int) -> CounterReading | None:
    """The 64-bit counter when the device has it, else the 32-bit one; None for neither."""
    value = _number(wide)
    if value is not None:
        return CounterReading(value, now_ns, 64)
    value = _number(narrow)
    return None if value is None else CounterReading(value, now_ns, 32)
