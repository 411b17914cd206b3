"""ICMP echo probe: loss, RTT and jitter of many targets over one socket per address family.

Callers use :class:`IcmpProbe` (kind ``"icmp"``) with :class:`IcmpParams`::

    probe = IcmpProbe()
    results = await probe.run_batch(targets, IcmpParams(count=5, pace_ms=10))

``run_batch`` is the efficient path: every target shares one raw (or datagram) socket per
address family and one send scheduler (see ``icmp_engine``). Concurrent ``run`` calls on
the same loop share the sockets too. Metric names and definitions are in ``icmp_stats``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from pydantic import Field, field_validator

from netgauge.errors import TargetResolutionError
from netgauge.models import ProbeResult, ProbeStatus, Target, now_ns
from netgauge.probes.base import ProbeParams, register_probe
from netgauge.probes.icmp_engine import IcmpEngine, Schedule, TargetRun
from netgauge.probes.icmp_resolve import resolve_address, resolve_each, resolve_targets
from netgauge.probes.icmp_socket import ENV_SOCKET_MODE, SocketMode, SocketOpener, open_icmp_socket
from netgauge.probes.icmp_stats import (
    DETAIL_RTTS,
    METRIC_NAMES,
    on_time_rtts,
    rtt_distribution,
    summarize,
)

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

DETAIL_TIMESTAMPS = "timestamps"
"""Key of ``ProbeResult.details``: where the RTTs came from (kernel, userspace, mixed, None)."""
_SEND_COST_S = 20e-6  # rough cost of one send when pace is 0, for batch_duration


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

    # 5 keeps a one-shot CLI run short; quality jobs (smoke charts, percentiles) should use
    # 20 per round, SmokePing's default of 20 pings every 5 minutes.
    count: int = Field(default=5, ge=1, le=1000)
    interval: float = Field(default=1.0, ge=0.001, le=3600.0)
    timeout: float = Field(default=1.0, gt=0.0, le=60.0)
    pace_ms: float = Field(default=10.0, ge=0.0, le=60_000.0)
    size: int = Field(default=56, ge=0, le=65507)
    ttl: int | None = Field(default=None, ge=1, le=255)
    tos: int | None = Field(default=None, ge=0, le=255)
    source: str | None = None
    socket_mode: SocketMode = SocketMode.AUTO

    @field_validator("source")
    @classmethod
    def _source_is_an_address(cls, value: str | None) -> str | None:
        """An IP address literal (no name: the socket is bound before anything resolves)."""
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None

    def schedule(self) -> Schedule:
        """The engine's view of these parameters, in nanoseconds."""
        return Schedule(
            count=self.count,
            interval_ns=round(self.interval * 1e9),
            pace_ns=round(self.pace_ms * 1e6),
            timeout_ns=round(self.timeout * 1e9),
            size=self.size,
        )


_EngineKey = tuple[asyncio.AbstractEventLoop, SocketMode, int | None, int | None, str | None]


