"""The asyncio ICMP engine: one socket per address family serving every target in flight.

How it scales to thousands of targets without a task or socket per target:

* Receiving: each socket is non-blocking and watched with ``loop.add_reader``; the callback
  drains it and matches replies to the table of packets in flight by
  (family, address, sequence), after checking the identifier is ours.
* Sending: ``send_batch`` is one coroutine walking a heap of (due time, target) entries.
  It keeps ``pace`` between any two sends and ``interval`` between two sends to the same
  target, and yields to the loop regularly so replies are read while a burst goes out.
* Timing: as close to the socket as the OS allows. The send time is read from
  CLOCK_REALTIME right before ``sendto``; the receive time is the kernel's SO_TIMESTAMPNS
  stamp (same clock) on the reply, taken when the reply reached the network stack, so a
  burst of replies waiting in the socket buffer while we are still sending does not
  inflate their RTTs. Monotonic nanoseconds at send and at read are kept too: they are
  the fallback when the kernel gives no stamp, and the guard against a wall-clock step
  during the round: a kernel RTT that is negative or longer than the monotonic one (plus
  ``STAMP_SLACK_NS``) is discarded for that packet. A reply later than ``timeout`` is lost
  (as with ping -W).
* Memory: a packet leaves the in-flight table when its reply arrives or when its timeout
  passes (send time + timeout; a later reply is ignored, it would count as lost anyway).
  So the table holds what can be in flight within one timeout, not targets x count.
"""

from __future__ import annotations

import asyncio
import errno
import heapq
import socket
import time
from collections import deque
from dataclasses import dataclass, field

from netgauge.probes.icmp_packet import EchoRequests, parse_echo_reply, payload_of
from netgauge.probes.icmp_socket import (
    ANCILLARY_BYTES,
    IcmpSocket,
    SocketMode,
    SocketOpener,
    is_family_unsupported,
    kernel_stamp_ns,
    open_icmp_socket,
)

_YIELD_EVERY = 32  # sends between two trips through the loop when pacing is 0
_RECV_BYTES = 128  # IPv4 header (at most 60 bytes) + ICMP header: all a reply is read for
_READS_PER_WAKEUP = 4096  # bound each reader callback so sending is never starved
_CATCH_UP_NS = 2_000_000  # how far the send plan may lag the clock (see next_on_timeline)
_ENOBUFS_RETRIES = 200  # x 1 ms: the qdisc is full, wait a little for it to drain
_BLOCKED = -1  # _send_now: the socket's send buffer is full (EAGAIN)
_NO_BUFFERS = -2  # _send_now: the device queue is full (ENOBUFS)

_PendingKey = tuple[int, str, int]  # family, address (no scope), sequence
STAMP_SLACK_NS = 1_000_000
"""How much longer than the monotonic RTT a kernel-stamped RTT may be before it is taken
for a wall-clock step (the monotonic RTT is an upper bound: the stamp precedes the read)."""


@dataclass(slots=True)
class TargetRun:
    """One target's packets within a batch: RTTs, sends, and what went wrong if anything.

    ``sent`` counts every packet the engine tried to send, including those the kernel
    refused (``failed`` of them, like ping's "errors"): a refused packet is a lost packet.
    A send error does not stop the target; its remaining packets go out on schedule.
    ``error`` is set only when nothing could be tried at all (no socket for the family).
    """

    address: str
    family: int
    count: int
    rtt_ns: list[int | None] = field(default_factory=list)
    sent_ns: list[int] = field(default_factory=list)  # monotonic send time of each packet
    sent: int = 0
    failed: int = 0
    send_error: str | None = None  # the first send error's text
    error: str | None = None
    kernel_stamped: int = 0  # replies whose RTT comes from the kernel receive stamp

    def timestamps(self) -> str | None:
        """Where the round's RTTs came from: kernel, userspace, mixed; None without replies."""
        received = len(self.rtt_ns) - self.rtt_ns.count(None)
        if received == 0:
            return None
        if self.kernel_stamped == received:
            return "kernel"
        return "userspace" if self.kernel_stamped == 0 else "mixed"

    def __post_init__(self) -> None:
        self.rtt_ns = [None] * self.count

    def record_send_failure(self, text: str, sent_ns: int) -> None:
        """Count one packet the kernel refused (sent and lost)."""
        self.sent_ns.append(sent_ns)
        self.sent += 1
        self.failed += 1
        if self.send_error is None:
            self.send_error = text

    def problem(self) -> str | None:
        """One line on what went wrong (``2 of 5 sends failed: No route to host``), or None."""
        if self.error is not None:
            return self.error
        if self.failed:
            return f"{self.failed} of {self.sent} sends failed: {self.send_error}"
        return None


