"""Fixtures of the ICMP integration tests: datagram sockets allowed, a namespace lab, the CLI.

Traffic goes only to 127.0.0.0/8, ::1 and addresses of the labs these fixtures create.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab import Lab, missing_requirement

ROOT = Path(__file__).resolve().parents[3]
PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")


def ipv6_loopback_missing() -> str | None:
    """Why ::1 cannot be used here, or None."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError as exc:
        return f"no IPv6 loopback on this host ({exc.strerror})"
    return None


def _dgram_icmp_works() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close()
    except PermissionError:
        return False
    return True


@pytest.fixture(scope="session")
def dgram_icmp() -> Iterator[None]:
    """Unprivileged ICMP datagram sockets usable by this process for the session.

    As root, when ``net.ipv4.ping_group_range`` excludes us, the range is widened to our
    group alone for the session and restored afterwards.
    """
    if _dgram_icmp_works():
        yield
        return
    if os.geteuid() != 0:
        pytest.skip('needs net.ipv4.ping_group_range to include our group (sysctl "0 2147483647")')
    saved = PING_GROUP_RANGE.read_text()
    gid = os.getgid()
    PING_GROUP_RANGE.write_text(f"{gid} {gid}")
    try:
        yield
    finally:
        PING_GROUP_RANGE.write_text(saved)


@dataclass(frozen=True)
class LabHosts:
    """The hosts of the shared lab."""

    lab: Lab
    answering4: str
    answering6: str | None
    silent4: str
    unreachable4: str
    lossy4: str | None
    many4: list[str]


@pytest.fixture(scope="module")
def lab_hosts() -> Iterator[LabHosts]:
    """One namespace lab per test module, with every kind of host; always torn down."""
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    with Lab(ipv6=ipv6_loopback_missing() is None) as lab:
        answering4 = lab.add_hosts(1)[0]
        answering6 = lab.add_hosts(1, family=6)[0] if lab.block6 else None
        lossy4 = None if missing_requirement(iptables=True) else lab.add_lossy_host(0.5)
        yield LabHosts(
            lab=lab,
            answering4=answering4,
            answering6=answering6,
            silent4=lab.add_silent_host(),
            unreachable4=lab.add_unreachable_host(),
            lossy4=lossy4,
            many4=lab.add_hosts(500),
        )


@dataclass(frozen=True)
class DelayLab:
    """A lab of its own whose hosts answer from the userspace responder after a delay."""

    lab: Lab
    delay_ms: float
    jitter_ms: float
    delayed4: str
    silent4: str


DELAY_MS = 20.0
JITTER_MS = 5.0


@pytest.fixture(scope="module")
def delay_lab() -> Iterator[DelayLab]:
    """One delayed lab per module (20 ms +- 5 ms uniform, seeded); always torn down."""
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    with Lab(ipv6=False) as lab:
        delayed4 = lab.add_hosts(1)[0]
        lab.start_delay(DELAY_MS, JITTER_MS, distribution="uniform", seed=7, max_seconds=300)
        yield DelayLab(lab, DELAY_MS, JITTER_MS, delayed4, lab.add_silent_host())


def _full_cli_imports() -> bool:
    """True when ``netgauge.cli:main`` imports with all its command modules."""
    check = "import netgauge.cli as c; c._load_commands()"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, timeout=60)
    return done.returncode == 0


@pytest.fixture(scope="session")
def netgauge_cli() -> list[str]:
    """The command that runs ``netgauge``: the installed script when the whole CLI loads.

    While the other command modules are still being written and do not import, the probe
    command alone is run through the same typer app, so these tests keep testing ours.
    """
    script = Path(sys.executable).parent / "netgauge"
    if script.exists() and _full_cli_imports():
        return [str(script)]
    shim = "import netgauge.cli.probe; from netgauge.cli.app import app; app(prog_name='netgauge')"
    return [sys.executable, "-c", shim]
