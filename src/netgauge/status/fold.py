"""Folding a check's result into netgauge's state: the one step every result takes.

A result, polled by a job (the runner) or pushed by an agent (the ingest), is stored as
samples, becomes the target's live status, and for a device is observed by the hysteresis
that decides its state (whose status sample is stored too). Doing this in one place means
whatever is added on top of results (alert rules) sees every result the same way, whichever
way it came.
"""

from __future__ import annotations

from collections.abc import Callable

from netgauge.models import ProbeResult
from netgauge.status.devices import DeviceStates
from netgauge.status.tracker import StatusTracker
from netgauge.storage.writer import BatchWriter

# alert rules: (job, result, the target's state after it) — see alerting.Alerting.observe
Rules = Callable[[str, ProbeResult, "str | None"], None]


class ResultFolder:
    """Folds results into the writer, the live status and the devices' decided states."""

    def __init__(
        self,
        writer: BatchWriter,
        status: StatusTracker,
        devices: DeviceStates,
        rules: Rules | None = None,
    ) -> None:
        self.writer, self.status, self.devices = writer, status, devices
        self.rules = rules

    async def fold(
        self,
        job: str,
        result: ProbeResult,
        *,
        device: bool,
        interval_s: float,
        observe: bool = True,
    ) -> int:
        """Store ``result`` of ``job`` and, with ``observe``, make it the target's newest
        check and evaluate the alert rules on it (an agent's older batches are stored
        only). A device's status sample is its
        decided state, not the check's up/down; ``interval_s`` is how often it is checked.
        Returns the number of samples the result itself gave."""
        samples = result.to_samples(with_status=not device)
        self.writer.submit(samples)
        if observe:
            state: str | None = self.status.update(job, result).state
            if device:
                decided = await self.devices.observe(result, job, interval_s)
                if decided is not None:
                    self.writer.submit([decided])
                known = self.devices.state(result.target)
                state = known.value if known is not None else None
            if self.rules is not None:
                self.rules(job, result, state)
        return len(samples)


__all__ = ["ResultFolder"]
