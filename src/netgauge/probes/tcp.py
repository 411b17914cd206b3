"""TCP connect probe: connect time, refused told apart from timed out."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from typing import ClassVar

from pydantic import Field

from netgauge.models import ProbeResult, ProbeStatus, Target, now_ns
from netgauge.probes.base import ProbeParams, register_probe


class TcpParams(ProbeParams):
    """Where to connect and how long to wait."""

    port: int = Field(ge=1, le=65535)
    timeout: float = Field(3.0, gt=0, le=300, description="seconds for the connect")


@register_probe
class TcpProbe:
    """Opens one TCP connection and closes it; metrics: ``connect_ms``, ``refused`` (0/1)."""

    kind: ClassVar[str] = "tcp"
    params_model: ClassVar[type[ProbeParams]] = TcpParams

    async def run(self, target: Target, params: TcpParams) -> ProbeResult:
        """Connect to ``target.address:params.port``."""
        ts = now_ns()
        start = time.perf_counter()
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(target.address, params.port), params.timeout
            )
        except TimeoutError:
            return self._failed(target, ts, ProbeStatus.TIMEOUT, "connect timed out", refused=0.0)
        except OSError as exc:
            refused = 1.0 if exc.errno == errno.ECONNREFUSED else 0.0
            # asyncio puts "Connect call failed (addr)" in strerror; the errno text is clearer
            detail = os.strerror(exc.errno) if exc.errno else str(exc)
            return self._failed(target, ts, ProbeStatus.FAILED, f"connect: {detail}", refused)
        connect_ms = (time.perf_counter() - start) * 1000.0
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass  # the peer may reset on close; the connect itself succeeded
        metrics = {"connect_ms": connect_ms, "refused": 0.0}
        return ProbeResult(target.name, self.kind, ts, ProbeStatus.OK, metrics)

    def _failed(
        self, target: Target, ts: int, status: ProbeStatus, error: str, refused: float
    ) -> ProbeResult:
        return ProbeResult(target.name, self.kind, ts, status, {"refused": refused}, error)
