"""Test DNS servers on loopback: dnsmasq with known records, and a scripted server of our own.

* :class:`Dnsmasq` runs Debian's ``dnsmasq`` on 127.0.0.1:<free port> with the records of
  :data:`DNSMASQ_RECORDS`; it never forwards (``--no-resolv``, no ``--server``) and answers
  NXDOMAIN for unknown names under ``lab.test`` (``--local``).
* :class:`ScriptedDnsServer` answers from a table over UDP, TCP and optionally TLS, after a
  configurable delay; a UDP answer too big for 512 bytes comes back truncated (TC set, no
  records) so that clients retry over TCP; ``silent=True`` reads queries and never answers.
  It counts queries per transport, so tests can see which one a client used.

Nothing here talks to anything but the addresses it binds: loopback, or a lab namespace's
(``tests.lab.services`` runs both servers as lab hosts).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

UDP_LIMIT = 512  # no EDNS: the classic limit, above which the answer is truncated
_POLL_S = 0.1  # how often blocking loops look at the stop flag

LAB_ZONE = "lab.test"
# name -> type -> rdata texts, served by both servers
DNSMASQ_RECORDS: Mapping[str, Mapping[str, Sequence[str]]] = {
    "www.lab.test": {"A": ["192.0.2.10"], "AAAA": ["2001:db8::10"]},
    "lab.test": {"MX": ["10 mail.lab.test."], "TXT": ['"v=spf1 -all"']},
    "alias.lab.test": {"CNAME": ["www.lab.test."]},
    "_sip._udp.lab.test": {"SRV": ["10 20 5060 sip.lab.test."]},
}
BIG_TXT = "big.lab.test"
MULTI_TXT = "dkim.lab.test"  # dnsmasq serves it as two strings
BIG_TXT_STRINGS = [f"chunk-{i:02d}-" + "x" * 180 for i in range(8)]  # ~1.5 kB: truncated on UDP


def dnsmasq_missing() -> str | None:
    """Why dnsmasq cannot be used here (one line naming the package), or None."""
    if shutil.which("dnsmasq") or Path("/usr/sbin/dnsmasq").exists():
        return None
    return "needs the Debian package dnsmasq-base (apt-get install dnsmasq-base)"


def _dnsmasq_binary() -> str:
    return shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_udp_tcp_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``host`` right now (bounded number of tries)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


def wait_until_answering(host: str, port: int, name: str, timeout: float = 10.0) -> None:
    """Block until ``host:port`` answers a query for ``name`` (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    query = dns.message.make_query(name, "A")
    while True:
        try:
            dns.query.udp(query, host, timeout=0.2, port=port)
            return
        except (OSError, dns.exception.Timeout):
            if time.monotonic() > deadline:
                raise RuntimeError(f"DNS server {host}:{port} not answering") from None


class Dnsmasq:
    """dnsmasq serving :data:`DNSMASQ_RECORDS` on ``host:port``; a context manager.

    ``port`` defaults to one free on ``host`` here; give it for a ``host`` that lives in a
    lab namespace (``tests.lab.services.start_dnsmasq`` runs :meth:`command` there).
    """

    def __init__(self, host: str = "127.0.0.1", *, port: int | None = None) -> None:
        self.host = host
        self.port = port or free_udp_tcp_port(host)
        self._proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The dnsmasq command line: loopback only, no upstream, no hosts file, our records."""
        return [
            _dnsmasq_binary(),
            "--no-daemon",
            f"--port={self.port}",
            f"--listen-address={self.host}",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            "--pid-file=",
            f"--local=/{LAB_ZONE}/",
            "--host-record=www.lab.test,192.0.2.10,2001:db8::10",
            "--mx-host=lab.test,mail.lab.test,10",
            "--txt-record=lab.test,v=spf1 -all",
            # a DKIM-like record of two strings (long keys are split so)
            f"--txt-record={MULTI_TXT},v=DKIM1; k=rsa; ,p=MIIBIjANBgkqhkiG9w0BAQEFAAOC",
            "--cname=alias.lab.test,www.lab.test",
            "--srv-host=_sip._udp.lab.test,sip.lab.test,5060,10,20",
        ]

    def __enter__(self) -> Dnsmasq:
        self._proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_until_answering(self.host, self.port, "www.lab.test")
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate dnsmasq (kill after 5 s) and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def make_tls_files(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` and ``dns.lab.test``: (cert.pem, key.pem)."""
    from tests.lab.http import make_certificate

    cert = make_certificate(directory, days=1, ips=[host], names=["dns.lab.test"])
    return cert.cert, cert.key


class ScriptedDnsServer:
    """A DNS server on loopback answering from a table after ``delay`` seconds.

    Serves UDP and TCP on the same port (or TLS only, when ``tls=(cert, key)``). Names not in
    the table are NXDOMAIN; :data:`BIG_TXT` is a TXT record too big for UDP.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        port: int | None = None,
        delay: float = 0.0,
        silent: bool = False,
        tls: tuple[Path, Path] | None = None,
        records: Mapping[str, Mapping[str, Sequence[str]]] = DNSMASQ_RECORDS,
    ) -> None:
        self.host = host
        self.delay = delay
        self.silent = silent
        self.queries: Counter[str] = Counter()  # transport -> queries received
        self._records = dict(records)
        self._records[BIG_TXT] = {"TXT": [" ".join(f'"{s}"' for s in BIG_TXT_STRINGS)]}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._tls = self._server_context(tls) if tls else None
        self._udp, self._tcp = self._bind(port)
        self.port = int(self._tcp.getsockname()[1])

    @staticmethod
    def _server_context(files: tuple[Path, Path]) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files[0], files[1])
        return context

    def _bind(self, port: int | None) -> tuple[socket.socket | None, socket.socket]:
        port = port or free_udp_tcp_port(self.host)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((self.host, port))
        tcp.listen(16)
        tcp.settimeout(_POLL_S)
        if self._tls is not None:
            return None, tcp
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((self.host, port))
        udp.settimeout(_POLL_S)
        return udp, tcp

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> ScriptedDnsServer:
        loops = [self._accept_loop] + ([self._udp_loop] if self._udp is not None else [])
        for loop in loops:
            self._spawn(loop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every loop and handler (each wakes within 0.1 s) and close the sockets."""
        self._stop.set()
        for thread in list(self._threads):
            thread.join(5)
        if self._udp is not None:
            self._udp.close()
        self._tcp.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    # -- answering ---------------------------------------------------------------------------

    def answer(self, wire: bytes, limit: int | None) -> bytes | None:
        """The response to one query in wire form (truncated above ``limit``), or None."""
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - garbage is ignored like a real server would
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if name not in self._records:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response.to_wire()
        rtype = dns.rdatatype.to_text(question.rdtype)
        texts = self._records[name].get(rtype, [])
        if texts:
            response.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", rtype, texts))
        out = response.to_wire()
        if limit is not None and len(out) > limit:
            response.answer.clear()
            response.flags |= dns.flags.TC
            out = response.to_wire()
        return out

    def _wait_delay(self) -> bool:
        """Wait the configured delay; False when the server is stopping or silent."""
        if self.silent:
            self._stop.wait()  # hold the query (and a TCP connection) until the server stops
            return False
        return not self._stop.wait(self.delay) if self.delay > 0 else not self._stop.is_set()

    def _udp_loop(self) -> None:
        assert self._udp is not None
        while not self._stop.is_set():
            try:
                wire, peer = self._udp.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            self.queries["udp"] += 1
            self._spawn(self._udp_reply, wire, peer)

    def _udp_reply(self, wire: bytes, peer: tuple[str, int]) -> None:
        out = self.answer(wire, UDP_LIMIT) if self._wait_delay() else None
        if out is not None and self._udp is not None:
            try:
                self._udp.sendto(out, peer)
            except OSError:
                pass  # stopped meanwhile

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._tcp.accept()
            except (TimeoutError, OSError):
                continue
            self._spawn(self._serve_stream, conn)

    def _serve_stream(self, conn: socket.socket) -> None:
        transport = "tls" if self._tls is not None else "tcp"
        try:
            conn.settimeout(2.0)
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            while not self._stop.is_set():
                wire = _read_frame(conn)
                if wire is None:
                    return
                self.queries[transport] += 1
                out = self.answer(wire, None) if self._wait_delay() else None
                if out is None:
                    return
                conn.sendall(struct.pack("!H", len(out)) + out)
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()


def _read_frame(conn: socket.socket) -> bytes | None:
    """One length-prefixed DNS message from a stream, or None at end of stream."""
    header = _read_exactly(conn, 2)
    if header is None:
        return None
    return _read_exactly(conn, struct.unpack("!H", header)[0])


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
