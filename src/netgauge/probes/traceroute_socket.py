"""Traceroute transports: send a probe with a TTL, report each answer matched to its probe.

* UDP (any user): datagrams to ``base_port + index`` on one socket with ``IP_RECVERR``; the
  kernel queues every ICMP error for it on the socket's error queue with the original
  destination address, so the port names the probe.
* ICMP datagram socket (users in ``net.ipv4.ping_group_range``): echo requests whose
  sequence is ``seq_base + index``; errors come through ``IP_RECVERR`` as for UDP with
  the quoted echo header as payload, echo replies through the normal queue.
* ICMP raw socket (root or CAP_NET_RAW, IPv4): the fallback when datagram ICMP sockets are
  not permitted; every ICMP message of the host arrives, so ours are picked by identifier.

One socket per run: answers can never be mixed up between two runs.
"""

from __future__ import annotations

import asyncio
import enum
import random
import socket
import struct
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

from netgauge.errors import ProbeSetupError
from netgauge.probes.icmp_packet import build_echo_request, payload_of
from netgauge.probes.traceroute_packet import (
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_ICMP6,
    Answer,
    ReplyKind,
    classify,
    echo_seq,
    parse_extended_error,
    parse_raw_icmp4,
)

# Linux constants the socket module of Python 3.11 does not export.
IP_RECVERR = 11
IPV6_RECVERR = 25
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
_SOL_RAW = 255
_ICMP_FILTER = 1
_PAYLOAD_BYTES = 32
_RECV_BYTES = 2048
_DRAIN_LIMIT = 1024  # messages read per wake-up, so one callback is bounded


class TraceMode(enum.StrEnum):
    """What the probes are: ICMP echo requests or UDP datagrams to high ports."""

    ICMP = "icmp"
    UDP = "udp"


class Reply(NamedTuple):
    """An answer matched to the probe (by index) it answers."""

    probe: int  # index of the probe: (ttl - 1) * probes + round
    address: str
    answer: Answer
    recv_ns: int


ReplySink = Callable[[Reply], None]


class Transport(Protocol):
    """An open probe socket: sends probe ``index`` with ``ttl``; answers go to the sink."""

    def send(self, index: int, ttl: int) -> None:
        """Send one probe now (OSError if the kernel refuses it)."""
        ...

    def close(self) -> None:
        """Stop reading and close the socket (idempotent)."""
        ...


class TransportOpener(Protocol):
    """Opens the transport of one run: :func:`open_transport`, or a fake in tests."""

    def __call__(
        self, mode: TraceMode, family: int, target: str, n_probes: int, sink: ReplySink
    ) -> Transport: ...


def open_transport(
    mode: TraceMode, family: int, target: str, n_probes: int, sink: ReplySink
) -> Transport:
    """The transport for ``mode``; ProbeSetupError when no socket of that kind is permitted."""
    if mode is TraceMode.UDP:
        return _ErrQueueTransport(_udp_socket(family), family, target, n_probes, sink, udp=True)
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM, _icmp_proto(family))
    except PermissionError as dgram_exc:
        if family != socket.AF_INET:
            raise ProbeSetupError(f"cannot open an ICMPv6 socket: {dgram_exc.strerror}") from None
        return _raw_transport(target, n_probes, sink)
    return _ErrQueueTransport(sock, family, target, n_probes, sink, udp=False)


def _icmp_proto(family: int) -> int:
    return socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP


def _udp_socket(family: int) -> socket.socket:
    return socket.socket(family, socket.SOCK_DGRAM, socket.IPPROTO_UDP)


def _raw_transport(target: str, n_probes: int, sink: ReplySink) -> Transport:
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except PermissionError as exc:
        raise ProbeSetupError(
            f"cannot open an ICMP socket ({exc.strerror}): run as root, grant CAP_NET_RAW, "
            'allow datagram ICMP (sysctl net.ipv4.ping_group_range="0 2147483647") '
            "or use --mode udp"
        ) from None
    return _RawIcmpTransport(sock, target, n_probes, sink)


def _set_ttl(sock: socket.socket, family: int, ttl: int) -> None:
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)


