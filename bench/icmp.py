"""netgauge's ``probe icmp`` CLI next to fping over 1,000 and 10,000 lab addresses (as root).

    sudo ./scripts/bench [--targets 1000 10000] [--repeat 3]
    .venv/bin/python bench/icmp.py [--targets 1000 10000] [--repeat 3]

Builds one lab namespace (tests/lab) claiming a /16, so every packet stays on this machine,
and times in the same run, on the same addresses, one round (one packet per target):

* ``netgauge probe icmp --count 1 --pace 0`` against ``fping -c1 -i0`` (as fast as possible)
* ``netgauge probe icmp --count 1 --pace 1`` against ``fping -c1 -i1`` (1 ms between targets)

For each it prints the median wall time, the CPU seconds (user + sys of the child, from
``os.wait4``), the peak RSS (the child's ``ru_maxrss``), how many targets answered, and the
ratios netgauge / fping. The peak RSS of a child spawned from this process cannot be
below this process's own at the moment of exec (Linux keeps the larger ``maxrss``), so the
floor is measured with ``/bin/true`` and printed; a value at the floor means "at most".
Every run is bounded by a timeout; the lab is removed at the end,
even on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.lab when run as a script

from tests.lab import Lab, missing_requirement  # noqa: E402

RUN_TIMEOUT = 300.0  # seconds: every measured run is bounded
FPING = shutil.which("fping") or "/usr/bin/fping"
NETGAUGE = str(Path(sys.executable).parent / "netgauge")
_FPING_LINE = re.compile(r"^(\S+)\s+: xmt/rcv/%loss = (\d+)/(\d+)/")


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    wall_s: float
    cpu_s: float
    maxrss_mb: float
    answered: int


@dataclass(frozen=True)
class Tool:
    """A command line for a list of addresses and a parser of its answered count."""

    name: str
    options: str
    argv: Callable[[list[str]], list[str]]
    answered: Callable[[str, str], int]


def measure(argv: list[str], answered: Callable[[str, str], int]) -> Run:
    """Run ``argv`` once; wall time, user+sys CPU and peak RSS of that child alone."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ],
        )
        status, usage = _wait(pid, start + RUN_TIMEOUT)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"{argv[0]} exited {code}: {stderr.strip()[-500:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss / 1024, answered(stdout, stderr))


def _wait(pid: int, deadline: float) -> tuple[int, resource.struct_rusage]:
    """wait4 the child, polling so that a hung one is killed at ``deadline``."""
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done == pid:
            return status, usage
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            raise RuntimeError(f"run of pid {pid} exceeded {RUN_TIMEOUT} s")
        time.sleep(0.005)


def netgauge_answered(stdout: str, _stderr: str) -> int:
    return sum(json.loads(line)["received"] > 0 for line in stdout.splitlines())


def fping_answered(_stdout: str, stderr: str) -> int:
    answered = 0
    for line in stderr.splitlines():
        match = _FPING_LINE.match(line)
        answered += bool(match and int(match.group(3)) > 0)
    return answered


def netgauge_argv(pace: str) -> Callable[[list[str]], list[str]]:
    """``netgauge probe icmp --json -c 1 --pace PACE ADDRESS...``."""

    def argv(addresses: list[str]) -> list[str]:
        return [NETGAUGE, "probe", "icmp", "--json", "-c", "1", "--pace", pace, *addresses]

    return argv


def fping_argv(pace: str) -> Callable[[list[str]], list[str]]:
    """``fping -q -c1 -iPACE ADDRESS...``."""

    def argv(addresses: list[str]) -> list[str]:
        return [FPING, "-q", "-c1", f"-i{pace}", *addresses]

    return argv


def pairs() -> list[tuple[Tool, Tool]]:
    """Like-for-like pairs: (netgauge, fping) at pace 0 and at 1 ms."""
    return [
        (
            Tool(
                "netgauge CLI", f"--count 1 --pace {pace}", netgauge_argv(pace), netgauge_answered
            ),
            Tool("fping", f"-c1 -i{pace}", fping_argv(pace), fping_answered),
        )
        for pace in ("0", "1")
    ]


def median_run(tool: Tool, addresses: list[str], repeat: int) -> Run:
    """The run of median wall time out of ``repeat``."""
    runs = sorted(
        (measure(tool.argv(addresses), tool.answered) for _ in range(repeat)),
        key=lambda run: run.wall_s,
    )
    return runs[len(runs) // 2]


def row(tool: Tool, n: int, run: Run) -> str:
    return (
        f"{tool.name:<13} {tool.options:<22} {n:>7} {run.answered:>8} {run.wall_s:>8.3f} "
        f"{run.cpu_s:>8.3f} {run.maxrss_mb:>8.1f}"
    )


def bench(addresses: Sequence[str], sizes: Sequence[int], repeat: int, with_fping: bool) -> None:
    """Print the table: each pair at each size, then the ratios."""
    print(
        f"{'tool':<13} {'options':<22} {'targets':>7} {'answered':>8} {'wall s':>8} "
        f"{'cpu s':>8} {'rss MB':>8}   netgauge/fping: wall cpu rss"
    )
    for n in sizes:
        subset = list(addresses[:n])
        for netgauge, fping in pairs():
            ours = median_run(netgauge, subset, repeat)
            print(row(netgauge, n, ours), flush=True)
            if not with_fping:
                continue
            theirs = median_run(fping, subset, repeat)
            ratios = (
                ours.wall_s / theirs.wall_s,
                ours.cpu_s / max(theirs.cpu_s, 1e-3),
                ours.maxrss_mb / theirs.maxrss_mb,
            )
            print(
                row(fping, n, theirs) + "   " + " ".join(f"{r:5.2f}x" for r in ratios), flush=True
            )


def main() -> int:
    """Build the lab, measure every pair, print the table, remove the lab."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reason = missing_requirement()
    if reason:
        print(f"bench: {reason}", file=sys.stderr)
        return 2
    with_fping = Path(FPING).exists()
    if not with_fping:
        print("bench: fping not found (Debian package fping): measuring netgauge only")
    with Lab(ipv6=False, block_prefix=16) as lab:
        addresses = lab.add_hosts(max(args.targets))
        measure([FPING, "-q", "-c1", addresses[0]], fping_answered)  # warm the neighbour entry
        print(f"lab {lab.name}: {len(addresses)} addresses {addresses[0]} .. {addresses[-1]}")
        floor = measure(["/bin/true"], lambda _o, _e: 0).maxrss_mb
        print(f"rss floor (/bin/true spawned from here): {floor:.1f} MB")
        bench(addresses, sorted(args.targets), args.repeat, with_fping)
    return 0


if __name__ == "__main__":
    sys.exit(main())
