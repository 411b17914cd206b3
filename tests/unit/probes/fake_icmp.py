"""A fake ICMP socket for the engine: scripted send outcomes, instant replies, no packets.

The engine only needs ``fileno``/``sendto``/``recvmsg``/``close`` from its socket, and the
event loop needs a real file descriptor to watch. So :class:`FakeSock` is a real
``socket.socket`` (one end of a Unix socket pair) whose ``sendto`` and ``recvmsg`` are
replaced:

* ``sendto`` asks :attr:`FakeSock.outcome` what to do with each echo request: answer it,
  swallow it (a silent host), or raise an ``OSError`` (e.g. EHOSTUNREACH on packet 3).
  While :attr:`FakeSock.blocked` is set it raises ``BlockingIOError`` and the descriptor
  is really not writable (its send buffer is full), so ``loop.add_writer`` waits for real.
* An answer is queued and one byte written from the peer end, so the descriptor becomes
  readable and the engine's reader callback runs as for a real reply.
* :attr:`FakeSock.stamp` plays the kernel's SO_TIMESTAMPNS: given the wall-clock time
  (ns) at which ``sendto`` accepted the request, it returns the receive stamp to attach to
  the reply, or None for no ancillary data (the default, like a kernel without stamps).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from netgauge.probes.icmp_packet import checksum
from netgauge.probes.icmp_socket import SO_TIMESTAMPNS, IcmpSocket, SocketMode

Stamp = Callable[[int], int | None]
"""Wall-clock ns when the request was accepted -> the reply's kernel receive stamp, or None."""

ANSWER = "answer"
SILENT = "silent"
Outcome = str | OSError
"""What happens to one request: ANSWER, SILENT, or the error ``sendto`` raises."""

_REPLY_TYPE: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}


def send_error(code: int) -> OSError:
    """The OSError the kernel raises for ``code`` (e.g. errno.EHOSTUNREACH)."""
    return OSError(code, os.strerror(code))


def echo_reply(family: int, request: bytes) -> bytes:
    """The echo reply a host would send back to ``request`` (datagram socket view)."""
    kind, code, _sum, ident, seq = struct.unpack("!BBHHH", request[:8])
    body = struct.pack("!BBHHH", _REPLY_TYPE[family], code, 0, ident, seq) + request[8:]
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


class FakeSock(socket.socket):
    """One end of a socket pair playing an ICMP datagram socket (see the module doc)."""

    def __init__(
        self,
        family: int,
        outcome: Callable[[str, int], Outcome],
        stamp: Stamp = lambda _sent: None,
    ) -> None:
        here, self.peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        super().__init__(fileno=here.detach())
        self.setblocking(False)
        self.peer.setblocking(False)
        self.icmp_family = family
        self.outcome = outcome  # (address, n-th request to it, from 0) -> Outcome
        self.requests: dict[str, int] = {}
        self.stamp = stamp
        self.replies: deque[tuple[bytes, int | None, tuple[str, int]]] = deque()
        self.would_block = 0  # sendto calls refused with BlockingIOError
        self.blocked = False
        self.on_send: Callable[[], None] | None = None  # runs before each accepted request

    def block(self) -> None:
        """Refuse every send with BlockingIOError and fill the real buffer (not writable)."""
        self.blocked = True
        self.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        chunk = b"\0" * 4096
        for _ in range(100_000):  # bounded: a Unix stream buffer fills in a few chunks
            try:
                super().send(chunk)
            except BlockingIOError:
                return
        raise AssertionError("the socket buffer never filled")

    def unblock(self) -> None:
        """Accept sends again and drain the peer, so the descriptor becomes writable."""
        self.blocked = False
        for _ in range(100_000):  # bounded: the buffer holds a few chunks
            try:
                if not self.peer.recv(65536):
                    return
            except BlockingIOError:
                return
        raise AssertionError("the peer never drained")

    def sendto(self, data: Any, *args: Any) -> int:
        if self.blocked:
            self.would_block += 1
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        address = str(args[-1][0])
        n = self.requests.get(address, 0)
        self.requests[address] = n + 1
        if self.on_send is not None:
            self.on_send()
        outcome = self.outcome(address, n)
        if isinstance(outcome, OSError):
            raise outcome
        if outcome == ANSWER:
            reply = echo_reply(self.icmp_family, bytes(data))
            self.replies.append((reply, self.stamp(time.time_ns()), (address, 0)))
            self.peer.send(b"r")
        return len(data)

    def recvmsg(
        self, bufsize: int, ancbufsize: int = 0, flags: int = 0, /
    ) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
        if self.replies:
            reply, stamp, address = self.replies.popleft()
            if stamp is None:
                return reply, [], 0, address
            timespec = struct.pack("=qq", *divmod(stamp, 1_000_000_000))
            return reply, [(socket.SOL_SOCKET, SO_TIMESTAMPNS, timespec)], 0, address
        try:  # nothing queued: drain the wake-up bytes so the descriptor stops being readable
            while super().recv(4096):
                pass
        except BlockingIOError:
            pass
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    def close(self) -> None:
        self.peer.close()
        super().close()


class FakeOpener:
    """A SocketOpener handing out FakeSocks (one per family), kept for the test to script."""

    def __init__(
        self,
        outcome: Callable[[str, int], Outcome] = lambda _a, _n: ANSWER,
        *,
        blocked: bool = False,
        stamp: Stamp = lambda _sent: None,
    ) -> None:
        self.outcome = outcome
        self.stamp = stamp
        self.options: dict[int, dict[str, Any]] = {}  # family -> options it was opened with
        self.blocked = blocked  # open sockets with a full send buffer (see FakeSock.block)
        self.socks: dict[int, FakeSock] = {}

    def __call__(
        self,
        family: int,
        mode: SocketMode,
        *,
        ttl: int | None = None,
        tos: int | None = None,
        source: str | None = None,
    ) -> IcmpSocket:
        self.options[family] = {"ttl": ttl, "tos": tos, "source": source}
        sock = FakeSock(family, self.outcome, self.stamp)
        if self.blocked:
            sock.block()
        self.socks[family] = sock
        return IcmpSocket(sock, family, SocketMode.DGRAM, ident=0x4E47)