@register_probe
class IcmpProbe:
    """ICMP echo (ping) of one or many targets; failures of targets are results."""

    kind: ClassVar[str] = "icmp"
    params_model: ClassVar[type[ProbeParams]] = IcmpParams

    def __init__(self, *, opener: SocketOpener = open_icmp_socket) -> None:
        # ``opener`` opens the sockets; tests inject fakes (the I/O edge), nothing else does.
        self._opener = opener
        # One engine (hence one socket per family) per loop and socket options, shared by
        # every batch in flight and closed when the last one finishes.
        self._engines: dict[_EngineKey, tuple[IcmpEngine, int]] = {}

    async def run(self, target: Target, params: Any) -> ProbeResult:
        """Probe one target (concurrent calls share the sockets)."""
        return (await self.run_batch([target], params))[0]

    async def run_batch(self, targets: Sequence[Target], params: Any) -> list[ProbeResult]:
        """Probe every target in one paced pass; one result per target, in order.

        Raises ProbeSetupError only when no ICMP socket can be opened on this machine.
        """
        checked = params if isinstance(params, IcmpParams) else IcmpParams.model_validate(params)
        started = now_ns()
        runs, failures = await _prepare_runs(targets, checked.count)
        live = [run for run in runs if run is not None]
        if live:
            async with self._engine(checked) as engine:
                await engine.send_batch(live, checked.schedule())
        timeout_ns = round(checked.timeout * 1e9)
        return [
            _result(target, run, failures.get(i), checked, started, timeout_ns)
            for i, (target, run) in enumerate(zip(targets, runs, strict=True))
        ]

    def batch_duration(self, n_targets: int, params: Any) -> float:
        """Seconds a batch of ``n_targets`` should take, with 10 % + 0.5 s of margin."""
        checked = params if isinstance(params, IcmpParams) else IcmpParams.model_validate(params)
        per_send = max(checked.pace_ms / 1000.0, _SEND_COST_S)
        sends = n_targets * checked.count
        spread = max(
            sends * per_send, (checked.count - 1) * checked.interval + n_targets * per_send
        )
        return (spread + checked.timeout) * 1.1 + 0.5

    @asynccontextmanager
    async def _engine(self, params: IcmpParams) -> AsyncIterator[IcmpEngine]:
        loop = asyncio.get_running_loop()
        key: _EngineKey = (loop, params.socket_mode, params.ttl, params.tos, params.source)
        engine, users = self._engines.get(key) or (
            IcmpEngine(
                loop,
                params.socket_mode,
                ttl=params.ttl,
                tos=params.tos,
                source=params.source,
                opener=self._opener,
            ),
            0,
        )
        self._engines[key] = (engine, users + 1)
        try:
            yield engine
        finally:
            engine, users = self._engines[key]
            if users <= 1:
                del self._engines[key]
                engine.close()
            else:
                self._engines[key] = (engine, users - 1)


async def _prepare_runs(
    targets: Sequence[Target], count: int
) -> tuple[list[TargetRun | None], dict[int, str]]:
    """A TargetRun per resolvable target; resolution failures by index (they are data)."""
    runs: list[TargetRun | None] = []
    failures: dict[int, str] = {}
    addresses = await resolve_each([target.address for target in targets])
    for i, address in enumerate(addresses):
        if isinstance(address, TargetResolutionError):
            runs.append(None)
            failures[i] = str(address)
        else:
            runs.append(TargetRun(address=address, family=_family(address), count=count))
    return runs, failures


def _family(address: str) -> int:
    """The family of a resolved (canonical) address: only IPv6 ones contain a colon."""
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _result(
    target: Target,
    run: TargetRun | None,
    failure: str | None,
    params: IcmpParams,
    started: int,
    timeout_ns: int,
) -> ProbeResult:
    """The ProbeResult of one target: OK if any on-time reply, else FAILED or TIMEOUT.

    Send errors are kept in ``error`` even when the status is OK (some replies arrived):
    ``2 of 5 sends failed: No route to host``. FAILED means nothing arrived and something
    went wrong on our side; TIMEOUT means every packet went out and none was answered.
    """
    if run is None:
        metrics = summarize(0, [])
        details: dict[str, Any] = {DETAIL_RTTS: [], DETAIL_TIMESTAMPS: None}
        return ProbeResult(
            target.name, "icmp", started, ProbeStatus.FAILED, metrics, failure, details
        )
    rtts = on_time_rtts(run.rtt_ns, timeout_ns)
    metrics = summarize(run.sent, rtts)
    details = {DETAIL_RTTS: rtt_distribution(rtts), DETAIL_TIMESTAMPS: run.timestamps()}
    problem = run.problem()
    if rtts:
        status, error = ProbeStatus.OK, problem
    elif problem is not None:
        status, error = ProbeStatus.FAILED, problem
    else:
        status = ProbeStatus.TIMEOUT
        error = f"no echo reply within {params.timeout:g} s ({run.sent} sent)"
    return ProbeResult(target.name, "icmp", started, status, metrics, error, details)
