"""netgauge's ICMP engine next to fping over 1,000 addresses in a namespace lab (run as root).

    .venv/bin/python bench/icmp_vs_fping.py [--targets 1000] [--repeat 3]

Builds a lab namespace (tests/lab) holding the addresses, so every packet stays on this
machine, then times in the same run: the ``netgauge probe icmp`` CLI as a subprocess, the
engine in-process, and fping with comparable options. Prints a table of the median wall
time per tool. The lab is removed at the end, even on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.lab when run as a script

from tests.lab import Lab, missing_requirement  # noqa: E402

from netgauge.models import ProbeStatus, Target  # noqa: E402
from netgauge.probes.icmp import IcmpParams, IcmpProbe  # noqa: E402

RUN_TIMEOUT = 120.0  # seconds: every measured run is bounded
FPING = shutil.which("fping") or "/usr/bin/fping"
NETGAUGE = str(Path(sys.executable).parent / "netgauge")
_FPING_LINE = re.compile(r"^(\S+)\s+: xmt/rcv/%loss = (\d+)/(\d+)/")


@dataclass(frozen=True)
class Case:
    """One measured configuration: a label and a function returning (answered, detail)."""

    tool: str
    options: str
    measure: Callable[[list[str]], int]


def netgauge_cli(extra: list[str]) -> Callable[[list[str]], int]:
    """The installed ``netgauge probe icmp`` command, answered targets from its --json."""

    def measure(addresses: list[str]) -> int:
        done = subprocess.run(
            [NETGAUGE, "probe", "icmp", *addresses, "--json", *extra],
            capture_output=True, text=True, timeout=RUN_TIMEOUT,
        )  # fmt: skip
        if done.returncode not in (0, 1):
            raise RuntimeError(f"netgauge exited {done.returncode}: {done.stderr.strip()}")
        return sum(json.loads(line)["received"] > 0 for line in done.stdout.splitlines())

    return measure


def netgauge_engine(params: IcmpParams) -> Callable[[list[str]], int]:
    """IcmpProbe.run_batch in this process (no interpreter start-up, no resolution)."""

    def measure(addresses: list[str]) -> int:
        targets = [Target(name=a, address=a) for a in addresses]
        run = IcmpProbe().run_batch(targets, params)
        results = asyncio.run(asyncio.wait_for(run, RUN_TIMEOUT))
        return sum(r.status is ProbeStatus.OK for r in results)

    return measure


def fping(extra: list[str]) -> Callable[[list[str]], int]:
    """fping in count mode (-c), answered targets from its per-target summary lines."""

    def measure(addresses: list[str]) -> int:
        done = subprocess.run(
            [FPING, "-q", *extra, *addresses], capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
        answered = 0
        for line in done.stderr.splitlines():
            match = _FPING_LINE.match(line)
            answered += bool(match and int(match.group(3)) > 0)
        return answered

    return measure


def cases(with_fping: bool) -> list[Case]:
    """Like-for-like pairs: one packet as fast as possible, one packet polite, three packets."""
    found = [
        Case("netgauge CLI", "--count 1 --pace 0", netgauge_cli(["-c", "1", "--pace", "0"])),
        Case(
            "netgauge engine", "count=1 pace_ms=0", netgauge_engine(IcmpParams(count=1, pace_ms=0))
        ),
        Case("fping", "-c1 -i0", fping(["-c1", "-i0"])),
        Case("netgauge CLI", "--count 1 --pace 1", netgauge_cli(["-c", "1", "--pace", "1"])),
        Case("fping", "-c1 -i1", fping(["-c1", "-i1"])),
        Case(
            "netgauge CLI",
            "--count 3 --interval 0.1 --pace 0",
            netgauge_cli(["-c", "3", "--interval", "0.1", "--pace", "0"]),
        ),  # fmt: skip
        Case("fping", "-c3 -p100 -i0", fping(["-c3", "-p100", "-i0"])),
        Case("netgauge CLI", "--count 1 (default pace 10 ms)", netgauge_cli(["-c", "1"])),
        Case("fping", "-c1 (default -i 10)", fping(["-c1"])),
    ]
    return [case for case in found if with_fping or case.tool != "fping"]


def timed(case: Case, addresses: list[str], repeat: int) -> tuple[int, list[float]]:
    """Answered count of the last run and the wall time of each run."""
    walls = []
    answered = 0
    for _ in range(repeat):
        start = time.perf_counter()
        answered = case.measure(addresses)
        walls.append(time.perf_counter() - start)
    return answered, walls


def main() -> int:
    """Build the lab, measure every case, print the table, remove the lab."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reason = missing_requirement()
    if reason:
        print(f"bench: {reason}", file=sys.stderr)
        return 2
    with_fping = Path(FPING).exists()
    if not with_fping:
        print("bench: fping not found (Debian package fping): measuring netgauge only")
    with Lab(ipv6=False) as lab:
        addresses = lab.add_hosts(args.targets)
        netgauge_engine(IcmpParams(count=1, pace_ms=0))(addresses[:1])  # warm ARP + imports
        print(f"lab {lab.name}: {len(addresses)} addresses {addresses[0]} .. {addresses[-1]}")
        print(f"{'tool':<16} {'options':<36} {'targets':>7} {'answered':>8} "
              f"{'wall s (median)':>15} {'min':>7} {'max':>7}")  # fmt: skip
        for case in cases(with_fping):
            answered, walls = timed(case, addresses, args.repeat)
            print(f"{case.tool:<16} {case.options:<36} {len(addresses):>7} {answered:>8} "
                  f"{statistics.median(walls):>15.3f} {min(walls):>7.3f} {max(walls):>7.3f}",
                  flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
