"""Manual use of the lab (as root).

python -m tests.lab up [--hosts N] [--no-ipv6]   build a lab and leave it running
python -m tests.lab list                         lab namespaces that exist
python -m tests.lab down [NAMESPACE...]          remove the given labs, or all of them
"""

from __future__ import annotations

import argparse
import sys

from tests.lab.netns import Lab, LabError, destroy_all, lab_namespaces, missing_requirement


def _up(hosts: int, ipv6: bool) -> None:
    lab = Lab(ipv6=ipv6)
    lab.__enter__()  # not "with": the lab must outlive this command
    v4 = lab.add_hosts(hosts)
    print(f"namespace {lab.name} (veth {lab.host_if}), block {lab.block4}")
    print(f"answering IPv4: {v4[0]} .. {v4[-1]} ({len(v4)} hosts)")
    print(f"silent IPv4:    {lab.add_silent_host()}")
    if ipv6:
        v6 = lab.add_hosts(min(hosts, 10), family=6)
        print(f"answering IPv6: {v6[0]} .. {v6[-1]} ({len(v6)} hosts), block {lab.block6}")
    print(f"remove with: python -m tests.lab down {lab.name}")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and act; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tests.lab")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build a lab and leave it running")
    up.add_argument("--hosts", type=int, default=10, help="answering IPv4 hosts [10]")
    up.add_argument("--no-ipv6", action="store_true")
    sub.add_parser("list", help="list lab namespaces")
    down = sub.add_parser("down", help="remove labs (all when none named)")
    down.add_argument("namespaces", nargs="*")
    args = parser.parse_args(argv)
    reason = missing_requirement()
    if reason:
        print(f"lab: {reason}", file=sys.stderr)
        return 2
    try:
        if args.command == "up":
            _up(args.hosts, not args.no_ipv6)
        elif args.command == "list":
            print("\n".join(lab_namespaces()))
        else:
            removed = destroy_all(args.namespaces)
            print(f"removed {len(removed)} lab(s): {' '.join(removed)}".rstrip())
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
