"""The one probe interface. Every probe is a module in this package, registered by kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from netgauge.config.base import error_message
from netgauge.config.files import FilePolicy, LocalFile, policy_in, validation_context
from netgauge.models import ProbeResult, Target
from netgauge.plugins import Registry


class ProbeParams(BaseModel):
    """Base of every probe's parameter model: strict, unknown keys are errors.

    Fields holding local paths are marked ``Annotated[..., LocalFile()]``: validated with a
    :class:`FilePolicy` in the context (:func:`validate_params`), they must name files inside
    the allowed directories. ``admin_only`` names settings that only an admin may give a job
    (field -> the risky value), e.g. accepting any SSH host key."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    admin_only: ClassVar[dict[str, object]] = {}

    @field_validator("*", mode="after")
    @classmethod
    def _local_files(cls, value: Any, info: ValidationInfo) -> Any:
        policy = policy_in(info.context)
        if policy is None or info.field_name is None:
            return value
        field = cls.model_fields[info.field_name]
        marker = next((m for m in field.metadata if isinstance(m, LocalFile)), None)
        return value if marker is None else policy.apply(marker, value, field.default)

    def risky_settings(self) -> list[str]:
        """The ``admin_only`` settings these params have (``accept_new_host_keys``...)."""
        return [name for name, value in self.admin_only.items() if getattr(self, name) == value]


def params_error(exc: ValidationError) -> str:
    """``params.<field>: <why>`` of the first problem of a params validation."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"params.{where}: {error_message(first)}"


def validate_params(model: type[ProbeParams], params: Any, files: FilePolicy | None) -> ProbeParams:
    """``params`` as ``model``, with its local paths held to ``files`` (None: unchecked, as
    on the command line)."""
    if isinstance(params, model) and files is None:
        return params
    raw = params.model_dump() if isinstance(params, BaseModel) else params
    return model.model_validate(raw, context=validation_context(files))


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
