"""Devices' decided states: each check result of a device becomes one observation for its
hysteresis machine (``status.hysteresis``); each transition is stored in
``device_state_history`` and logged, and every observation writes the decided state as
the device's ``device_status`` sample (1 unless offline).

Several jobs usually cover one device at different paces (a ping every 30 s, an SNMP poll
every 5 min), so an observation weighs the new result against the other jobs' evidence
without letting an old answer hide a fresh failure:

* the new result failed: ``fail``, unless another job heard the device *since this job's
  previous check* (then it is alive: ``degraded``). A ping failing three times is offline
  within three pings, whatever a five-minute-old SNMP answer said.
* the new result answered: ``degraded`` when it answered only in part, or when another
  job is failing persistently (``fail_after`` times in a row) and its last result is still
  current (younger than 1.5 of its interval); else ``ok``. One lost SNMP poll is not
  counted again by every ping that follows it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from netgauge.models import DEVICE_STATUS, ProbeResult, Sample
from netgauge.pollers.readings import DeviceState
from netgauge.status.hysteresis import DeviceHysteresis, Observation, Thresholds, Transition

log = structlog.get_logger(__name__)

Recorder = Callable[[Transition], object]
"""Stores a transition (``Inventory.record_device_transition``); called in a thread."""
_CURRENT_FOR = 1.5  # a job's last result counts for this many of its intervals


@dataclass
class _JobRecord:
    """The newest result of one job for one device, and its failure streak."""

    ts_ns: int
    up: bool
    failures: int  # failed results in a row
    interval_ns: int


class DeviceStates:
    """Every device's machine; fed by the runner (and the agents) after each result."""

    def __init__(self, thresholds: Thresholds, record: Recorder) -> None:
        self.thresholds = thresholds
        self._record = record
        self._machines: dict[str, DeviceHysteresis] = {}
        self._jobs: dict[str, dict[str, _JobRecord]] = {}  # device -> job -> record

    def state(self, device: str) -> DeviceState | None:
        machine = self._machines.get(device)
        return machine.state if machine else None

    def tracks(self, device: str) -> bool:
        """Whether ``device`` has been observed (decided or not yet)."""
        return device in self._machines

    def states(self) -> dict[str, DeviceState | None]:
        return {name: m.state for name, m in sorted(self._machines.items())}

    async def observe(self, result: ProbeResult, job: str, interval_s: float) -> Sample | None:
        """Fold ``result`` of ``job`` (run every ``interval_s``) in; the decided state as a
        ``device_status`` sample (None while undecided)."""
        observation = self._observation(result, job, int(interval_s * 1e9))
        machine = self._machines.setdefault(
            result.target, DeviceHysteresis(result.target, self.thresholds)
        )
        transition = machine.observe(observation, result.ts_ns, result.error)
        if transition is not None:
            await asyncio.to_thread(self._record, transition)
            log.warning(
                "device.state_changed",
                device=transition.device,
                old=transition.previous.value if transition.previous else None,
                new=transition.new.value,
                reason=transition.reason,
                detail=transition.detail,
            )
        if machine.state is None:
            return None
        value = 0.0 if machine.state is DeviceState.OFFLINE else 1.0
        return Sample(DEVICE_STATUS, result.target, "status", value, result.ts_ns)

    def _observation(self, result: ProbeResult, job: str, interval_ns: int) -> Observation:
        records = self._jobs.setdefault(result.target, {})
        previous = records.get(job)
        since = previous.ts_ns if previous else result.ts_ns - int(interval_ns * _CURRENT_FOR)
        failures = 0 if result.up else (previous.failures if previous else 0) + 1
        records[job] = _JobRecord(result.ts_ns, result.up, failures, interval_ns)
        others = [r for name, r in records.items() if name != job]
        if not result.up:
            alive = any(r.up and r.ts_ns > since for r in others)
            return Observation.DEGRADED if alive else Observation.FAIL
        partial = result.details.get("state") == DeviceState.DEGRADED.value
        failing = any(
            not r.up
            and r.failures >= self.thresholds.fail_after
            and r.ts_ns >= result.ts_ns - int(r.interval_ns * _CURRENT_FOR)
            for r in others
        )
        return Observation.DEGRADED if partial or failing else Observation.OK

    def resume(self, stored: Mapping[str, tuple[str, list[int]]]) -> int:
        """Devices' states as stored before this process led (``device_states_now``): a
        device this process has not observed yet starts from its stored state, not
        undecided. Returns how many were resumed."""
        resumed = 0
        for device, (state, changes_ns) in stored.items():
            if device in self._machines:
                continue  # observed here already: that is newer
            machine = DeviceHysteresis(device, self.thresholds)
            machine.resume(DeviceState(state), changes_ns)
            self._machines[device] = machine
            resumed += 1
        return resumed

    def forget(self, device: str) -> None:
        """Drop what is known of a device (removed from the inventory)."""
        self._machines.pop(device, None)
        self._jobs.pop(device, None)
