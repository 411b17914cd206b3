"""A chain of network namespaces acting as routers, for traceroute tests (needs root).

Layout (every address inside 198.19.240.0/20, one /30 per link)::

    root ns            r1                  r2 (silent)          r3                  dest
    .240.1 <-veth-> .240.2 | .240.5 <-> .240.6 | .240.9 <-> .240.10 | .240.13 <-> .240.14

* the root namespace routes 198.19.240.0/20 via r1 only (adding that route claims the
  block: a second chain on the same machine fails with a clear LabError);
* r1..r3 forward (ip_forward=1) with static routes; ICMP rate limits are off so that
  repeated runs always get their answers;
* r2 forwards but never sends time-exceeded (iptables OUTPUT drop): a silent hop;
* dest answers 198.19.240.14; ``unreachable`` (198.19.241.1) is routed through the chain
  to dest, which does not forward and has no such address, so it is dropped silently.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from pathlib import Path
from types import TracebackType

from tests.lab.netns import LabError, run

BLOCK = "198.19.240.0/20"
R1, R2, R3, DEST = "198.19.240.2", "198.19.240.6", "198.19.240.10", "198.19.240.14"
UNREACHABLE = "198.19.241.1"
EXPECTED_PATH = [R1, None, R3, DEST]
NAME_PREFIX = "ngr-"
_READY_TIMEOUT = 5.0
_counter = itertools.count(1)

# (namespace, its sysctls, its routes); links are listed in ``_LINKS``.
_NODES = ("r1", "r2", "r3", "dest")
_ROUTES = {
    "r1": [f"{BLOCK} via 198.19.240.6"],
    "r2": ["198.19.240.0/30 via 198.19.240.5", f"{BLOCK} via 198.19.240.10"],
    "r3": ["198.19.240.0/29 via 198.19.240.9", "198.19.241.0/24 via 198.19.240.14"],
    "dest": ["default via 198.19.240.13"],
}
# (left node or None for the root namespace, left address, right node, right address)
_LINKS = (
    (None, "198.19.240.1/30", "r1", "198.19.240.2/30"),
    ("r1", "198.19.240.5/30", "r2", "198.19.240.6/30"),
    ("r2", "198.19.240.9/30", "r3", "198.19.240.10/30"),
    ("r3", "198.19.240.13/30", "dest", "198.19.240.14/30"),
)


def missing_requirement() -> str | None:
    """A one-line reason why the router chain cannot be built here, or None."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if shutil.which("ip") is None:
        return "needs the ip command (Debian package iproute2)"
    if shutil.which("iptables") is None:
        return "needs iptables (Debian package iptables)"
    return None


class RouterChain:
    """root -> r1 -> r2 (silent) -> r3 -> dest; a context manager that always tears down."""

    def __init__(self) -> None:
        tag = f"{os.getpid()}-{next(_counter)}"
        self.namespaces = {node: f"{NAME_PREFIX}{tag}-{node}" for node in _NODES}
        self.host_if = f"ngr{tag.replace('-', 'x')}"[:15]
        self.dest, self.unreachable, self.expected_path = DEST, UNREACHABLE, EXPECTED_PATH

    def __enter__(self) -> RouterChain:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def up(self) -> None:
        """Create the namespaces, links, addresses, routes and the silent hop's rule."""
        for node, name in self.namespaces.items():
            run("ip", "netns", "add", name)
            run("ip", "-n", name, "link", "set", "lo", "up")
            forward = "0" if node == "dest" else "1"
            run("ip", "netns", "exec", name, "sysctl", "-qw", f"net.ipv4.ip_forward={forward}",
                "net.ipv4.icmp_ratelimit=0")  # fmt: skip
        for index, link in enumerate(_LINKS):
            self._link(index, *link)
        for node, routes in _ROUTES.items():
            for route in routes:
                run("ip", "-n", self.namespaces[node], "route", "add", *route.split())
        run("ip", "netns", "exec", self.namespaces["r2"], "iptables", "-w", "5", "-A", "OUTPUT",
            "-p", "icmp", "--icmp-type", "time-exceeded", "-j", "DROP")  # fmt: skip
        self._claim_block()
        self._wait_link_up()

    def _link(
        self, index: int, left: str | None, left_addr: str, right: str, right_addr: str
    ) -> None:
        right_ns = self.namespaces[right]
        left_if = self.host_if if left is None else "eth1"
        create = ["ip"] if left is None else ["ip", "-n", self.namespaces[left]]
        run(*create, "link", "add", left_if, "type", "veth", "peer", "name", "eth0",
            "netns", right_ns)  # fmt: skip
        run(*create, "addr", "add", left_addr, "dev", left_if)
        run(*create, "link", "set", left_if, "up")
        run("ip", "-n", right_ns, "addr", "add", right_addr, "dev", "eth0")
        run("ip", "-n", right_ns, "link", "set", "eth0", "up")
        del index

    def _claim_block(self) -> None:
        try:
            run("ip", "route", "add", BLOCK, "via", R1, "dev", self.host_if)
        except LabError as exc:
            if "exists" in str(exc):
                raise LabError(
                    f"{BLOCK} is routed already (another router chain running?)"
                ) from exc
            raise

    def _wait_link_up(self) -> None:
        """Poll (bounded) until the root veth reports carrier, instead of sleeping blindly."""
        operstate = Path(f"/sys/class/net/{self.host_if}/operstate")
        deadline = time.monotonic() + _READY_TIMEOUT
        while operstate.read_text().strip() != "up":
            if time.monotonic() > deadline:
                raise LabError(f"{self.host_if} did not come up within {_READY_TIMEOUT} s")
            time.sleep(0.01)

    def down(self) -> None:
        """Delete every namespace (their veths, routes and iptables rules go with them)."""
        for name in self.namespaces.values():
            try:
                run("ip", "netns", "del", name)
            except LabError:
                pass  # never created, or gone already
        try:
            run("ip", "link", "del", self.host_if)
        except LabError:
            pass  # went with r1's namespace
        left = [n for n in self.namespaces.values() if n in run("ip", "netns", "list")]
        if left or Path(f"/sys/class/net/{self.host_if}").exists():
            raise LabError(f"router chain not removed completely: {left or self.host_if}")