class _BaseTransport:
    """Socket, reader registration and close shared by both transports."""

    def __init__(self, sock: socket.socket, family: int, target: str, n_probes: int,
                 sink: ReplySink) -> None:  # fmt: skip
        self.sock, self.family, self.target = sock, family, target
        self.n_probes, self.sink = n_probes, sink
        self._closed = False
        try:
            sock.setblocking(False)
            self._setup()
            asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)
        except BaseException:
            sock.close()
            raise

    def _setup(self) -> None:
        """Socket options before the reader is registered."""

    def _on_readable(self) -> None:
        raise NotImplementedError

    def _deliver(self, index: int | None, address: str, answer: Answer | None) -> None:
        if index is not None and 0 <= index < self.n_probes and answer is not None:
            self.sink(Reply(index, address, answer, time.monotonic_ns()))

    def close(self) -> None:
        """Stop reading and close the socket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        except RuntimeError:
            pass  # the loop is gone already: nothing left to unregister
        self.sock.close()


class _ErrQueueTransport(_BaseTransport):
    """UDP or datagram ICMP socket; ICMP errors read from the ``IP_RECVERR`` error queue."""

    def __init__(self, sock: socket.socket, family: int, target: str, n_probes: int,
                 sink: ReplySink, *, udp: bool) -> None:  # fmt: skip
        self.udp = udp
        # High ports like traceroute's 33434, chosen at random so two runs rarely share one.
        self.base_port = random.randrange(33434, 65000 - n_probes) if udp else 0
        self.seq_base = random.getrandbits(16)
        self.payload = b"\0" * _PAYLOAD_BYTES
        super().__init__(sock, family, target, n_probes, sink)

    def _setup(self) -> None:
        if self.family == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        else:
            self.sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        self.sock.bind(("::", 0) if self.family == socket.AF_INET6 else ("0.0.0.0", 0))

    def send(self, index: int, ttl: int) -> None:
        """Send probe ``index`` with ``ttl``."""
        # A queued ICMP error also sets the socket's pending error, which the next send
        # would return instead of sending: read it (and drop it) first.
        self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        _set_ttl(self.sock, self.family, ttl)
        if self.udp:
            self.sock.sendto(self.payload, (self.target, self.base_port + index))
        else:
            seq = (self.seq_base + index) & 0xFFFF
            # The kernel sets the identifier (the socket's port) and, for ICMPv6, the checksum.
            self.sock.sendto(
                build_echo_request(self.family, 0, seq, self.payload), (self.target, 0)
            )

    def _on_readable(self) -> None:
        for _ in range(_DRAIN_LIMIT):
            if not self._read_error() and not self._read_normal():
                return

    def _read_error(self) -> bool:
        try:
            data, ancdata, _flags, address = self.sock.recvmsg(_RECV_BYTES, 512, MSG_ERRQUEUE)
        except OSError:  # BlockingIOError: the error queue is empty
            return False
        for level, kind, cdata in ancdata:
            if (level, kind) in (
                (socket.IPPROTO_IP, IP_RECVERR),
                (socket.IPPROTO_IPV6, IPV6_RECVERR),
            ):
                self._on_error(data, address, cdata)
        return True

    def _on_error(self, data: bytes, address: tuple[str, int] | None, cdata: bytes) -> None:
        err = parse_extended_error(self.family, cdata)
        if err is None or err.origin not in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6):
            return
        if err.offender is None or address is None:
            return
        answer = classify(self.family, err.icmp_type, err.icmp_code,
                          from_target=err.offender == self.target)  # fmt: skip
        self._deliver(self._index(data, address), err.offender, answer)

    def _index(self, data: bytes, address: tuple[str, int]) -> int | None:
        if self.udp:
            return int(address[1]) - self.base_port
        seq = echo_seq(data)
        return None if seq is None else (seq - self.seq_base) & 0xFFFF

    def _read_normal(self) -> bool:
        try:
            data, address = self.sock.recvfrom(_RECV_BYTES)
        except BlockingIOError:
            return False
        except OSError:
            return True  # the pending error of an ICMP message already read from the queue
        if not self.udp and str(address[0]) == self.target:
            answer = classify(self.family, data[0] if data else -1, 0, from_target=True)
            self._deliver(self._index(data, address), str(address[0]), answer)
        return True


class _RawIcmpTransport(_BaseTransport):
    """Raw IPv4 ICMP socket (root): echo replies and errors quoting our echo requests."""

    def __init__(self, sock: socket.socket, target: str, n_probes: int, sink: ReplySink) -> None:
        self.ident = random.getrandbits(16)
        self.seq_base = random.getrandbits(16)
        self.payload = payload_of(_PAYLOAD_BYTES)
        super().__init__(sock, socket.AF_INET, target, n_probes, sink)

    def _setup(self) -> None:
        # ICMP_FILTER: a set bit drops that type; keep echo reply, unreachable, time exceeded.
        keep = (1 << 0) | (1 << 3) | (1 << 11)
        self.sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("=I", 0xFFFFFFFF & ~keep))

    def send(self, index: int, ttl: int) -> None:
        """Send probe ``index`` with ``ttl``."""
        seq = (self.seq_base + index) & 0xFFFF
        _set_ttl(self.sock, socket.AF_INET, ttl)
        packet = build_echo_request(socket.AF_INET, self.ident, seq, self.payload)
        self.sock.sendto(packet, (self.target, 0))

    def _on_readable(self) -> None:
        for _ in range(_DRAIN_LIMIT):
            try:
                data, address = self.sock.recvfrom(_RECV_BYTES)
            except OSError:
                return
            parsed = parse_raw_icmp4(data, self.target)
            if parsed is None or parsed.ident != self.ident:
                continue
            if parsed.answer.kind is not ReplyKind.REACHED and parsed.destination != self.target:
                continue
            self._deliver((parsed.seq - self.seq_base) & 0xFFFF, str(address[0]), parsed.answer)
