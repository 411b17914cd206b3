"""Opening ICMP sockets: raw when privileged, unprivileged datagram ("ping") sockets otherwise.

* SOCK_RAW needs root or CAP_NET_RAW. We choose the echo identifier; a raw IPv4 socket sees
  every ICMP message of the host *with* its IP header, so a kernel ICMP filter lets only
  echo replies through and the engine keeps only its own identifier.
* SOCK_DGRAM + IPPROTO_ICMP(V6) works for users whose group is inside
  ``net.ipv4.ping_group_range``. The kernel rewrites the identifier to the socket's local
  "port" and delivers only replies carrying it, so we bind first and read that port back.
* Both kinds ask for kernel receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME nanoseconds
  as ancillary data of ``recvmsg``): the time the reply reached the network stack, not the
  time Python got round to reading it. See ``kernel_stamp_ns``.
* ``source`` binds the socket to one local address (ping -I ADDRESS): replies come back to
  it, and the kernel picks the route as for any socket bound to that address.
"""

from __future__ import annotations

import enum
import errno
import os
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
SO_TIMESTAMPNS = 35  # == SCM_TIMESTAMPNS (asm-generic); Python's socket module lacks it
_TIMESPEC = struct.Struct("=qq")  # struct timespec on 64-bit Linux: tv_sec, tv_nsec
ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size)

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
    kernel_timestamps: bool = False  # SO_TIMESTAMPNS is on: replies carry a receive stamp

    @property
    def ip_header(self) -> bool:
        """True when received data starts with the IP header (raw IPv4 only)."""
        return self.mode is SocketMode.RAW and self.family == socket.AF_INET


class SocketOpener(Protocol):
    """Opens the ICMP socket of one family: :func:`open_icmp_socket`, or a fake in tests."""

    def __call__(
        self,
        family: int,
        mode: SocketMode,
        *,
        ttl: int | None = None,
        tos: int | None = None,
        source: str | None = None,
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
    family: int,
    mode: SocketMode,
    *,
    ttl: int | None = None,
    tos: int | None = None,
    source: str | None = None,
) -> IcmpSocket:
    """Open an ICMP socket for ``family``; auto tries raw, then datagram.

    Raises ProbeSetupError (naming both remedies) when permission is denied or ``source``
    is not a local address, and OSError(EAFNOSUPPORT) when the family itself is unavailable.
    """
    mode = resolve_mode(mode)
    order = [SocketMode.RAW, SocketMode.DGRAM] if mode is SocketMode.AUTO else [mode]
    denied: list[str] = []
    for candidate in order:
        try:
            icmp = _open(family, candidate, source)
        except PermissionError as exc:
            denied.append(f"{candidate.value}: {exc.strerror or exc}")
            continue
        _apply_options(icmp, ttl=ttl, tos=tos)
        return icmp
    raise ProbeSetupError(f"cannot open an ICMP socket ({'; '.join(denied)}): {SETUP_HINT}")


def _open(family: int, mode: SocketMode, source: str | None = None) -> IcmpSocket:
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    kind = socket.SOCK_RAW if mode is SocketMode.RAW else socket.SOCK_DGRAM
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        if mode is SocketMode.RAW:
            _install_echo_reply_filter(sock, family)
            if source is not None:
                _bind_source(sock, source)
            # random, not the pid: other engines share raw traffic (os.urandom: the random
            # module's import is a millisecond of the one-shot CLI's start-up)
            ident = int.from_bytes(os.urandom(2), "big")
        else:
            _bind_source(sock, source or ("::" if family == socket.AF_INET6 else "0.0.0.0"))
            ident = sock.getsockname()[1]
        _grow_buffers(sock)
        stamps = enable_kernel_timestamps(sock)
    except BaseException:
        sock.close()
        raise
    return IcmpSocket(sock, family, mode, ident, kernel_timestamps=stamps)


def _bind_source(sock: socket.socket, source: str) -> None:
    """Bind to ``source`` (port 0); a non-local address is a setup error, not a crash."""
    try:
        sock.bind((source, 0))
    except OSError as exc:
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EINVAL, errno.EAFNOSUPPORT):
            raise ProbeSetupError(
                f"cannot use source address {source}: {exc.strerror or exc}"
            ) from exc
        raise


def enable_kernel_timestamps(sock: socket.socket) -> bool:
    """Ask for SO_TIMESTAMPNS receive stamps; False when the kernel refuses."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def kernel_stamp_ns(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """The SO_TIMESTAMPNS receive time (CLOCK_REALTIME ns) in ``recvmsg`` ancillary data."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return int(seconds * 1_000_000_000 + nanoseconds)
    return None


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
