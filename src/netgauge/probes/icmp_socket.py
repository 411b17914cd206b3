"""Opening ICMP sockets: raw when privileged, unprivileged datagram ("ping") sockets otherwise.

* SOCK_RAW needs root or CAP_NET_RAW. We choose the echo identifier; a raw IPv4 socket sees
  every ICMP message of the host *with* its IP header, so a kernel ICMP filter lets only
  echo replies through and the engine keeps only its own identifier.
* SOCK_DGRAM + IPPROTO_ICMP(V6) works for users whose group is inside
  ``net.ipv4.ping_group_range``. The kernel rewrites the identifier to the socket's local
  "port" and delivers only replies carrying it, so we bind first and read that port back.
"""

from __future__ import annotations

import enum
import errno
import os
import random
import socket
import struct
from dataclasses import dataclass
from typing import Protocol

from netgauge.errors import ProbeSetupError

ENV_SOCKET_MODE = "NETGAUGE_ICMP_SOCKET"
"""Environment variable forcing the socket mode (``raw`` or ``dgram``) when params say auto."""

RCVBUF_BYTES = 16 * 1024 * 1024  # room for a burst of replies from thousands of targets
SNDBUF_BYTES = 4 * 1024 * 1024

# Linux constants the socket module does not export.
_SOL_RAW = 255
_ICMP_FILTER = 1
_ICMP6_FILTER = 1
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
_IPV6_TCLASS = getattr(socket, "IPV6_TCLASS", 67)

SETUP_HINT = (
    "run as root or grant CAP_NET_RAW (setcap cap_net_raw+ep), or allow unprivileged "
    'ICMP sockets with: sysctl net.ipv4.ping_group_range="0 2147483647"'
)


class SocketMode(enum.StrEnum):
    """Which kind of ICMP socket to use."""

    AUTO = "auto"
    RAW = "raw"
    DGRAM = "dgram"


@dataclass(frozen=True, slots=True)
class IcmpSocket:
    """An open non-blocking ICMP socket with what the engine needs to match replies."""

    sock: socket.socket
    family: int
    mode: SocketMode
    ident: int  # identifier the replies carry (the local port for datagram sockets)

    @property
    def ip_header(self) -> bool:
        """True when received data starts with the IP header (raw IPv4 only)."""
        return self.mode is SocketMode.RAW and self.family == socket.AF_INET


class SocketOpener(Protocol):
    """Opens the ICMP socket of one family: :func:`open_icmp_socket`, or a fake in tests."""

    def __call__(
        self, family: int, mode: SocketMode, *, ttl: int | None = None, tos: int | None = None
    ) -> IcmpSocket: ...


def resolve_mode(mode: SocketMode) -> SocketMode:
    """``mode`` itself, or the env override when ``mode`` is auto."""
    if mode is not SocketMode.AUTO:
        return mode
    forced = os.environ.get(ENV_SOCKET_MODE, "").strip().lower()
    if not forced:
        return SocketMode.AUTO
    try:
        return SocketMode(forced)
    except ValueError:
        raise ProbeSetupError(
            f"{ENV_SOCKET_MODE}={forced!r}: expected raw, dgram or auto"
        ) from None


def open_icmp_socket(
    family: int, mode: SocketMode, *, ttl: int | None = None, tos: int | None = None
) -> IcmpSocket:
    """Open an ICMP socket for ``family``; auto tries raw, then datagram.

    Raises ProbeSetupError (naming both remedies) when permission is denied, and
    OSError(EAFNOSUPPORT) when the family itself is unavailable (e.g. IPv6 disabled).
    """
    mode = resolve_mode(mode)
    order = [SocketMode.RAW, SocketMode.DGRAM] if mode is SocketMode.AUTO else [mode]
    denied: list[str] = []
    for candidate in order:
        try:
            icmp = _open(family, candidate)
        except PermissionError as exc:
            denied.append(f"{candidate.value}: {exc.strerror or exc}")
            continue
        _apply_options(icmp, ttl=ttl, tos=tos)
        return icmp
    raise ProbeSetupError(f"cannot open an ICMP socket ({'; '.join(denied)}): {SETUP_HINT}")


def _open(family: int, mode: SocketMode) -> IcmpSocket:
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    kind = socket.SOCK_RAW if mode is SocketMode.RAW else socket.SOCK_DGRAM
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        if mode is SocketMode.RAW:
            _install_echo_reply_filter(sock, family)
            ident = random.getrandbits(16)  # random, not the pid: other engines share raw traffic
        else:
            sock.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
            ident = sock.getsockname()[1]
        _grow_buffers(sock)
    except BaseException:
        sock.close()
        raise
    return IcmpSocket(sock, family, mode, ident)


def _install_echo_reply_filter(sock: socket.socket, family: int) -> None:
    """Let only echo replies reach a raw socket so floods of other ICMP cost nothing."""
    if family == socket.AF_INET6:
        # struct icmp6_filter: 256 bits, a set bit *blocks* that type (Linux semantics).
        words = [0xFFFFFFFF] * 8
        words[129 >> 5] &= ~(1 << (129 & 31))
        sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("=8I", *words))
    else:
        # ICMP_FILTER: 32-bit mask, a set bit drops that type; keep type 0 (echo reply).
        sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("=I", 0xFFFFFFFF & ~1))


def _grow_buffers(sock: socket.socket) -> None:
    """Raise SO_RCVBUF/SO_SNDBUF; the *FORCE variants pass rmem_max when privileged."""
    for force, plain, size in (
        (_SO_RCVBUFFORCE, socket.SO_RCVBUF, RCVBUF_BYTES),
        (_SO_SNDBUFFORCE, socket.SO_SNDBUF, SNDBUF_BYTES),
    ):
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, plain, size)  # capped at net.core.*mem_max


def _apply_options(icmp: IcmpSocket, *, ttl: int | None, tos: int | None) -> None:
    sock = icmp.sock
    if icmp.family == socket.AF_INET6:
        if ttl is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        if tos is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_TCLASS, tos)
        return
    if ttl is not None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    if tos is not None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)


def is_family_unsupported(exc: OSError) -> bool:
    """True when ``exc`` says the address family is unavailable on this host."""
    return exc.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT)
