"""Manual use of the lab (as root).

python -m tests.lab up [--hosts N] [--no-ipv6] [--block-prefix 16]
                       [--delay-ms D [--jitter-ms J] [--distribution uniform|normal]
                        [--seed S] [--max-seconds T]]
                                                 build a lab and leave it running; with
                                                 --delay-ms its IPv4 hosts answer from a
                                                 userspace responder after D +- J ms
python -m tests.lab list                         lab namespaces that exist
python -m tests.lab down [NAMESPACE...]          remove the given labs, or all of them
"""

from __future__ import annotations

import argparse
import sys

from tests.lab.netns import Lab, LabError, destroy_all, lab_namespaces, missing_requirement


def _up(args: argparse.Namespace) -> None:
    ipv6 = not args.no_ipv6
    lab = Lab(ipv6=ipv6, block_prefix=args.block_prefix)
    lab.__enter__()  # not "with": the lab must outlive this command
    hosts = args.hosts
    v4 = lab.add_hosts(hosts)
    if args.delay_ms is not None:
        lab.start_delay(args.delay_ms, args.jitter_ms, distribution=args.distribution,
                        seed=args.seed, max_seconds=args.max_seconds, detach=True)  # fmt: skip
        print(f"IPv4 echo replies after {args.delay_ms} +- {args.jitter_ms} ms "
              f"({args.distribution}, seed {args.seed}) for {args.max_seconds:g} s")  # fmt: skip
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
    up.add_argument("--block-prefix", type=int, default=20, help="size of the block [/20]")
    up.add_argument("--delay-ms", type=float, help="answer IPv4 pings after this delay")
    up.add_argument("--jitter-ms", type=float, default=0.0)
    up.add_argument("--distribution", choices=("uniform", "normal"), default="uniform")
    up.add_argument("--seed", type=int, default=1)
    up.add_argument("--max-seconds", type=float, default=3600.0, help="responder lifetime")
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
            _up(args)
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
