"""Folding a check's result into netgauge's state: the one step every result takes.

A result, polled by a job (the runner) or pushed by an agent (the ingest), is stored as
samples, becomes the target's live status, and for a device is observed by the hysteresis
that decides its state (whose status sample is stored too). Doing this in one place means
whatever is added on top of results (alert rules) sees every result the same way, whichever
way it came.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from netgauge.models import ProbeResult
from netgauge.status.devices import DeviceStates
from netgauge.status.tracker import StatusTracker
from netgauge.storage.writer import BatchWriter


class Rules(Protocol):
    """What alert rules need of folding (alerting.Alerting is one)."""

    def observe(self, job: str, result: ProbeResult, state: str | None) -> None:
        """A result, and its target's state after it."""

    def quiet(self, target: str) -> None:
        """``target`` was not checked on purpose (its site's calendar): no gap."""


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
        labels: Mapping[str, str] | None = None,
    ) -> int:
        """Store ``result`` of ``job`` and, with ``observe``, make it the target's newest
        check and evaluate the alert rules on it (an agent's older batches are stored
        only). A device's status sample is its
        decided state, not the check's up/down; ``interval_s`` is how often it is checked.
        ``labels`` go on the stored metric samples only (a collector's ``vantage``): the
        live status keeps the metrics' plain names. Returns the number of samples the
        result itself gave."""
        samples = result.to_samples(with_status=not device, labels=labels)
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
                self.rules.observe(job, result, state)
        return len(samples)

    def skipped(self, targets: list[str]) -> None:
        """Targets a run left out on purpose (their site's calendar said no)."""
        if self.rules is not None:
            for target in targets:
                self.rules.quiet(target)


__all__ = ["ResultFolder"]
