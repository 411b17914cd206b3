"""The loopback servers of the HTTP and TCP probe integration tests, started once per module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.lab.http import Certificate, ServerLoop, banner, echo_upper, make_certificate, silent

CERT_DAYS = 30


@dataclass(frozen=True)
class Servers:
    """Ports of the running servers (all on 127.0.0.1) and the HTTPS certificate."""

    http: int
    https: int
    silent: int
    banner: int
    echo: int
    closed: int
    certificate: Certificate


def closed_port(loop: ServerLoop) -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, never listening: refused)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    loop.keep.append(sock)  # held until the loop closes, so no one else takes the port
    return port


def start_servers(directory: Path) -> Iterator[Servers]:
    """Every server, yielded while they run; all stopped afterwards, even on failure."""
    import pytest

    pytest.importorskip("hypercorn", reason="the HTTP test servers need hypercorn (dev)")
    loop = ServerLoop()
    try:
        certificate = make_certificate(directory, days=CERT_DAYS)
        yield Servers(
            http=loop.http(),
            https=loop.http(certificate),
            silent=loop.tcp(silent),
            banner=loop.tcp(banner(b"SSH-2.0-netgauge_test\r\n")),
            echo=loop.tcp(echo_upper),
            closed=closed_port(loop),
            certificate=certificate,
        )
    finally:
        loop.close()
