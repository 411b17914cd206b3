"""ICMP echo probe: loss, RTT and jitter of many targets over one socket per address family.

Callers use :class:`IcmpProbe` (kind ``"icmp"``) with :class:`IcmpParams`::

    probe = IcmpProbe()
    results = await probe.run_batch(targets, IcmpParams(count=5, pace_ms=10))

``run_batch`` is the efficient path: every target shares one raw (or datagram) socket per
address family and one send scheduler (see ``icmp_engine``); the round itself is
``icmp_pinger``. Concurrent ``run`` calls on the same loop share the sockets too. Metric
names and definitions are in ``icmp_stats``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, field_validator

from netgauge.models import ProbeResult, Target
from netgauge.probes.base import ProbeParams, register_probe
from netgauge.probes.icmp_options import LIMITS, IcmpOptions, parse_source
from netgauge.probes.icmp_pinger import DETAIL_TIMESTAMPS, IcmpPinger
from netgauge.probes.icmp_resolve import resolve_address, resolve_targets
from netgauge.probes.icmp_socket import ENV_SOCKET_MODE, SocketMode, SocketOpener, open_icmp_socket
from netgauge.probes.icmp_stats import DETAIL_RTTS, METRIC_NAMES

__all__ = [
    "DETAIL_RTTS",
    "DETAIL_TIMESTAMPS",
    "ENV_SOCKET_MODE",
    "METRIC_NAMES",
    "IcmpParams",
    "IcmpProbe",
    "SocketMode",
    "resolve_address",
    "resolve_targets",
]

_SEND_COST_S = 20e-6  # rough cost of one send when pace is 0, for batch_duration
_DEFAULTS = IcmpOptions()


class IcmpParams(ProbeParams):
    """Parameters of an ICMP echo probe (unknown keys are errors).

    * ``count``: echo requests per target (1..1000).
    * ``interval``: seconds between two requests to the *same* target (>= 0.001).
    * ``timeout``: seconds to wait for each reply; a later reply counts as lost.
    * ``pace_ms``: milliseconds between two requests to *different* targets. The default
      10 ms is polite, like fping's default ``-i``; 0 sends as fast as the machine can.
    * ``size``: payload bytes after the 8-byte ICMP header (56, like ping).
    * ``ttl`` / ``tos``: IP TTL (hop limit) and TOS (traffic class); None = system default.
      DSCP is the upper six bits of TOS: DSCP EF (46) is ``tos=184`` (46 << 2).
    * ``source``: local address to send from (ping -I); the socket is bound to it. Targets
      of the other address family then fail (as data), and a non-local address is a
      setup error.
    * ``socket_mode``: ``auto`` (raw if permitted, else datagram), ``raw`` or ``dgram``. With
      ``auto`` the environment variable ``NETGAUGE_ICMP_SOCKET`` may force one.
    """

    count: int = Field(
        default=_DEFAULTS.count, title="Pings per check", **LIMITS["count"].pydantic_bounds()
    )
    interval: float = Field(
        default=_DEFAULTS.interval,
        title="Seconds between pings",
        **LIMITS["interval"].pydantic_bounds(),
    )
    timeout: float = Field(
        default=_DEFAULTS.timeout,
        title="Seconds to wait for the last reply",
        **LIMITS["timeout"].pydantic_bounds(),
    )
    pace_ms: float = Field(default=_DEFAULTS.pace_ms, **LIMITS["pace_ms"].pydantic_bounds())
    size: int = Field(default=_DEFAULTS.size, **LIMITS["size"].pydantic_bounds())
    ttl: int | None = Field(default=None, **LIMITS["ttl"].pydantic_bounds())
    tos: int | None = Field(default=None, **LIMITS["tos"].pydantic_bounds())
    source: str | None = None
    socket_mode: SocketMode = _DEFAULTS.socket_mode

    @field_validator("source")
    @classmethod
    def _source_is_an_address(cls, value: str | None) -> str | None:
        """An IP address literal (no name: the socket is bound before anything resolves)."""
        return None if value is None else parse_source(value)

    def options(self) -> IcmpOptions:
        """The same values as the plain options the round runs with."""
        return IcmpOptions(**self.model_dump())


@register_probe
class IcmpProbe:
    """ICMP echo (ping) of one or many targets; failures of targets are results."""

    kind: ClassVar[str] = "icmp"
    params_model: ClassVar[type[ProbeParams]] = IcmpParams

    def __init__(self, *, opener: SocketOpener = open_icmp_socket) -> None:
        # ``opener`` opens the sockets; tests inject fakes (the I/O edge), nothing else does.
        self._pinger = IcmpPinger(opener=opener)

    async def run(self, target: Target, params: Any) -> ProbeResult:
        """Probe one target (concurrent calls share the sockets)."""
        return (await self.run_batch([target], params))[0]

    async def run_batch(self, targets: Sequence[Target], params: Any) -> list[ProbeResult]:
        """Probe every target in one paced pass; one result per target, in order.

        Raises ProbeSetupError only when no ICMP socket can be opened on this machine.
        """
        return await self._pinger.run_batch(targets, _checked(params).options())

    def batch_duration(self, n_targets: int, params: Any) -> float:
        """Seconds a batch of ``n_targets`` should take, with 10 % + 0.5 s of margin."""
        checked = _checked(params)
        per_send = max(checked.pace_ms / 1000.0, _SEND_COST_S)
        sends = n_targets * checked.count
        spread = max(
            sends * per_send, (checked.count - 1) * checked.interval + n_targets * per_send
        )
        return (spread + checked.timeout) * 1.1 + 0.5


def _checked(params: Any) -> IcmpParams:
    return params if isinstance(params, IcmpParams) else IcmpParams.model_validate(params)
