"""Build and tear down lab hosts in Linux network namespaces (needs root and iproute2).

Layout of one lab (names unique per process and lab)::

    root namespace                               namespace ngl-<pid>-<n>
    ngl<pid>x<n>  198.18.B.1/32  <-- veth -->   eth0  198.18.B.2/32 + one /32 per host
                  fd5e:6e67::B:1/128                  fd5e:6e67::B:2/128 + one /128 per host
    route 198.18.B.0/20 via 198.18.B.2 onlink         default dev eth0
    route fd5e:6e67::B:0/112 via ...::B:2 onlink      forwarding off

Only 198.18.0.0/15 (RFC 2544) and fd5e:6e67::/64 are ever used. Each lab claims one /20
(and the matching /112) by adding its root route: the kernel refuses a second identical
route, so two labs (two test runs) can never take the same block. Routing the block to
the namespace *via one gateway* keeps the root neighbour table at one entry however many
hosts there are (the default gc_thresh3 is only 1024).

Host kinds:
* answering: an address assigned in the namespace (added in bulk with ``ip -batch``);
* silent: an address routed into the namespace but not assigned there (forwarding is off,
  so the namespace drops it without a word);
* lossy: an answering host whose echo requests iptables drops with a probability;
* unreachable: an address with an ``unreachable`` route in the root namespace, so sending
  to it fails at once with EHOSTUNREACH and nothing leaves the machine.
* delayed: after ``start_delay`` the namespace's kernel no longer answers pings
  (``net.ipv4.icmp_echo_ignore_all=1`` there) and a userspace responder (``tests.lab.delay``)
  answers every IPv4 host of the lab after a seeded delay +- jitter. It is per lab, so use
  a lab of its own for delayed hosts.

Block size: ``Lab(block_prefix=16)`` claims a /16 (65,520 hosts) instead of a /20 (4,080)
for benchmarks over more addresses; the /15 holds two /16s or thirty-two /20s.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

LAB_V4 = ipaddress.IPv4Network("198.18.0.0/15")
LAB_V6 = ipaddress.IPv6Network("fd5e:6e67::/64")
_BLOCK_V4 = 20  # 32 blocks of 4096 addresses in the /15
_BLOCK_V6 = 112
_FIRST_HOST = 16  # offsets below are the veth ends and spare
_STOP_TIMEOUT = 5.0
_REPO = Path(__file__).resolve().parents[2]
_COMMAND_TIMEOUT = 30.0
_READY_TIMEOUT = 5.0
NAME_PREFIX = "ngl-"
_counter = itertools.count(1)


class LabError(RuntimeError):
    """The lab could not be built (a command failed or a resource is exhausted)."""


def missing_requirement(*, iptables: bool = False) -> str | None:
    """A one-line reason why a lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if shutil.which("ip") is None:
        return "needs the ip command (Debian package iproute2)"
    if iptables and (shutil.which("iptables") is None or shutil.which("ip6tables") is None):
        return "needs iptables (Debian package iptables)"
    return None


