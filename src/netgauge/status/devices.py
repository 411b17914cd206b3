"""Devices' decided states: each check result of a device becomes an observation for its
hysteresis machine (``status.hysteresis``); each transition is stored in
``device_state_history``, logged, and every observation writes the decided state as the
device's ``device_status`` sample (1 unless offline).

Observation of a device after a result: the newest result of every job covering it
(``StatusTracker``) — all answered fully: ``ok``; none answered: ``fail``; anything in
between (ping answers but SNMP does not, or a poll answered only in part): ``degraded``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import structlog

from netgauge.models import DEVICE_STATUS, ProbeResult, Sample
from netgauge.pollers.readings import DeviceState
from netgauge.status.hysteresis import DeviceHysteresis, Observation, Thresholds, Transition

log = structlog.get_logger(__name__)

Recorder = Callable[[Transition], object]
"""Stores a transition (``Inventory.record_device_transition``); called in a thread."""


def observation_of(checks: Iterable[ProbeResult]) -> Observation:
    """One observation from the newest result of each job covering the device."""
    results = list(checks)
    ups = [r.up for r in results]
    if not any(ups):
        return Observation.FAIL
    partial = any(r.details.get("state") == DeviceState.DEGRADED.value for r in results)
    return Observation.OK if all(ups) and not partial else Observation.DEGRADED


class DeviceStates:
    """Every device's machine; fed by the runner after each result of a device."""

    def __init__(self, thresholds: Thresholds, record: Recorder) -> None:
        self.thresholds = thresholds
        self._record = record
        self._machines: dict[str, DeviceHysteresis] = {}

    def state(self, device: str) -> DeviceState | None:
        machine = self._machines.get(device)
        return machine.state if machine else None

    def states(self) -> dict[str, DeviceState | None]:
        return {name: m.state for name, m in sorted(self._machines.items())}

    async def observe(self, result: ProbeResult, checks: Iterable[ProbeResult]) -> Sample | None:
        """Fold ``result`` in (``checks``: the device's newest result per job); the decided
        state as a ``device_status`` sample (None while undecided)."""
        machine = self._machines.setdefault(
            result.target, DeviceHysteresis(result.target, self.thresholds)
        )
        transition = machine.observe(observation_of(checks), result.ts_ns, result.error)
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

    def forget(self, device: str) -> None:
        self._machines.pop(device, None)
