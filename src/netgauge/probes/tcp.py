"""TCP connect probe: connect time, refused told apart from timed out, optional banner match."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from typing import ClassVar

from pydantic import Field

from netgauge.models import ProbeResult, ProbeStatus, Target, now_ns
from netgauge.probes.base import ProbeParams, register_probe
from netgauge.probes.patterns import Pattern, UserRegex, compile_bytes


class TcpParams(ProbeParams):
    """Where to connect and how long to wait."""

    port: int = Field(ge=1, le=65535)
    timeout: float = Field(3.0, gt=0, le=300, description="seconds for the connect")
    expect: UserRegex | None = Field(
        None, description="regex (RE2) the banner (first bytes) must match"
    )
    send: str | None = Field(None, description="text sent first (UTF-8), e.g. a request line")
    read_timeout: float = Field(3.0, gt=0, le=300, description="seconds to wait for the banner")
    max_banner_bytes: int = Field(4096, ge=1, le=65536)


BANNER_SHOWN = 256  # bytes of the banner kept in the result's details


def printable(data: bytes, limit: int = BANNER_SHOWN) -> str:
    """The first ``limit`` bytes as text: printable ASCII kept, the rest as escapes (\\r, \\xNN)."""
    return "".join(
        chr(byte) if 32 <= byte < 127 and byte != 0x5C else _escape(byte) for byte in data[:limit]
    )


def _escape(byte: int) -> str:
    return {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x5C: "\\\\"}.get(byte, f"\\x{byte:02x}")


async def read_banner(
    reader: asyncio.StreamReader, pattern: Pattern, limit: int, timeout: float
) -> tuple[bytes, bool]:
    """Read until ``pattern`` matches, the peer closes, ``limit`` bytes or ``timeout``.

    Returns what was read and whether it matched.
    """
    data = b""
    try:
        async with asyncio.timeout(timeout):
            while len(data) < limit:  # bounded: each turn reads at least one byte or ends
                chunk = await reader.read(limit - len(data))
                if not chunk:
                    break
                data += chunk
                if pattern.search(data):
                    return data, True
    except TimeoutError:
        pass
    return data, bool(pattern.search(data))


@register_probe
class TcpProbe:
    """Opens one TCP connection, optionally checks its banner, and closes it.

    Metrics: ``connect_ms``, ``refused`` (0/1), ``banner_match`` (0/1, with ``expect``).
    """

    kind: ClassVar[str] = "tcp"
    params_model: ClassVar[type[ProbeParams]] = TcpParams

    async def run(self, target: Target, params: TcpParams) -> ProbeResult:
        """Connect to ``target.address:params.port``."""
        ts = now_ns()
        start = time.perf_counter()
        try:
            reader, writer = await asyncio.wait_for(
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
        metrics: dict[str, float | None] = {"connect_ms": connect_ms, "refused": 0.0}
        try:
            return await self._converse(target, ts, params, (reader, writer), metrics)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass  # the peer may reset on close; the connect itself succeeded

    async def _converse(
        self,
        target: Target,
        ts: int,
        params: TcpParams,
        stream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        metrics: dict[str, float | None],
    ) -> ProbeResult:
        """Send ``params.send``, then read and match the banner when ``params.expect`` is set."""
        reader, writer = stream
        try:
            if params.send is not None:
                writer.write(params.send.encode())
                await writer.drain()
            if params.expect is None:
                return ProbeResult(target.name, self.kind, ts, ProbeStatus.OK, metrics)
            pattern = compile_bytes(params.expect)
            banner, matched = await read_banner(
                reader, pattern, params.max_banner_bytes, params.read_timeout
            )
        except OSError as exc:
            detail = os.strerror(exc.errno) if exc.errno else str(exc)
            error = f"{'send' if params.expect is None else 'banner'}: {detail}"
            return ProbeResult(target.name, self.kind, ts, ProbeStatus.FAILED, metrics, error)
        metrics["banner_match"] = 1.0 if matched else 0.0
        details = {"banner": printable(banner)}
        if matched:
            return ProbeResult(target.name, self.kind, ts, ProbeStatus.OK, metrics, None, details)
        error = _mismatch(banner, params)
        return ProbeResult(target.name, self.kind, ts, ProbeStatus.FAILED, metrics, error, details)

    def _failed(
        self, target: Target, ts: int, status: ProbeStatus, error: str, refused: float
    ) -> ProbeResult:
        return ProbeResult(target.name, self.kind, ts, status, {"refused": refused}, error)


def _mismatch(banner: bytes, params: TcpParams) -> str:
    """Why the banner did not match, in one line."""
    if not banner:
        return f"no banner within {params.read_timeout:g}s (expected /{params.expect}/)"
    return f"banner '{printable(banner, 64)}' does not match /{params.expect}/"
