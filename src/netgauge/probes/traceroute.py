"""Traceroute probe (kind ``"traceroute"``), MTR-style: every hop's address, loss and RTT.

Probes of every TTL are in flight at once: round r sends TTL 1, 2, ... (``pace_ms`` apart)
and stops at the TTL where the destination answered; ``probes`` rounds, ``interval`` apart.
Each answer is matched to its probe by UDP destination port or ICMP sequence (see
``traceroute_socket``), so nothing waits for one TTL before sending the next.

Metrics: ``hops`` (TTL of the destination), ``reached`` (1/0), ``rtt_ms`` (average RTT of
the destination) and ``loss_pct`` (loss at the destination; 100 when it was not reached).
``details["hops"]`` lists each hop; ``details["path"]`` their addresses (None = silent).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from pydantic import Field, model_validator

from netgauge.models import ProbeResult, ProbeStatus, Target, now_ns
from netgauge.probes.base import ProbeParams, register_probe
from netgauge.probes.icmp_resolve import parse_ip_literal
from netgauge.probes.traceroute_hops import ProbeOutcome, hop_entry, path_of
from netgauge.probes.traceroute_packet import ReplyKind
from netgauge.probes.traceroute_socket import (
    Reply,
    TraceMode,
    Transport,
    TransportOpener,
    open_transport,
)

__all__ = ["METRIC_NAMES", "ReverseResolver", "TraceMode", "TracerouteParams", "TracerouteProbe"]

METRIC_NAMES = ("hops", "reached", "rtt_ms", "loss_pct")
MAX_TTL = 30
_NAME_TIMEOUT_S = 1.0

ReverseResolver = Callable[[str], Awaitable[str | None]]
"""Address -> host name (None if it has none); injected, so tests never query DNS."""


MAX_PROBES = 1000  # 30 hops × 1000 = 30,000 probe indexes: within a 16-bit sequence space
MAX_RUN_S = 900


class TracerouteParams(ProbeParams):
    """Parameters of a traceroute (unknown keys are errors).

    * ``mode``: ``udp`` (datagrams to high ports; works for any user) or ``icmp`` (echo).
    * ``probes``: probes per hop, or rounds (1..1000: ``netgauge probe traceroute --probes
      100`` is mtr's ``-c 100``); ``max_hops``: highest TTL tried (1..30). A run's rounds
      take ``probes × interval``: at most 15 minutes.
    * ``timeout``: seconds to wait for each answer; a later one counts as lost.
    * ``interval``: seconds between rounds; ``pace_ms``: milliseconds between two sends.
    * ``resolve_names``: look up each hop's reverse name (off by default).
    """

    mode: TraceMode = TraceMode.UDP
    probes: int = Field(default=3, ge=1, le=MAX_PROBES)
    max_hops: int = Field(default=MAX_TTL, ge=1, le=MAX_TTL)
    timeout: float = Field(default=1.0, gt=0.0, le=10.0)
    interval: float = Field(default=0.5, ge=0.0, le=10.0, title="Seconds between rounds")
    pace_ms: float = Field(default=1.0, ge=0.0, le=1000.0)
    resolve_names: bool = False

    @model_validator(mode="after")
    def _bounded_run(self) -> TracerouteParams:
        if self.probes * self.interval > MAX_RUN_S:
            raise ValueError(
                f"probes × interval is {self.probes * self.interval:g} s: at most {MAX_RUN_S} s"
            )
        return self


async def system_reverse_name(address: str) -> str | None:
    """The reverse DNS name of ``address`` via the system resolver, or None."""
    loop = asyncio.get_running_loop()
    try:
        name, _port = await loop.getnameinfo((address, 0), socket.NI_NAMEREQD)
    except OSError:
        return None
    return name


class _Trace:
    """One run against one address: sends, matches answers, decides when to stop."""

    def __init__(self, params: TracerouteParams) -> None:
        self.params = params
        self.timeout_ns = round(params.timeout * 1e9)
        self.sent_ns: dict[int, int] = {}
        self.replies: dict[int, Reply] = {}
        self.send_errors: list[str] = []
        self.end_ttl: int | None = None  # lowest TTL that reached the end (or a refusal)
        self.changed = asyncio.Event()

    def ttl_of(self, index: int) -> int:
        return index // self.params.probes + 1

    def on_reply(self, reply: Reply) -> None:
        sent = self.sent_ns.get(reply.probe)
        if sent is None or reply.probe in self.replies or reply.recv_ns - sent > self.timeout_ns:
            return  # not sent by us, a duplicate, or too late: counts as lost
        self.replies[reply.probe] = reply
        if reply.answer.kind is not ReplyKind.TIME_EXCEEDED:
            ttl = self.ttl_of(reply.probe)
            self.end_ttl = ttl if self.end_ttl is None else min(self.end_ttl, ttl)
        self.changed.set()

    @property
    def last_ttl(self) -> int:
        return self.end_ttl or self.params.max_hops

    async def run(self, transport: Transport) -> None:
        """All rounds of sends, then wait for the answers still due."""
        for round_ in range(self.params.probes):
            if round_:
                await asyncio.sleep(self.params.interval)
            await self._send_round(transport, round_)
        await self._settle()

    async def _send_round(self, transport: Transport, round_: int) -> None:
        for ttl in range(1, self.params.max_hops + 1):
            if ttl > self.last_ttl:
                return
            index = (ttl - 1) * self.params.probes + round_
            self.sent_ns[index] = time.monotonic_ns()
            try:
                transport.send(index, ttl)
            except OSError as exc:
                self.send_errors.append(exc.strerror or str(exc))
            # Yield (or pace): answers already queued are read, so the end is seen early.
            await asyncio.sleep(self.params.pace_ms / 1000.0)

    def _pending(self) -> bool:
        return any(
            index not in self.replies
            for index in self.sent_ns
            if self.ttl_of(index) <= self.last_ttl
        )

    async def _settle(self) -> None:
        """Wait until every probe up to the last hop is answered or out of time."""
        deadline = max(self.sent_ns.values(), default=0) + self.timeout_ns
        while self._pending():
            remaining = (deadline - time.monotonic_ns()) / 1e9
            if remaining <= 0:
                return
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                return

    def outcomes(self, ttl: int) -> list[ProbeOutcome]:
        first = (ttl - 1) * self.params.probes
        result = []
        for index in range(first, first + self.params.probes):
            if index not in self.sent_ns:
                continue
            reply = self.replies.get(index)
            if reply is None:
                result.append(ProbeOutcome())
            else:
                rtt = reply.recv_ns - self.sent_ns[index]
                result.append(ProbeOutcome(reply.address, rtt, reply.answer.kind))
        return result


@register_probe
class TracerouteProbe:
    """MTR-style traceroute of one target (kind ``traceroute``)."""

    kind: ClassVar[str] = "traceroute"
    params_model: ClassVar[type[ProbeParams]] = TracerouteParams

    def __init__(
        self,
        *,
        opener: TransportOpener = open_transport,
        resolver: ReverseResolver | None = None,
    ) -> None:
        self.opener = opener
        self.resolver = resolver

    async def run(self, target: Target, params: Any) -> ProbeResult:
        """Trace the path to ``target``; never raises for an unreachable target."""
        assert isinstance(params, TracerouteParams)
        ts = now_ns()
        address = parse_ip_literal(target.address)
        if address is None or "%" in address:
            return self._failed(target, ts, f"{target.address!r} is not an IP address")
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        trace = _Trace(params)
        n_probes = params.max_hops * params.probes
        transport = self.opener(params.mode, family, address, n_probes, trace.on_reply)
        try:
            await trace.run(transport)
        finally:
            transport.close()
        return await self._result(target, ts, address, trace)

    def _failed(self, target: Target, ts: int, error: str) -> ProbeResult:
        metrics = {"hops": None, "reached": 0.0, "rtt_ms": None, "loss_pct": 100.0}
        return ProbeResult(target.name, self.kind, ts, ProbeStatus.FAILED, metrics, error,
                           {"hops": [], "path": []})  # fmt: skip

    async def _result(self, target: Target, ts: int, address: str, trace: _Trace) -> ProbeResult:
        hops = [hop_entry(ttl, trace.outcomes(ttl)) for ttl in range(1, trace.last_ttl + 1)]
        hops = [hop for hop in hops if hop["sent"]]
        if trace.params.resolve_names:
            await self._add_names(hops)
        last = trace.outcomes(trace.last_ttl)
        reached = any(o.kind is ReplyKind.REACHED for o in last)
        status, error = _status(trace, last, reached, address)
        end = hops[-1] if hops else {}
        metrics: dict[str, float | None] = {
            "hops": float(trace.last_ttl) if reached else None,
            "reached": 1.0 if reached else 0.0,
            "rtt_ms": end.get("rtt_avg_ms") if reached else None,
            "loss_pct": end.get("loss_pct") if reached else 100.0,
        }
        details = {"address": address, "mode": trace.params.mode.value, "hops": hops,
                   "path": path_of(hops)}  # fmt: skip
        return ProbeResult(target.name, self.kind, ts, status, metrics, error, details)

    async def _add_names(self, hops: list[dict[str, Any]]) -> None:
        resolver = self.resolver or system_reverse_name

        async def name_of(address: str) -> str | None:
            try:
                return await asyncio.wait_for(resolver(address), _NAME_TIMEOUT_S)
            except (TimeoutError, OSError):
                return None

        addresses = [hop["address"] for hop in hops]
        names = await asyncio.gather(*(name_of(a) for a in addresses if a is not None))
        found = dict(zip([a for a in addresses if a is not None], names, strict=True))
        for hop in hops:
            hop["name"] = found.get(hop["address"]) if hop["address"] else None


def _status(
    trace: _Trace, last: list[ProbeOutcome], reached: bool, address: str
) -> tuple[ProbeStatus, str | None]:
    if reached:
        return ProbeStatus.OK, None
    refused = next((o for o in last if o.kind is ReplyKind.UNREACHABLE), None)
    if refused is not None:
        return ProbeStatus.FAILED, (
            f"{address} unreachable: reported by {refused.address} at hop {trace.last_ttl}"
        )
    if trace.send_errors and len(trace.send_errors) == len(trace.sent_ns):
        return ProbeStatus.FAILED, f"every send failed: {trace.send_errors[0]}"
    return ProbeStatus.TIMEOUT, f"{address} not reached within {trace.params.max_hops} hops"