@dataclass(frozen=True, slots=True)
class Schedule:
    """How one batch paces its packets (all durations in nanoseconds)."""

    count: int
    interval_ns: int
    pace_ns: int
    timeout_ns: int
    size: int


class _Batch:
    """Book-keeping of one ``send_batch`` call: what is still awaited, and when it is done."""

    def __init__(
        self, runs: list[TargetRun], timeout_ns: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.runs = runs
        self.timeout_ns = timeout_ns
        self.outstanding = 0
        self.all_sent = False
        self.done: asyncio.Future[None] = loop.create_future()
        # (expiry, key, entry) in send order, which is expiry order: one timeout per batch.
        # Answered entries stay here until their expiry; they are skipped then.
        self.expiries: deque[tuple[int, _PendingKey, _InFlight]] = deque()
        self.timer: asyncio.TimerHandle | None = None

    def settle_one(self) -> None:
        self.outstanding -= 1
        self.check_done()

    def check_done(self) -> None:
        if self.all_sent and self.outstanding <= 0 and not self.done.done():
            self.done.set_result(None)


_InFlight = tuple[_Batch, TargetRun, int, int, int]
"""A packet in flight: its batch, its run, its index in the run, its send time (monotonic
ns) and its send time on CLOCK_REALTIME (the clock of the kernel's receive stamps). A plain
tuple: one is made per packet, 10,000 per round, and a tuple costs a tenth of an object."""


def choose_rtt(mono_rtt_ns: int, kernel_rtt_ns: int | None) -> tuple[int, bool]:
    """The RTT to keep and whether it is the kernel's: the monotonic one unless the kernel
    one is plausible (not negative, not longer than the monotonic one plus the slack)."""
    if kernel_rtt_ns is None or not 0 <= kernel_rtt_ns <= mono_rtt_ns + STAMP_SLACK_NS:
        return mono_rtt_ns, False
    return kernel_rtt_ns, True


def next_on_timeline(planned_ns: int, actual_ns: int, step_ns: int) -> int:
    """When the next send is due: one step after the *planned* time, not the actual one.

    asyncio timers wake up to a millisecond late (epoll has millisecond resolution), so
    stepping from the actual time would stretch every gap: 1,000 sends paced 1 ms apart
    would take 1.3 s, and a 0.1 ms pace would become 1 ms. Stepping from the plan catches
    up on the following sends instead; nothing is ever sent before its planned time. The
    plan may lag the clock by at most 2 ms, so a stall (GC, a busy loop) restarts the plan
    from now rather than turning into a burst, and two packets to one target are never
    closer than ``interval - 2 ms``.
    """
    return max(planned_ns, actual_ns - _CATCH_UP_NS) + step_ns


def strip_scope(address: str) -> str:
    """``fe80::1%eth0`` -> ``fe80::1``: replies are reported without the zone."""
    return address.split("%", 1)[0]


class IcmpEngine:
    """Sockets (one per family, opened on first use) and the table of packets in flight."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        mode: SocketMode = SocketMode.AUTO,
        *,
        ttl: int | None = None,
        tos: int | None = None,
        source: str | None = None,
        opener: SocketOpener = open_icmp_socket,
    ) -> None:
        self._loop = loop
        self._opener = opener
        self._mode = mode
        self._ttl = ttl
        self._tos = tos
        self._source = source
        self._source_family = source_family(source)
        self._sockets: dict[int, IcmpSocket] = {}
        self._unsupported: dict[int, str] = {}
        self._pending: dict[_PendingKey, _InFlight] = {}
        self._next_seq: dict[int, int] = {}
        # Sends waiting for room in a socket's buffer, by descriptor: one writer callback
        # per socket wakes them all (a second add_writer would replace the first callback).
        self._write_waiters: dict[int, list[asyncio.Future[None]]] = {}

    def socket_mode(self, family: int) -> SocketMode | None:
        """The mode of the open socket for ``family`` (None before first use)."""
        icmp = self._sockets.get(family)
        return icmp.mode if icmp else None

    @property
    def in_flight(self) -> int:
        """Packets sent and still awaited (answered or timed-out ones are not counted)."""
        return len(self._pending)

    def close(self) -> None:
        """Stop watching and close every socket; packets still in flight are forgotten."""
        for icmp in self._sockets.values():
            fd = icmp.sock.fileno()
            self._loop.remove_reader(fd)
            if self._write_waiters.pop(fd, None) is not None:
                self._loop.remove_writer(fd)
            icmp.sock.close()
        self._sockets.clear()
        self._pending.clear()

    def ensure_socket(self, family: int) -> IcmpSocket | None:
        """The socket for ``family``; None when the family is unavailable on this host.

        Raises ProbeSetupError when ICMP sockets are not permitted at all.
        """
        if family in self._sockets:
            return self._sockets[family]
        if family in self._unsupported:
            return None
        if self._source_family not in (None, family):
            self._unsupported[family] = f"source address {self._source} is of the other family"
            return None
        try:
            icmp = self._opener(
                family, self._mode, ttl=self._ttl, tos=self._tos, source=self._source
            )
        except OSError as exc:
            if not is_family_unsupported(exc):
                raise
            self._unsupported[family] = f"address family unavailable: {exc.strerror}"
            return None
        self._sockets[family] = icmp
        self._loop.add_reader(icmp.sock.fileno(), self._on_readable, icmp)
        return icmp

    async def send_batch(self, runs: list[TargetRun], schedule: Schedule) -> None:
        """Send ``schedule.count`` echoes to every run and wait for replies or timeouts."""
        batch = _Batch(runs, schedule.timeout_ns, self._loop)
        self._mark_unsupported(runs)
        try:
            last_send_ns = await self._send_all(batch, schedule)
            batch.all_sent = True
            batch.check_done()
            await self._wait_replies(batch, last_send_ns + schedule.timeout_ns)
        finally:
            self._forget(batch)

    def _mark_unsupported(self, runs: list[TargetRun]) -> None:
        for run in runs:
            if self.ensure_socket(run.family) is None:
                run.error = self._unsupported[run.family]

    async def _send_all(self, batch: _Batch, schedule: Schedule) -> int:
        """The one scheduler loop: a heap of (due, target index, packet index).

        This loop runs once per packet, 10,000 times in a one-shot round timed against
        fping, so it reads the clock once per packet and keeps calls out of the common
        path: a send is a plain call, and only a full socket buffer (rare) awaits, in
        ``_send_later``. ``next_on_timeline`` is inlined (the same arithmetic).
        """
        payload = payload_of(schedule.size)
        requests = {
            family: EchoRequests(family, icmp.ident, payload).build
            for family, icmp in self._sockets.items()
        }
        runs, expiries, monotonic_ns = batch.runs, batch.expiries, time.monotonic_ns
        count, pace_ns, interval_ns = schedule.count, schedule.pace_ns, schedule.interval_ns
        start = monotonic_ns()
        heap = [(start, i, 0) for i, run in enumerate(runs) if run.error is None]
        heapq.heapify(heap)
        next_allowed = last_send = start
        since_yield = 0
        while heap:
            due, i, k = heapq.heappop(heap)
            planned = due if due > next_allowed else next_allowed
            now = monotonic_ns()
            if planned > now:
                await asyncio.sleep((planned - now) / 1e9)
                since_yield = 0
                now = monotonic_ns()
            elif since_yield >= _YIELD_EVERY:
                await asyncio.sleep(0)  # let the reader drain replies during a burst
                since_yield = 0
            if expiries and expiries[0][0] <= now:
                self._expire(batch)  # frees sequence numbers, bounds the in-flight table
            run = runs[i]
            family, address = run.family, run.address
            key_address = strip_scope(address) if "%" in address else address
            seq = self._allocate_seq(family, key_address)
            key = (family, key_address, seq)
            packet = requests[family](seq)
            last_send = self._send_now(batch, run, k, key, packet)
            if last_send < 0:
                last_send = await self._send_later(batch, run, k, key, packet, last_send)
            since_yield += 1
            floor = last_send - _CATCH_UP_NS
            base = planned if planned > floor else floor
            next_allowed = base + pace_ns
            if k + 1 < count:  # a failed send does not stop the target
                heapq.heappush(heap, (base + interval_ns, i, k + 1))
        return last_send

    def _send_now(
        self, batch: _Batch, run: TargetRun, k: int, key: _PendingKey, packet: bytes
    ) -> int:
        """Send packet ``k`` of ``run`` and put it in flight; its send time, or ``_BLOCKED`` /
        ``_NO_BUFFERS`` when the socket buffer / the device queue is full. A packet the
        kernel refuses is counted lost."""
        sent_ns = time.monotonic_ns()
        sent_wall_ns = time.time_ns()  # last thing before the syscall: the kernel's clock
        try:
            self._sockets[run.family].sock.sendto(packet, (run.address, 0))
        except BlockingIOError:
            return _BLOCKED
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return _NO_BUFFERS
            run.record_send_failure(exc.strerror or str(exc), sent_ns)
            return sent_ns
        run.sent_ns.append(sent_ns)
        run.sent += 1
        batch.outstanding += 1
        entry = (batch, run, k, sent_ns, sent_wall_ns)
        self._pending[key] = entry
        batch.expiries.append((sent_ns + batch.timeout_ns, key, entry))
        if batch.timer is None:
            self._arm(batch)
        return sent_ns

    async def _send_later(  # flat arguments, as _send_now's
        self, batch: _Batch, run: TargetRun, k: int, key: _PendingKey, packet: bytes, why: int
    ) -> int:
        """Send once there is room: ``_BLOCKED`` waits for the socket to be writable,
        ``_NO_BUFFERS`` (the qdisc is full) retries every 1 ms; both a bounded number of times.
        """
        icmp = self._sockets[run.family]
        for _attempt in range(_ENOBUFS_RETRIES):
            if why == _BLOCKED:
                await self._writable(icmp)
            else:
                await asyncio.sleep(0.001)
            why = self._send_now(batch, run, k, key, packet)
            if why >= 0:
                return why
        sent_ns = time.monotonic_ns()
        run.record_send_failure("socket buffer stayed full", sent_ns)
        return sent_ns

    def _expire(self, batch: _Batch) -> None:
        """Drop the batch's packets whose timeout has passed: they are lost."""
        now = time.monotonic_ns()
        expiries = batch.expiries
        while expiries and expiries[0][0] <= now:
            _expiry, key, entry = expiries.popleft()
            if self._pending.get(key) is entry:  # not answered (nor its key reused)
                del self._pending[key]
                batch.settle_one()

    def _arm(self, batch: _Batch) -> None:
        """Make sure a timer will expire the batch's oldest packet when its timeout passes."""
        if batch.timer is None and batch.expiries:
            delay_ns = batch.expiries[0][0] - time.monotonic_ns()
            batch.timer = self._loop.call_later(max(delay_ns, 0) / 1e9, self._on_timer, batch)

    def _on_timer(self, batch: _Batch) -> None:
        batch.timer = None
        self._expire(batch)
        self._arm(batch)

    async def _writable(self, icmp: IcmpSocket) -> None:
        """Wait until the socket's send buffer has room again (any number of waiters)."""
        fd = icmp.sock.fileno()
        ready: asyncio.Future[None] = self._loop.create_future()
        waiters = self._write_waiters.setdefault(fd, [])
        if not waiters:
            self._loop.add_writer(fd, self._on_writable, fd)
        waiters.append(ready)
        try:
            await ready
        finally:
            # Cancelled before the wake-up: leave the others waiting, unwatch if none is left.
            if ready in waiters:
                waiters.remove(ready)
                if not waiters and self._write_waiters.get(fd) is waiters:
                    del self._write_waiters[fd]
                    self._loop.remove_writer(fd)

    def _on_writable(self, fd: int) -> None:
        """Writer callback: wake every send waiting on ``fd`` and stop watching it."""
        self._loop.remove_writer(fd)
        for ready in self._write_waiters.pop(fd, []):
            if not ready.done():
                ready.set_result(None)

    def _allocate_seq(self, family: int, address: str) -> int:
        """Next 16-bit sequence number not already in flight to ``address``."""
        seq = self._next_seq.get(family, 0)
        for _ in range(0x10000):  # bounded: at most every sequence number is busy
            seq = (seq + 1) & 0xFFFF
            if (family, address, seq) not in self._pending:
                break
        self._next_seq[family] = seq
        return seq

    async def _wait_replies(self, batch: _Batch, deadline_ns: int) -> None:
        remaining = (deadline_ns - time.monotonic_ns()) / 1e9
        if batch.done.done() or remaining <= 0:
            return
        try:
            await asyncio.wait_for(asyncio.shield(batch.done), remaining)
        except TimeoutError:
            pass  # the packets still awaited are lost

    def _forget(self, batch: _Batch) -> None:
        """Drop this batch's unanswered packets from the in-flight table."""
        if batch.timer is not None:
            batch.timer.cancel()
            batch.timer = None
        for _expiry, key, entry in batch.expiries:
            if self._pending.get(key) is entry:
                del self._pending[key]
        batch.expiries.clear()
        if not batch.done.done():
            batch.done.cancel()

    def _on_readable(self, icmp: IcmpSocket) -> None:
        """Reader callback: drain the socket, match each echo reply to its packet.

        Only the headers are read (``_RECV_BYTES``): the kernel drops the rest of a long
        reply instead of copying 64 KiB buffers around. Runs once per reply, so the
        matching is inlined here with the loop's invariants in locals.
        """
        recvmsg, family, ident = icmp.sock.recvmsg, icmp.family, icmp.ident
        ip_header, pending, monotonic_ns = icmp.ip_header, self._pending, time.monotonic_ns
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, ancdata, _flags, source = recvmsg(_RECV_BYTES, ANCILLARY_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # A datagram ICMP socket reports a received ICMP error (e.g. unreachable)
                # as a socket error; it names no packet, so the packet simply times out.
                continue
            now_ns = monotonic_ns()
            reply = parse_echo_reply(family, data, ip_header=ip_header)
            if reply is None or reply.ident != ident:
                continue  # someone else's traffic (raw sockets see every echo reply)
            address = source[0]
            if "%" in address:
                address = strip_scope(address)
            entry = pending.pop((family, address, reply.seq), None)
            if entry is None:
                continue  # duplicate, expired (timed out), or its batch already finished
            # A reply after the timeout but before the expiry ran is stored; the
            # statistics count RTT > timeout as lost.
            stamp = kernel_stamp_ns(ancdata) if ancdata else None
            batch, run, index, sent_ns, sent_wall_ns = entry
            kernel_rtt = None if stamp is None else stamp - sent_wall_ns
            rtt, from_kernel = choose_rtt(now_ns - sent_ns, kernel_rtt)
            run.rtt_ns[index] = rtt
            run.kernel_stamped += from_kernel
            batch.settle_one()


def source_family(source: str | None) -> int | None:
    """AF_INET or AF_INET6 for a source address, None for no source."""
    if source is None:
        return None
    return socket.AF_INET6 if ":" in source else socket.AF_INET
