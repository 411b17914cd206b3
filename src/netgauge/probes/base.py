"""The one probe interface. Every probe is a module in this package, registered by kind."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from netgauge.models import ProbeResult, Target
from netgauge.plugins import Registry


class ProbeParams(BaseModel):
    """Base of every probe's parameter model: strict, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@runtime_checkable
class Probe(Protocol):
    """Measures one target. A target that fails is a result (status/error), never an exception."""

    kind: ClassVar[str]
    params_model: ClassVar[type[ProbeParams]]

    async def run(self, target: Target, params: Any) -> ProbeResult:
        """Probe ``target`` once with validated ``params``."""
        ...


@runtime_checkable
class BatchProbe(Probe, Protocol):
    """A probe that measures many targets in one pass (one socket, paced sends)."""

    async def run_batch(self, targets: Sequence[Target], params: Any) -> list[ProbeResult]:
        """Probe all ``targets``; one result per target, in order."""
        ...

    def batch_duration(self, n_targets: int, params: Any) -> float:
        """Seconds a batch of this size is expected to take (used for the runner's deadline)."""
        ...


PROBES: Registry[type[Probe]] = Registry("probe kind")


def register_probe(cls: type[Probe]) -> type[Probe]:
    """Class decorator: add a probe class to the registry under its ``kind``."""
    PROBES.register(cls.kind, cls)
    return cls


def load_builtin_probes() -> None:
    """Import every module of this package so that the probes register themselves (idempotent).

    A new probe is a new module here with a ``@register_probe`` class: no list to edit.
    """
    import netgauge.probes as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"netgauge.probes.{module.name}")
    # Device pollers are job kinds too; their adapters live with them, in pollers/jobs.py.
    importlib.import_module("netgauge.pollers.jobs")
