"""Loopback test servers for the HTTP and TCP probes: HTTP/1.1, HTTPS, HTTP/2, raw TCP.

Everything listens on 127.0.0.1 only, on ports the kernel picks, and runs in one background
event loop (``ServerLoop``) that the fixtures start and stop. ``make_certificate`` writes a
self-signed certificate with a known expiry (needs ``cryptography``, a dev dependency).
``tests.lab.services`` runs the same servers as hosts inside a lab namespace, on a lab
address (``host=``, ``port=``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
BIG_BODY = b"x" * (2 * 1024 * 1024)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1, localhost (and any extra IPs), its key, as PEM."""

    cert: Path
    key: Path
    not_after: dt.datetime


def make_certificate(
    directory: Path, days: int = 30, *, ips: Sequence[str] = (), names: Sequence[str] = ()
) -> Certificate:
    """A self-signed certificate valid from an hour ago until exactly ``days`` days from now.

    ``ips`` and ``names`` are added to the subject alternative names (lab addresses the
    server listens on, host names a client will check).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netgauge test")])
    alt_names = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address(ip)) for ip in dict.fromkeys((LOOPBACK, *ips))]
        + [x509.DNSName(n) for n in ("localhost", *names)]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(alt_names, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path, now + dt.timedelta(days=days))


class TestApp:
    """A tiny ASGI application with the routes the HTTP probe tests need.

    ``/`` 200 "hello netgauge"; ``/status/N`` status N; ``/redirect/N`` a 301 chain of N hops
    ending at ``/``; ``/slow`` answers only when the server stops; ``/big`` 2 MiB;
    ``/version`` the HTTP version the server saw; ``/delay/MS`` 64 KiB after MS milliseconds
    (a server far away, for comparisons with curl that Python's own overhead does not swamp).
    """

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.stopping = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        if path == "/slow":
            await self.stopping.wait()
            await _respond(send, 503, b"stopping")
        elif path.startswith("/redirect/"):
            left = int(path.rsplit("/", 1)[1])
            location = f"/redirect/{left - 1}" if left > 1 else "/"
            await _respond(send, 301, b"", [(b"location", location.encode())])
        elif path.startswith("/status/"):
            await _respond(send, int(path.rsplit("/", 1)[1]), b"status")
        elif path == "/big":
            await _respond(send, 200, BIG_BODY)
        elif path.startswith("/delay/"):
            await asyncio.sleep(min(int(path.rsplit("/", 1)[1]), 5000) / 1000)
            await _respond(send, 200, BIG_BODY[: 64 * 1024])
        elif path == "/version":
            await _respond(send, 200, str(scope["http_version"]).encode())
        else:
            await _respond(send, 200, b"hello netgauge", [(b"content-type", b"text/plain")])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:  # ends with the shutdown message
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    all_headers = [(b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


def listening_socket(host: str = LOOPBACK, port: int = 0) -> socket.socket:
    """A TCP socket listening on ``host`` (127.0.0.1) on ``port`` (0: the kernel picks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    return sock


class ServerLoop:
    """One event loop in a thread that runs every test server; ``close`` stops them all."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._stops: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.keep: list[socket.socket] = []  # sockets held open until close()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        """Run ``coro`` in the server loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def http(
        self, certificate: Certificate | None = None, *, host: str = LOOPBACK, port: int = 0
    ) -> int:
        """Start hypercorn serving ``TestApp`` (TLS with h2+http/1.1 ALPN when given a cert)."""
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        sock = listening_socket(host, port)
        port = int(sock.getsockname()[1])
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns (and closes) the socket
        config.graceful_timeout = 1.0
        config.accesslog = config.errorlog = None
        if certificate is not None:
            config.certfile, config.keyfile = str(certificate.cert), str(certificate.key)

        async def start() -> None:
            app, done = TestApp(), asyncio.Event()
            task = asyncio.ensure_future(serve(app, config, shutdown_trigger=done.wait))  # type: ignore[arg-type]

            async def stop() -> None:
                app.stopping.set()
                done.set()
                await asyncio.wait_for(task, 10)

            self._stops.append(stop)

        self.call(start())
        return port

    def tcp(
        self,
        handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
        *,
        host: str = LOOPBACK,
        port: int = 0,
    ) -> int:
        """Start a raw TCP server calling ``handler`` per connection; returns its port."""

        clients: set[asyncio.StreamWriter] = set()

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            clients.add(writer)
            try:
                await handler(reader, writer)
            except ConnectionError:
                pass  # the probe reset the connection: normal for a probe
            finally:
                clients.discard(writer)
                writer.close()

        async def start() -> int:
            server = await asyncio.start_server(tracked, sock=listening_socket(host, port))

            async def stop() -> None:
                server.close()
                for writer in list(clients):  # Python 3.11 has no Server.close_clients()
                    writer.close()
                await server.wait_closed()

            self._stops.append(stop)
            return int(server.sockets[0].getsockname()[1])

        return int(self.call(start()))

    def close(self) -> None:
        """Stop every server, then the loop and its thread."""
        for stop in reversed(self._stops):
            self.call(stop())
        self._stops.clear()
        for sock in self.keep:
            sock.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and say nothing until the client leaves (for handshake and read timeouts)."""
    await reader.read()
    writer.close()


def banner(text: bytes) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A handler that sends ``text`` on connect, then waits for the client to leave."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(text)
        await writer.drain()
        await reader.read()
        writer.close()

    return handler


async def echo_upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Say nothing first; answer each line with the line upper-cased (a send/expect server)."""
    while line := await reader.readline():
        writer.write(line.upper())
        await writer.drain()
    writer.close()
