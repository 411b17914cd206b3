"""Checks on one target: the model behind "add a host and it is watched".

A check chosen for a target (in the console's add form, ``POST /api/v1/targets`` with
``checks``, or a CSV import) is a job of its own, named ``<target>-<kind>``, that covers
that target only: targets and jobs as ever, so the YAML, the change log and the API stay as
they are. This module says which checks suit which type of target, their default
intervals, and how a check becomes a job; the inventory creates them with the target in
one transaction (``Inventory.add_target_with_checks``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from netgauge.config.base import error_message, parse_duration
from netgauge.config.model import JobConfig
from netgauge.errors import InventoryError
from netgauge.models import TargetType

# what each type of target is offered (a device is polled, a destination probed; a device
# answers pings and serves ports too), in the order a newcomer wants them
CHECKS_OF: dict[TargetType, tuple[str, ...]] = {
    TargetType.DESTINATION: ("icmp", "tcp", "http", "dns", "traceroute"),
    TargetType.DEVICE: ("icmp", "snmp", "ssh", "winrm", "tcp", "http"),
}
# how often each kind runs unless said: pings are cheap, polls and traces are not
DEFAULT_INTERVAL_S: dict[str, float] = {
    "icmp": 30.0,
    "snmp": 300.0,
    "ssh": 300.0,
    "winrm": 300.0,
    "traceroute": 300.0,
}
FALLBACK_INTERVAL_S = 60.0


class CheckIn(BaseModel):
    """A check to run on a target being added: a job of its own (``<target>-<kind>``)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=64, description="icmp, tcp, http, dns, ...")
    params: dict[str, Any] = Field(default_factory=dict)
    interval: float | None = Field(
        None, description="seconds, or 30s, 5m, 1h (default: by kind, 30 s for icmp, 5 min "
        "for device polls and traceroute, else 60 s)"
    )  # fmt: skip
    timeout: float | None = None

    @field_validator("interval", "timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


def default_interval(kind: str) -> float:
    return DEFAULT_INTERVAL_S.get(kind, FALLBACK_INTERVAL_S)


def check_job(target: str, index: int, check: CheckIn) -> JobConfig:
    """The job a check becomes (an error names ``checks.<index>.<field>``)."""
    try:
        return JobConfig(
            name=f"{target}-{check.kind}"[:128],
            kind=check.kind,
            params=check.params,
            targets=[target],
            interval=check.interval if check.interval is not None else default_interval(check.kind),
            timeout=check.timeout,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InventoryError(f"checks.{index}.{where}: {error_message(first)}") from None


__all__ = ["CHECKS_OF", "DEFAULT_INTERVAL_S", "CheckIn", "check_job", "default_interval"]
