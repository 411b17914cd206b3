"""A userspace ICMP echo responder with configurable delay and jitter (latency without netem).

Run inside a lab namespace whose kernel echo replies are off (``Lab.start_delay`` does both)::

    ip netns exec NS python -m tests.lab.delay --delay-ms 20 --jitter-ms 5 \\
        --distribution uniform --seed 1 --max-seconds 600

It answers every IPv4 echo request delivered to the namespace (so iptables drops of a
lossy host still apply, and silent addresses stay silent) after ``delay`` plus a seeded
random jitter: ``uniform`` draws from [delay - jitter, delay + jitter], ``normal`` from a
normal distribution of mean delay and standard deviation jitter; a negative draw is 0.
The reply leaves from the address the request was sent to (IP_HDRINCL), so a prober
matches it as for a kernel reply. It prints ``ready`` once listening, and exits after
``--max-seconds`` in any case (every loop is bounded).
"""

from __future__ import annotations

import argparse
import heapq
import random
import select
import socket
import struct
import sys
import time

READY = "ready"
_ECHO_REQUEST = 8
_ECHO_REPLY = 0
_MAX_WAIT_S = 0.5  # wake up at least this often to check the deadline


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def reply_for(packet: bytes) -> tuple[bytes, str] | None:
    """The full IPv4 echo reply (header included) to a received request, and its target."""
    ihl = (packet[0] & 0x0F) * 4
    if len(packet) < ihl + 8 or packet[ihl] != _ECHO_REQUEST or packet[ihl + 1] != 0:
        return None
    source, destination = packet[12:16], packet[16:20]
    icmp = bytearray(packet[ihl:])
    icmp[0] = _ECHO_REPLY
    icmp[2:4] = b"\0\0"
    icmp[2:4] = struct.pack("!H", checksum(bytes(icmp)))
    # Length and header checksum are filled in by the kernel (IP_HDRINCL); id 0 = kernel's.
    header = struct.pack("!BBHHHBBH4s4s", 0x45, packet[1], 0, 0, 0, 64, 1, 0, destination,
                         source)  # fmt: skip
    return header + bytes(icmp), socket.inet_ntoa(source)


class Jitter:
    """Seeded delays in seconds: delay +- jitter, uniform or normal, never negative."""

    def __init__(self, delay_ms: float, jitter_ms: float, distribution: str, seed: int) -> None:
        self.delay = delay_ms / 1000.0
        self.jitter = jitter_ms / 1000.0
        self.distribution = distribution
        self.random = random.Random(seed)

    def draw(self) -> float:
        """The delay of the next reply."""
        if self.jitter <= 0:
            return self.delay
        if self.distribution == "normal":
            return max(0.0, self.random.gauss(self.delay, self.jitter))
        return max(0.0, self.random.uniform(self.delay - self.jitter, self.delay + self.jitter))


def serve(jitter: Jitter, max_seconds: float) -> int:
    """Answer echo requests until ``max_seconds`` pass; returns the number answered."""
    listen = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    send = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    send.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    listen.setblocking(False)
    print(READY, flush=True)
    deadline = time.monotonic() + max_seconds
    due: list[tuple[float, int, bytes, str]] = []
    answered = 0
    sequence = 0
    while (now := time.monotonic()) < deadline:
        while due and due[0][0] <= now:
            _when, _n, reply, target = heapq.heappop(due)
            send.sendto(reply, (target, 0))
            answered += 1
        wait = min(_MAX_WAIT_S, deadline - now, (due[0][0] - now) if due else _MAX_WAIT_S)
        readable, _, _ = select.select([listen], [], [], max(wait, 0.0))
        for _ in range(1024 if readable else 0):  # bounded drain
            try:
                packet = listen.recv(65535)
            except BlockingIOError:
                break
            found = reply_for(packet)
            if found is not None:
                sequence += 1
                heapq.heappush(due, (time.monotonic() + jitter.draw(), sequence, *found))
    return answered


def main(argv: list[str] | None = None) -> int:
    """Parse the options and serve until the time limit."""
    parser = argparse.ArgumentParser(prog="python -m tests.lab.delay")
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--distribution", choices=("uniform", "normal"), default="uniform")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    jitter = Jitter(args.delay_ms, args.jitter_ms, args.distribution, args.seed)
    serve(jitter, args.max_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
