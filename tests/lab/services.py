"""The lab's test services as hosts inside a lab namespace, on lab addresses.

The loopback servers of ``tests.lab.http`` and ``tests.lab.dns`` run here as processes in a
namespace that ``Lab.spawn`` starts (and ``Lab.down`` stops, whatever happens)::

    ip netns exec NS python -m tests.lab.services tcp --bind 198.18.0.16 --port 22 --mode banner
    ip netns exec NS python -m tests.lab.services http --bind 198.18.0.17 --port 80 \\
        --tls-port 443 --cert cert.pem --key key.pem
    ip netns exec NS python -m tests.lab.services dns --bind 198.18.0.18 --port 53 --delay 0.25

Each prints ``ready`` once listening and serves until SIGTERM/SIGINT, or ``--max-seconds``
at the latest. dnsmasq runs in the namespace directly (``start_dnsmasq``), never forwarding.
The parent-side helpers below build those commands; nothing listens outside the namespace.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.lab.netns import Lab

READY = "ready"
BANNER = "SSH-2.0-netgauge_lab\r\n"
TCP_MODES = ("banner", "echo", "silent")
_SIGNALS = {signal.SIGTERM, signal.SIGINT}

# -- parent side: start a service in a lab ---------------------------------------------------


def _spawn(lab: Lab, kind: str, address: str, port: int, *options: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.lab.services", kind, "--bind", address]
    return lab.spawn(*command, "--port", str(port), *options, timeout=15.0)


def start_tcp(lab: Lab, address: str, port: int, mode: str = "banner") -> subprocess.Popen[str]:
    """A raw TCP server on ``address:port`` in ``lab`` (banner, echo_upper or silent)."""
    return _spawn(lab, "tcp", address, port, "--mode", mode)


def start_http(
    lab: Lab, address: str, port: int, *, tls_port: int | None = None,
    cert: Path | None = None, key: Path | None = None,
) -> subprocess.Popen[str]:  # fmt: skip
    """Hypercorn serving ``TestApp`` on ``address:port`` (and HTTPS, h2 + http/1.1, on
    ``tls_port`` with ``cert``/``key``) in ``lab``."""
    options = []
    if tls_port is not None:
        if cert is None or key is None:
            raise ValueError("HTTPS needs a certificate and a key")
        options = ["--tls-port", str(tls_port), "--cert", str(cert), "--key", str(key)]
    return _spawn(lab, "http", address, port, *options)


def start_dns(lab: Lab, address: str, port: int = 53, delay: float = 0.0) -> subprocess.Popen[str]:
    """The scripted DNS server (UDP + TCP) on ``address:port`` answering after ``delay`` s."""
    return _spawn(lab, "dns", address, port, "--delay", str(delay))


def start_dnsmasq(lab: Lab, address: str, port: int = 53) -> subprocess.Popen[str]:
    """dnsmasq with the lab records on ``address:port`` in ``lab``, once it answers.

    ``--no-resolv`` and no ``--server``: it never forwards a query anywhere.
    """
    from tests.lab.dns import Dnsmasq, wait_until_answering

    process = lab.spawn(*Dnsmasq(address, port=port).command(), ready=None)
    try:
        wait_until_answering(address, port, "www.lab.test")
    except RuntimeError:
        lab.stop_spawned(process)
        raise
    return process


# -- child side: run inside the namespace ----------------------------------------------------


def _serve_until_signalled(max_seconds: float) -> None:
    print(READY, flush=True)
    signal.sigtimedwait(_SIGNALS, max_seconds)


def _run_tcp(args: argparse.Namespace) -> None:
    from tests.lab.http import ServerLoop, banner, echo_upper, silent

    handlers = {"banner": banner(BANNER.encode()), "echo": echo_upper, "silent": silent}
    loop = ServerLoop()
    try:
        loop.tcp(handlers[args.mode], host=args.bind, port=args.port)
        _serve_until_signalled(args.max_seconds)
    finally:
        loop.close()


def _run_http(args: argparse.Namespace) -> None:
    import datetime as dt

    from tests.lab.http import Certificate, ServerLoop

    loop = ServerLoop()
    try:
        loop.http(host=args.bind, port=args.port)
        if args.tls_port is not None:
            # ServerLoop.http reads only the two files; the expiry is the parent's to know
            certificate = Certificate(args.cert, args.key, dt.datetime.now(dt.UTC))
            loop.http(certificate, host=args.bind, port=args.tls_port)
        _serve_until_signalled(args.max_seconds)
    finally:
        loop.close()


def _run_dns(args: argparse.Namespace) -> None:
    from tests.lab.dns import ScriptedDnsServer

    with ScriptedDnsServer(args.bind, port=args.port, delay=args.delay):
        _serve_until_signalled(args.max_seconds)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.lab.services", description=__doc__)
    parser.add_argument("kind", choices=("tcp", "http", "dns"))
    parser.add_argument("--bind", required=True, help="the lab address to listen on")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="exit after this long")
    parser.add_argument("--mode", choices=TCP_MODES, default="banner", help="tcp: what to do")
    parser.add_argument("--tls-port", type=int, help="http: also serve HTTPS (h2) here")
    parser.add_argument("--cert", type=Path, help="http: certificate PEM for --tls-port")
    parser.add_argument("--key", type=Path, help="http: key PEM for --tls-port")
    parser.add_argument("--delay", type=float, default=0.0, help="dns: seconds before answers")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one kind of service until signalled (or ``--max-seconds``), then stop it."""
    args = _parser().parse_args(argv)
    if args.kind == "http" and args.tls_port is not None and not (args.cert and args.key):
        _parser().error("--tls-port needs --cert and --key")
    # Blocked before any thread starts, so every thread inherits the mask and the signal
    # waits for sigtimedwait instead of killing the process before the servers stop.
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    runners = {"tcp": _run_tcp, "http": _run_http, "dns": _run_dns}
    runners[args.kind](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
