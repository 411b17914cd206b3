"""Frozen value types that flow from probes to stores: Target, Sample, ProbeResult."""

from __future__ import annotations

import enum
import functools
import ipaddress
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netgauge.series import series_name, split_series

DEVICE_METRICS = "device_metrics"
DEVICE_STATUS = "device_status"
MEASUREMENTS = (DEVICE_METRICS, DEVICE_STATUS)


def now_ns() -> int:
    """Current wall-clock time in UTC nanoseconds since the epoch."""
    return time.time_ns()


class TargetType(enum.StrEnum):
    """What a target is: a destination to probe or a device to poll."""

    DESTINATION = "destination"
    DEVICE = "device"


class ProbeStatus(enum.StrEnum):
    """Outcome of one probe of one target."""

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class CredentialScope:
    """Where a credential may be sent: every dimension given must hold (the address in one
    of ``networks``, the site among ``sites``, one of the target's tags among ``tags``); a
    dimension left empty does not restrict."""

    networks: tuple[IpNetwork, ...] = ()
    sites: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def admits_address(self, address: IpAddress) -> bool:
        """Whether ``address`` (where packets would go) lies inside ``networks``."""
        return not self.networks or any(address in net for net in self.networks)

    def admits_placement(self, site: str | None, tags: Iterable[str]) -> bool:
        """Whether a target of ``site`` with ``tags`` is among ``sites`` and ``tags``."""
        if self.sites and site not in self.sites:
            return False
        return not self.tags or not self.tags.isdisjoint(tags)


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """Where a target's secrets are: environment variable names and file paths per field
    (``community``, ``password``...) or secrets sealed under netgauge's key (``sealed``,
    opened only when a check needs one), never a secret in clear; and where they may be
    sent (``scope``; None: wherever an admin attached them)."""

    name: str
    kind: str
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    username: str | None = None
    scope: CredentialScope | None = None
    sealed: Mapping[str, str] = field(default_factory=dict, repr=False)  # field → sealed


@dataclass(frozen=True, slots=True)
class Target:
    """A destination or device as the probes see it."""

    name: str
    address: str
    type: TargetType = TargetType.DESTINATION
    site: str | None = None
    tags: tuple[str, ...] = ()
    credentials: CredentialRef | None = None
    parent: str | None = None  # the target it is reached through (alert dependencies)


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored value, in the spec's schema.

    ``device_metrics``: tags device_id + metric_name, field ``value``.
    ``device_status``: tag device_id, field ``status`` (1 up, 0 down); metric_name is "status".
    """

    measurement: str
    device_id: str
    metric_name: str
    value: float
    ts_ns: int

    def __post_init__(self) -> None:
        if self.measurement not in MEASUREMENTS:
            raise ValueError(f"unknown measurement {self.measurement!r}")
        if not self.device_id or not self.metric_name:
            raise ValueError("device_id and metric_name must be non-empty")
        if self.value != self.value:  # NaN never reaches a store: absent is absent, not NaN
            raise ValueError(f"NaN value for {self.device_id}/{self.metric_name}")
        if self.ts_ns <= 0:
            raise ValueError("ts_ns must be positive UTC nanoseconds")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The one result shape of every probe: failures of the target are data, not exceptions."""

    target: str
    kind: str
    ts_ns: int
    status: ProbeStatus
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    error: str | None = None
    # non-numeric facts (a traceroute's hops, DNS answers, HTTP redirect chain): JSON values,
    # shown by the API, not stored as samples
    details: Mapping[str, Any] = field(default_factory=dict)
    # Probe metrics are stored as ``<kind>.<metric>`` (icmp.loss_pct); device metrics keep
    # their documented names (cpu_percent, disk_percent{mount="/"}) whatever the protocol.
    prefixed: bool = True

    @property
    def up(self) -> bool:
        """True when the target answered."""
        return self.status is ProbeStatus.OK

    def to_samples(
        self, *, with_status: bool = True, labels: Mapping[str, str] | None = None
    ) -> list[Sample]:
        """Metrics as ``device_metrics`` samples named ``<kind>.<metric>`` (or the bare metric
        name when not ``prefixed``) plus one status sample. ``labels`` are added to every
        metric's own (a remote collector's ``vantage``); the status sample has none: it is
        the state netgauge decided, wherever the check ran.

        Metrics whose value is None (no reply) are absent, not zero.
        """
        prefix = f"{self.kind}." if self.prefixed else ""
        samples = [
            Sample(
                DEVICE_METRICS,
                self.target,
                _labelled(f"{prefix}{name}", labels),
                float(value),
                self.ts_ns,
            )
            for name, value in self.metrics.items()
            if value is not None
        ]
        if with_status:  # (a device's status is its decided state: see status/devices.py)
            samples.append(
                Sample(DEVICE_STATUS, self.target, "status", 1.0 if self.up else 0.0, self.ts_ns)
            )
        return samples


def _labelled(series: str, labels: Mapping[str, str] | None) -> str:
    """``series`` with ``labels`` added to its own (theirs win: a series' own label of the
    same name is the device's, ours is where it was measured from)."""
    if not labels:
        return series
    return _relabel(series, tuple(sorted(labels.items())))


@functools.lru_cache(maxsize=65_536)
def _relabel(series: str, labels: tuple[tuple[str, str], ...]) -> str:
    # the same few series come back every round from every collector: parsed once
    name, own = split_series(series)
    return series_name(name, {**own, **dict(labels)})
