"""One ICMP round over many targets, as ProbeResults: what ``IcmpProbe`` and ``netgauge probe
icmp`` both run. Plain data in and out (no pydantic), so the one-shot command starts fast.

Every target shares one raw (or datagram) socket per address family and one send
scheduler (see ``icmp_engine``); concurrent rounds on the same loop with the same socket
options share the sockets too.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from netgauge.errors import TargetResolutionError
from netgauge.models import ProbeResult, ProbeStatus, Target, now_ns
from netgauge.probes.icmp_engine import IcmpEngine, TargetRun
from netgauge.probes.icmp_options import IcmpOptions
from netgauge.probes.icmp_resolve import resolve_each
from netgauge.probes.icmp_socket import SocketOpener, open_icmp_socket
from netgauge.probes.icmp_stats import DETAIL_RTTS, on_time_rtts, rtt_distribution, summarize

DETAIL_TIMESTAMPS = "timestamps"
"""Key of ``ProbeResult.details``: where the RTTs came from (kernel, userspace, mixed, None)."""

_EngineKey = tuple[asyncio.AbstractEventLoop, str, int | None, int | None, str | None]


class IcmpPinger:
    """Runs ICMP rounds; owns the engines (sockets) while rounds are in flight."""

    def __init__(self, *, opener: SocketOpener = open_icmp_socket) -> None:
        # ``opener`` opens the sockets; tests inject fakes (the I/O edge), nothing else does.
        self._opener = opener
        # One engine (hence one socket per family) per loop and socket options, shared by
        # every round in flight and closed when the last one finishes.
        self._engines: dict[_EngineKey, tuple[IcmpEngine, int]] = {}

    async def run_batch(
        self, targets: Sequence[Target], options: IcmpOptions, *, resolved: bool = False
    ) -> list[ProbeResult]:
        """Probe every target in one paced pass; one result per target, in order.

        ``resolved`` says every ``target.address`` is already a canonical IP address (as
        ``resolve_targets`` returns them), which saves parsing 10,000 of them again.
        Raises ProbeSetupError only when no ICMP socket can be opened on this machine.
        """
        started = now_ns()
        if resolved:
            runs: list[TargetRun | None] = [_run(t.address, options.count) for t in targets]
            failures: dict[int, str] = {}
        else:
            runs, failures = await _prepare_runs(targets, options.count)
        live = [run for run in runs if run is not None]
        if live:
            async with self._engine(options) as engine:
                await engine.send_batch(live, options.schedule())
        timeout_ns = round(options.timeout * 1e9)
        return [
            _result(target, run, failures.get(i), options.timeout, started, timeout_ns)
            for i, (target, run) in enumerate(zip(targets, runs, strict=True))
        ]

    @asynccontextmanager
    async def _engine(self, options: IcmpOptions) -> AsyncIterator[IcmpEngine]:
        loop = asyncio.get_running_loop()
        key: _EngineKey = (loop, options.socket_mode, options.ttl, options.tos, options.source)
        engine, users = self._engines.get(key) or (
            IcmpEngine(
                loop,
                options.socket_mode,
                ttl=options.ttl,
                tos=options.tos,
                source=options.source,
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
            runs.append(_run(address, count))
    return runs, failures


def _run(address: str, count: int) -> TargetRun:
    """The TargetRun of a resolved (canonical) address: only IPv6 ones contain a colon."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return TargetRun(address, family, count)


def _result(
    target: Target,
    run: TargetRun | None,
    failure: str | None,
    timeout_s: float,
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
        error = f"no echo reply within {timeout_s:g} s ({run.sent} sent)"
    return ProbeResult(target.name, "icmp", started, status, metrics, error, details)