def run(*args: str, stdin: str | None = None) -> str:
    """Run a command (bounded by a timeout); LabError with its stderr if it fails."""
    try:
        done = subprocess.run(
            args, input=stdin, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{' '.join(args[:6])}: {exc}") from exc
    if done.returncode != 0:
        raise LabError(f"{' '.join(args[:8])}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def host_interface_for(namespace: str) -> str:
    """The root-side veth name of a lab namespace (at most 15 characters)."""
    match = re.fullmatch(rf"{NAME_PREFIX}(\d+)-(\d+)", namespace)
    if not match:
        raise LabError(f"{namespace!r} is not a lab namespace name")
    return f"ngl{match.group(1)}x{match.group(2)}"


def lab_namespaces() -> list[str]:
    """Names of every lab namespace that exists now (from any process)."""
    out = run("ip", "netns", "list")
    names = (line.split()[0] for line in out.splitlines() if line.strip())
    return [name for name in names if name.startswith(NAME_PREFIX)]


class Lab:
    """A namespace of lab hosts; a context manager that always removes what it made."""

    def __init__(self, *, ipv6: bool = True, block_prefix: int = _BLOCK_V4) -> None:
        if not LAB_V4.prefixlen <= block_prefix <= 24:
            raise LabError(f"block prefix /{block_prefix} is not within /{LAB_V4.prefixlen}../24")
        self.name = f"{NAME_PREFIX}{os.getpid()}-{next(_counter)}"
        self.host_if = host_interface_for(self.name)
        self.ipv6 = ipv6
        self.block_prefix = block_prefix
        self.responder: subprocess.Popen[str] | None = None
        self.block4: ipaddress.IPv4Network | None = None
        self.block6: ipaddress.IPv6Network | None = None
        self._next_offset = {4: _FIRST_HOST, 6: _FIRST_HOST}
        self._unreachable: list[str] = []  # root-namespace routes not tied to the veth
        self._spawned: list[subprocess.Popen[str]] = []  # services started by spawn()

    def __enter__(self) -> Lab:
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

    # -- building -------------------------------------------------------------------------

    def up(self) -> None:
        """Create the namespace, the veth pair, the routes, and wait until the link is up."""
        run("ip", "netns", "add", self.name)
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "eth0",
            "netns", self.name)  # fmt: skip
        self._ns_sysctls()
        if self.ipv6:  # no duplicate address detection: addresses usable at once
            run("sysctl", "-qw", f"net.ipv6.conf.{self.host_if}.accept_dad=0")
        run("ip", "link", "set", self.host_if, "up")
        run("ip", "-n", self.name, "link", "set", "lo", "up")
        run("ip", "-n", self.name, "link", "set", "eth0", "up")
        self._claim_block()
        self._address_veth_ends()
        self._wait_link_up()

    def _ns_sysctls(self) -> None:
        settings = ["net.ipv4.ip_forward=0"]  # so unassigned ("silent") addresses are dropped
        if self.ipv6:
            settings += [
                "net.ipv6.conf.all.forwarding=0",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.eth0.accept_dad=0",
            ]
        run("ip", "netns", "exec", self.name, "sysctl", "-qw", *settings)

    def _claim_block(self) -> None:
        """Take the first free block (and /112) by adding its route: EEXIST means taken.

        A block overlapping another lab's (a /16 over a /20) is refused by checking the
        routes already present first; the route add is still what settles a race.
        """
        taken = _lab_routes4()
        blocks4 = list(LAB_V4.subnets(new_prefix=self.block_prefix))
        for index, block4 in enumerate(blocks4):
            gateway4 = str(block4[2])
            if any(block4.overlaps(other) for other in taken):
                continue
            try:
                run("ip", "route", "add", str(block4), "via", gateway4, "dev", self.host_if,
                    "onlink")  # fmt: skip
            except LabError as exc:
                if "exists" in str(exc):
                    continue
                raise
            self.block4 = block4
            if self.ipv6:
                self.block6 = self._claim_block6(index)
            return
        raise LabError(
            f"no free /{self.block_prefix} left in {LAB_V4} (stale labs? python -m tests.lab down)"
        )

    def _claim_block6(self, index: int) -> ipaddress.IPv6Network:
        block6 = ipaddress.IPv6Network((int(LAB_V6.network_address) + (index << 16), _BLOCK_V6))
        run("ip", "-6", "route", "add", str(block6), "via", str(block6[2]), "dev",
            self.host_if, "onlink")  # fmt: skip
        return block6

    def _address_veth_ends(self) -> None:
        assert self.block4 is not None
        run("ip", "addr", "add", f"{self.block4[1]}/32", "dev", self.host_if)
        run("ip", "-n", self.name, "addr", "add", f"{self.block4[2]}/32", "dev", "eth0")
        run("ip", "-n", self.name, "route", "add", "default", "dev", "eth0")
        # Replies to the root side leave with the lab source address, never a host address.
        run("ip", "route", "replace", str(self.block4), "via", str(self.block4[2]), "dev",
            self.host_if, "onlink", "src", str(self.block4[1]))  # fmt: skip
        if self.block6 is None:
            return
        run("ip", "-6", "addr", "add", f"{self.block6[1]}/128", "dev", self.host_if, "nodad")
        run("ip", "-n", self.name, "-6", "addr", "add", f"{self.block6[2]}/128", "dev", "eth0",
            "nodad")  # fmt: skip
        run("ip", "-n", self.name, "-6", "route", "add", "default", "dev", "eth0")

    def _wait_link_up(self) -> None:
        """Poll (bounded) until both veth ends report carrier, instead of sleeping blindly."""
        operstate = Path(f"/sys/class/net/{self.host_if}/operstate")
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if operstate.read_text().strip() == "up":
                return
            time.sleep(0.01)
        raise LabError(f"{self.host_if} did not come up within {_READY_TIMEOUT} s")

    # -- hosts ----------------------------------------------------------------------------

    def _allocate(self, family: int, n: int) -> list[str]:
        block: ipaddress.IPv4Network | ipaddress.IPv6Network | None
        block = self.block4 if family == 4 else self.block6
        if block is None:
            raise LabError(f"IPv{family} is not enabled in lab {self.name}")
        start = self._next_offset[family]
        if start + n >= block.num_addresses:
            raise LabError(f"lab {self.name}: {n} more IPv{family} hosts do not fit in {block}")
        self._next_offset[family] = start + n
        return [str(block[offset]) for offset in range(start, start + n)]

    def set_link(self, *, up: bool) -> None:
        """Bring the namespace's side of the veth down (every lab host goes silent at once,
        as when a device's interface or cable fails) or up again."""
        run("ip", "-n", self.name, "link", "set", "eth0", "up" if up else "down")
        if up:
            # the default routes went with the link: put them back
            run("ip", "-n", self.name, "route", "replace", "default", "dev", "eth0")
            if self.block6 is not None:
                run("ip", "-n", self.name, "-6", "route", "replace", "default", "dev", "eth0")

    def add_hosts(self, n: int, family: int = 4) -> list[str]:
        """``n`` answering hosts (addresses assigned in the namespace, added in one batch)."""
        addresses = self._allocate(family, n)
        prefix = 32 if family == 4 else 128
        extra = "" if family == 4 else " nodad"
        lines = "".join(f"address add {a}/{prefix} dev eth0{extra}\n" for a in addresses)
        run("ip", "-n", self.name, "-batch", "-", stdin=lines)
        return addresses

    def remove_host(self, address: str) -> None:
        """The host goes away (its address removed): it stops answering at once."""
        prefix = 128 if ":" in address else 32
        run("ip", "-n", self.name, "address", "del", f"{address}/{prefix}", "dev", "eth0")

    def restore_host(self, address: str) -> None:
        """A host removed by ``remove_host`` answers again."""
        prefix, extra = (128, ["nodad"]) if ":" in address else (32, [])
        run("ip", "-n", self.name, "address", "add", f"{address}/{prefix}", "dev", "eth0", *extra)

    def add_silent_host(self, family: int = 4) -> str:
        """An address routed into the namespace but assigned nowhere: it never answers."""
        return self._allocate(family, 1)[0]

    def add_lossy_host(self, probability: float, family: int = 4) -> str:
        """An answering host whose echo requests iptables drops with ``probability``."""
        if not 0.0 < probability <= 1.0:
            raise LabError(f"loss probability {probability} is not in (0, 1]")
        address = self.add_hosts(1, family)[0]
        if family == 4:
            match = ["iptables", "-p", "icmp", "--icmp-type", "echo-request"]
        else:  # ICMPv6 neighbour discovery must pass, only echo requests are dropped
            match = ["ip6tables", "-p", "ipv6-icmp", "--icmpv6-type", "echo-request"]
        statistic = ["-m", "statistic", "--mode", "random", "--probability", f"{probability}"]
        if probability >= 1.0:
            statistic = []
        run("ip", "netns", "exec", self.name, match[0], "-w", "5", "-A", "INPUT", "-d", address,
            *match[1:], *statistic, "-j", "DROP")  # fmt: skip
        return address

    def add_unreachable_host(self, family: int = 4) -> str:
        """An address whose root route is ``unreachable``: sends fail with EHOSTUNREACH."""
        address = self._allocate(family, 1)[0]
        prefix = 32 if family == 4 else 128
        run("ip", f"-{family}", "route", "add", "unreachable", f"{address}/{prefix}")
        self._unreachable.append(f"{address}/{prefix}")
        return address

    def start_delay(
        self,
        delay_ms: float,
        jitter_ms: float = 0.0,
        *,
        distribution: str = "uniform",
        seed: int = 1,
        max_seconds: float = 600.0,
        detach: bool = False,
    ) -> None:
        """Answer the lab's IPv4 pings from userspace after ``delay_ms`` +- ``jitter_ms``.

        Waits (bounded) until the responder listens. ``detach`` lets it outlive this
        process (``python -m tests.lab up``); ``down`` stops it in every case.
        """
        if self.responder is not None:
            raise LabError(f"lab {self.name} already has a delay responder")
        run("ip", "netns", "exec", self.name, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
        options = {"--delay-ms": delay_ms, "--jitter-ms": jitter_ms, "--seed": seed,
                   "--distribution": distribution, "--max-seconds": max_seconds}  # fmt: skip
        command = ["ip", "netns", "exec", self.name, sys.executable, "-m", "tests.lab.delay"]
        command += [str(part) for pair in options.items() for part in pair]
        self.responder = subprocess.Popen(
            command, cwd=_REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=detach,
        )  # fmt: skip
        self._await_ready(self.responder)

    def _await_ready(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], _READY_TIMEOUT)
        line = process.stdout.readline().strip() if ready else ""
        if line != "ready":
            self.stop_delay()
            raise LabError(f"delay responder in {self.name} did not start: {line!r}")

    def stop_delay(self) -> None:
        """Stop the delay responder (if any) and switch kernel echo replies back on."""
        process, self.responder = self.responder, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(_STOP_TIMEOUT)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    # -- services -------------------------------------------------------------------------

    def spawn(
        self, *command: str, ready: str | None = "ready", timeout: float = _READY_TIMEOUT
    ) -> subprocess.Popen[str]:
        """Run ``command`` inside the namespace (from the repository); ``down`` stops it.

        With ``ready``, waits (bounded by ``timeout``) for that first line on its stdout and
        raises LabError (with its stderr) when another line, end of output or nothing comes.
        """
        errors = tempfile.TemporaryFile("w+")  # a file, not a pipe: a chatty child never blocks
        try:
            process = subprocess.Popen(
                ["ip", "netns", "exec", self.name, *command], cwd=_REPO, text=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
            )  # fmt: skip
        except OSError as exc:
            errors.close()
            raise LabError(f"{' '.join(command[:6])}: {exc}") from exc
        self._spawned.append(process)
        line = _first_line(process, timeout) if ready is not None else None
        if line != ready:
            self.stop_spawned(process)
            errors.seek(0)
            detail = errors.read().strip().splitlines()[-3:]
            errors.close()
            raise LabError(f"{command[0]} in {self.name} did not start: {line!r} {detail}")
        errors.close()  # the child keeps its own descriptor of the (unlinked) file
        return process

    def stop_spawned(self, process: subprocess.Popen[str] | None = None) -> None:
        """Stop one process started by ``spawn`` (or all of them), by pid; kill after 5 s."""
        targets = [process] if process is not None else list(self._spawned)
        for target in targets:
            if target in self._spawned:
                self._spawned.remove(target)
            _terminate(target)

    # -- tearing down ---------------------------------------------------------------------

    def down(self) -> None:
        """Remove the namespace, the veth pair and with them the routes (idempotent)."""
        self.stop_spawned()
        self.stop_delay()
        while self._unreachable:  # these routes have no device, so they would outlive it
            _delete_route(self._unreachable.pop())
        destroy(self.name)


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line of ``process`` (stripped), or "" when none comes in time."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline().strip() if ready else ""


def _terminate(process: subprocess.Popen[str]) -> None:
    """SIGTERM, wait (bounded), SIGKILL if needed, reap, close its pipes."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(_STOP_TIMEOUT)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _delete_route(prefix: str) -> None:
    family = "-6" if ":" in prefix else "-4"
    try:
        run("ip", family, "route", "del", "unreachable", prefix)
    except LabError:
        pass  # already gone


def stale_unreachable_routes() -> list[str]:
    """``unreachable`` routes inside the lab ranges (left by a lab that crashed)."""
    found = []
    for family, network in (("-4", LAB_V4), ("-6", LAB_V6)):
        for line in run("ip", family, "route", "show", "type", "unreachable").splitlines():
            prefix = line.split()[1] if line.startswith("unreachable") else line.split()[0]
            if ipaddress.ip_network(prefix, strict=False).subnet_of(network):  # type: ignore[arg-type]
                found.append(prefix)
    return found


def destroy(namespace: str) -> None:
    """Delete a lab namespace and its root-side veth; missing pieces are not an error.

    Deleting the namespace destroys its veth end, which destroys the pair; the routes and
    addresses on the root end go with the device. The explicit link delete covers a
    namespace that was never created but whose veth was.
    """
    host_if = host_interface_for(namespace)
    _stop_processes_in(namespace)
    for command in (("ip", "netns", "del", namespace), ("ip", "link", "del", host_if)):
        try:
            run(*command)
        except LabError:
            pass  # already gone
    if Path(f"/sys/class/net/{host_if}").exists() or namespace in lab_namespaces():
        raise LabError(f"lab {namespace} could not be removed completely")


def _stop_processes_in(namespace: str) -> None:
    """End the processes the lab started inside ``namespace`` (delay responders), by pid."""
    try:
        pids = [int(pid) for pid in run("ip", "netns", "pids", namespace).split()]
    except (LabError, ValueError):
        return  # no such namespace
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + _STOP_TIMEOUT
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        if pids:
            time.sleep(0.01)


def _lab_routes4() -> list[ipaddress.IPv4Network]:
    """Prefixes of the root routes inside the lab range: blocks other labs hold."""
    found = []
    for line in run("ip", "-4", "route", "show", "root", str(LAB_V4)).splitlines():
        prefix = line.split()[0]
        if "/" in prefix:
            found.append(ipaddress.IPv4Network(prefix))
    return found


def destroy_all(names: Sequence[str] | None = None) -> list[str]:
    """Destroy the given lab namespaces, or every one that exists; returns their names."""
    targets = list(names) if names else lab_namespaces()
    if not names:
        for prefix in stale_unreachable_routes():
            _delete_route(prefix)
    for name in targets:
        destroy(name)
    return targets
