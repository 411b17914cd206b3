"""A chain of network namespaces acting as routers, for traceroute tests (needs root).

Layout of one chain, in the first free /24 S of 198.19.240.0/20 (one /30 per link)::

    root ns           r1               r2 (silent)        r3                dest
    S.1 <-veth-> S.2 | S.5 <-veth-> S.6 | S.9 <-veth-> S.10 | S.13 <-veth-> S.14

* the root namespace routes S/24 via r1 only; adding that route claims the slot (the
  kernel refuses a second identical route), so concurrent test runs take different /24s;
* r1..r3 forward (ip_forward=1) with static routes; ICMP rate limits are off so that
  repeated runs always get their answers;
* r2 forwards but never sends time-exceeded (iptables OUTPUT drop): a silent hop;
* dest answers S.14; ``unreachable`` (S.129) is routed through the chain to dest, which
  does not forward and has no such address, so it is dropped silently;
* deleting the namespaces removes every veth, address, route and iptables rule.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.lab.netns import LabError, run

BLOCK = ipaddress.IPv4Network("198.19.240.0/20")
NAME_PREFIX = "ngr-"
_READY_TIMEOUT = 5.0
_counter = itertools.count(1)
_NODES = ("r1", "r2", "r3", "dest")


@dataclass(frozen=True)
class Plan:
    """The addresses of one chain, in one /24 (slot) of the block; offsets as drawn above."""

    slot: ipaddress.IPv4Network

    def at(self, offset: int) -> str:
        return str(self.slot[offset])

    @property
    def path(self) -> list[str | None]:
        """What a traceroute to ``dest`` must find: r1, silent r2, r3, dest."""
        return [self.at(2), None, self.at(10), self.at(14)]

    def links(self) -> list[tuple[str | None, str, str, str]]:
        """(left node or None for the root namespace, its address, right node, its address)."""
        return [
            (None, f"{self.at(1)}/30", "r1", f"{self.at(2)}/30"),
            ("r1", f"{self.at(5)}/30", "r2", f"{self.at(6)}/30"),
            ("r2", f"{self.at(9)}/30", "r3", f"{self.at(10)}/30"),
            ("r3", f"{self.at(13)}/30", "dest", f"{self.at(14)}/30"),
        ]

    def routes(self) -> dict[str, list[str]]:
        """Static routes per node; the upper half of the slot is routed to dest (unreachable)."""
        slot, upper = str(self.slot), f"{self.at(128)}/25"
        return {
            "r1": [f"{slot} via {self.at(6)}"],
            "r2": [f"{self.at(0)}/30 via {self.at(5)}", f"{slot} via {self.at(10)}"],
            "r3": [f"{self.at(0)}/29 via {self.at(9)}", f"{upper} via {self.at(14)}"],
            "dest": [f"default via {self.at(13)}"],
        }


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
    """root -> r1 -> r2 (silent) -> r3 -> dest; a context manager that always tears down.

    After ``up``: ``dest`` (answers), ``unreachable`` (routed to dest, never answers) and
    ``expected_path`` (r1, None, r3, dest) are the addresses of the chain's /24.
    """

    def __init__(self) -> None:
        tag = f"{os.getpid()}-{next(_counter)}"
        self.namespaces = {node: f"{NAME_PREFIX}{tag}-{node}" for node in _NODES}
        self.host_if = f"ngr{tag.replace('-', 'x')}"[:15]
        self.plan: Plan | None = None

    @property
    def dest(self) -> str:
        return self._plan.at(14)

    @property
    def unreachable(self) -> str:
        return self._plan.at(129)

    @property
    def expected_path(self) -> list[str | None]:
        return self._plan.path

    @property
    def _plan(self) -> Plan:
        if self.plan is None:
            raise LabError("the router chain is not up")
        return self.plan

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
        """Namespaces, a free /24, links, addresses, routes and the silent hop's rule."""
        for node, name in self.namespaces.items():
            run("ip", "netns", "add", name)
            run("ip", "-n", name, "link", "set", "lo", "up")
            forward = "0" if node == "dest" else "1"
            run("ip", "netns", "exec", name, "sysctl", "-qw", f"net.ipv4.ip_forward={forward}",
                "net.ipv4.icmp_ratelimit=0")  # fmt: skip
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "eth0",
            "netns", self.namespaces["r1"])  # fmt: skip
        run("ip", "link", "set", self.host_if, "up")
        plan = self.plan = self._claim_slot()
        for link in plan.links():
            self._link(*link)
        for node, routes in plan.routes().items():
            for route in routes:
                run("ip", "-n", self.namespaces[node], "route", "add", *route.split())
        run("ip", "netns", "exec", self.namespaces["r2"], "iptables", "-w", "5", "-A", "OUTPUT",
            "-p", "icmp", "--icmp-type", "time-exceeded", "-j", "DROP")  # fmt: skip
        self._wait_link_up()

    def _claim_slot(self) -> Plan:
        """Take the first free /24 of the block by routing it to r1: EEXIST means taken."""
        for slot in BLOCK.subnets(new_prefix=24):
            plan = Plan(slot)
            try:
                run("ip", "route", "add", str(slot), "via", plan.at(2), "dev", self.host_if,
                    "onlink")  # fmt: skip
            except LabError as exc:
                if "exists" in str(exc):
                    continue
                raise
            return plan
        raise LabError(f"no free /24 left in {BLOCK} (stale router chains? ip netns list)")

    def _link(self, left: str | None, left_addr: str, right: str, right_addr: str) -> None:
        right_ns = self.namespaces[right]
        if left is None:  # the root veth exists already (it carries the claim route)
            run("ip", "addr", "add", left_addr, "dev", self.host_if)
        else:
            left_ns = self.namespaces[left]
            run("ip", "-n", left_ns, "link", "add", "eth1", "type", "veth", "peer", "name",
                "eth0", "netns", right_ns)  # fmt: skip
            run("ip", "-n", left_ns, "addr", "add", left_addr, "dev", "eth1")
            run("ip", "-n", left_ns, "link", "set", "eth1", "up")
        run("ip", "-n", right_ns, "addr", "add", right_addr, "dev", "eth0")
        run("ip", "-n", right_ns, "link", "set", "eth0", "up")

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
