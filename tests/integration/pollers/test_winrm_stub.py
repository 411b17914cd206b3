"""The WinRM transport and CLI end to end, against OUR OWN STUB SERVER, NOT WINDOWS.

No Windows host exists here. :class:`WsmanStub` is a tiny WS-Management endpoint on
127.0.0.1 written for these tests: it authenticates like WinRM does (Basic, or NTLM through
pyspnego's acceptor with every message then sealed in a ``multipart/encrypted`` body, as
MS-WSMV 2.2.9.1 requires over plain HTTP), reads each envelope, and answers the documents of
``tests/unit/pollers/winrm_docs`` (modeled on Windows' answers, not captured from one).
What this proves: the real transport (pywinrm under :class:`HttpTransport`) posts the
envelopes netgauge builds, pages through a PullResponse, gets SOAP faults back from HTTP
500, seals and unseals NTLM messages, checks certificates, and the CLI maps all of it to its
output and exit codes. What it cannot prove: that a real Windows answers the same way.

Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import struct
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from netgauge.pollers.readings import DeviceReading, DeviceState
from netgauge.pollers.winrm import Auth, HttpTransport, WinrmPoller, endpoint_url
from netgauge.pollers.winrm_wsman import (
    ACTION_ENUMERATE,
    NS_ADDRESSING,
    NS_ENUMERATION,
    NS_SOAP,
    NS_WSMAN,
)
from tests.conftest import free_port
from tests.lab.http import make_certificate

DOCS = Path(__file__).resolve().parents[2] / "unit" / "pollers" / "winrm_docs"
DOMAIN, USER, PASSWORD = "WIN-STUB", "alice", "S3cret-pw!"
NETIF_CONTEXT = "uuid:C19F8F6A-6A43-45A2-AEEE-A9110A448493"
BOUNDARY = b"--Encrypted Boundary"
SPNEGO_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
CIMV2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/*"
ROOT_WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/wmi/*"


def doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def windows_answers() -> dict[str, tuple[int, str]]:
    """What the stub answers, by the WQL's class (Enumerate) or the context (Pull)."""
    return {
        "Win32_OperatingSystem": (200, doc("os_enumerate.xml")),
        "Win32_PerfFormattedData_PerfOS_Processor": (200, doc("processor_enumerate.xml")),
        "Win32_LogicalDisk": (200, doc("disks_enumerate.xml")),
        "Win32_PerfFormattedData_Tcpip_NetworkInterface": (200, doc("netif_enumerate.xml")),
        NETIF_CONTEXT: (200, doc("netif_pull.xml")),
        "MSAcpi_ThermalZoneTemperature": (200, doc("thermal_enumerate.xml")),
    }


def q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass
class Seen:
    """One SOAP request the stub read (after authentication and unsealing)."""

    action: str
    resource: str
    what: str  # the WQL of an Enumerate, the context of a Pull
    to: str
    content_type: str
    raw: bytes  # the body as it travelled


class WsmanStub:
    """Our own WS-Management stub on 127.0.0.1 (see the module docstring); not Windows."""

    def __init__(self, *, auth: str, tls: ssl.SSLContext | None = None) -> None:
        self.auth = auth
        self.answers = windows_answers()
        self.seen: list[Seen] = []
        self.refused = 0  # requests answered 401
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # NTLM authenticates the connection: keep it
            timeout = 10

            def setup(self) -> None:
                super().setup()
                self.ntlm: Any = None  # this connection's NTLM context (pyspnego)
                self.authenticated = False

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/wsman":
                    self.reply(404, b"", "text/plain")
                elif stub.auth == "basic":
                    self.basic(raw)
                else:
                    self.negotiate(raw)

            def basic(self, raw: bytes) -> None:
                token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {token}":
                    stub.refused += 1
                    self.reply(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="WSMAN"'})
                    return
                status, text = stub.answer(raw, self.headers.get("Content-Type", ""))
                self.reply(status, text.encode(), "application/soap+xml;charset=UTF-8")

            def negotiate(self, raw: bytes) -> None:
                import spnego
                from spnego.exceptions import SpnegoError

                header = self.headers.get("Authorization", "")
                scheme, _, token_text = header.partition(" ")
                if scheme in ("Negotiate", "NTLM") and token_text:
                    token = base64.b64decode(token_text)
                    if struct.unpack("<I", token[8:12])[0] == 1:  # NEGOTIATE_MESSAGE
                        self.ntlm = spnego.server(protocol="ntlm")
                        challenge = base64.b64encode(self.ntlm.step(token) or b"").decode()
                        self.reply(
                            401, b"", "text/plain", {"WWW-Authenticate": f"{scheme} {challenge}"}
                        )
                        return
                    try:
                        assert self.ntlm is not None
                        self.ntlm.step(token)  # AUTHENTICATE_MESSAGE
                        self.authenticated = self.ntlm.complete
                    except SpnegoError:
                        self.authenticated = False
                if not self.authenticated:
                    stub.refused += 1
                    self.reply(401, b"", "text/plain", {"WWW-Authenticate": "Negotiate"})
                    return
                if not raw:  # pywinrm's empty POST that sets up the sealing
                    self.reply(200, b"", "application/soap+xml;charset=UTF-8")
                    return
                content_type = self.headers.get("Content-Type", "")
                if not content_type.startswith("multipart/encrypted"):
                    self.reply(400, b"unencrypted message refused", "text/plain")
                    return
                status, text = stub.answer(self.unseal(raw), content_type, raw)
                self.reply(
                    status,
                    self.seal(text.encode()),
                    f'multipart/encrypted;protocol="{SPNEGO_ENCRYPTED}";'
                    'boundary="Encrypted Boundary"',
                )

            def unseal(self, raw: bytes) -> bytes:
                assert self.ntlm is not None
                _, head, payload = raw.split(BOUNDARY + b"\r\n", 2)
                length = int(head.split(b"Length=")[1].strip())
                payload = payload.removesuffix(BOUNDARY + b"--\r\n")
                payload = payload.removeprefix(b"\tContent-Type: application/octet-stream\r\n")
                size = struct.unpack("<i", payload[:4])[0]
                plain = self.ntlm.unwrap(payload[4 : 4 + size] + payload[4 + size :]).data
                assert len(plain) == length
                return bytes(plain)

            def seal(self, plain: bytes) -> bytes:
                assert self.ntlm is not None
                wrapped: bytes = self.ntlm.wrap(plain, encrypt=True).data
                signature, sealed = wrapped[:16], wrapped[16:]
                return (
                    BOUNDARY + b"\r\n"
                    b"\tContent-Type: " + SPNEGO_ENCRYPTED.encode() + b"\r\n"
                    b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
                    + str(len(plain)).encode()
                    + b"\r\n"
                    + BOUNDARY
                    + b"\r\n\tContent-Type: application/octet-stream\r\n"
                    + struct.pack("<i", len(signature))
                    + signature
                    + sealed
                    + BOUNDARY
                    + b"--\r\n"
                )

            def reply(
                self,
                status: int,
                body: bytes,
                content_type: str,
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that refuses our certificate: the test checks the client

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, body: bytes, content_type: str, raw: bytes | None = None) -> tuple[int, str]:
        envelope = ET.fromstring(body)
        header = envelope.find(q(NS_SOAP, "Header"))
        assert header is not None
        action = header.findtext(q(NS_ADDRESSING, "Action")) or ""
        if action == ACTION_ENUMERATE:
            what = envelope.findtext(f".//{q(NS_WSMAN, 'Filter')}") or ""
            key = what.split(" FROM ")[1].split()[0]
        else:
            what = envelope.findtext(f".//{q(NS_ENUMERATION, 'EnumerationContext')}") or ""
            key = what
        self.seen.append(
            Seen(
                action,
                header.findtext(q(NS_WSMAN, "ResourceURI")) or "",
                what,
                header.findtext(q(NS_ADDRESSING, "To")) or "",
                content_type,
                raw if raw is not None else body,
            )
        )
        return self.answers[key]

    def __enter__(self) -> WsmanStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def ntlm_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyspnego's NTLM acceptor reads the accounts it knows from ``NTLM_USER_FILE``."""
    users = tmp_path / "ntlm-users"
    users.write_text(f"{DOMAIN}:{USER}:{PASSWORD}\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a self-signed certificate for 127.0.0.1, and that cert."""
    certificate = make_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    return context, certificate.cert


def values(reading: DeviceReading) -> dict[str, float]:
    return {metric.series(): metric.value for metric in reading.metrics}


async def poll(
    url: str,
    user: str,
    password: str,
    auth: Auth,
    *,
    ca_file: str | None = None,
    verify: bool = True,
) -> DeviceReading:
    transport = HttpTransport(
        url, user, password, auth=auth, ca_file=ca_file, verify=verify, timeout_s=10
    )
    try:
        return await WinrmPoller(operation_timeout_s=5).poll("win-stub", transport)
    finally:
        transport.close()


def assert_every_metric(reading: DeviceReading) -> None:
    assert reading.state is DeviceState.ONLINE, reading.errors
    got = values(reading)
    assert got["cpu_percent"] == 17.0
    assert got["memory_percent"] == pytest.approx(75.0)
    assert got["uptime_seconds"] == 181800.0
    assert got['disk_percent{mount="D:"}'] == pytest.approx(25.0)
    assert got['net_out_bytes_per_sec{interface="vmxnet3 Ethernet Adapter _2"}'] == 4096.0
    assert got['net_in_bytes_per_sec{interface="Microsoft Hyper-V Network Adapter"}'] == 0.0


async def test_basic_over_http_posts_the_envelopes_and_pages_through_a_pull() -> None:
    with WsmanStub(auth="basic") as stub:
        url = endpoint_url("127.0.0.1", stub.port, https=False)
        reading = await poll(url, USER, PASSWORD, "basic")
    assert_every_metric(reading)
    assert [(s.action.rsplit("/", 1)[1], s.resource) for s in stub.seen] == [
        ("Enumerate", CIMV2),
        ("Enumerate", CIMV2),
        ("Enumerate", CIMV2),
        ("Enumerate", CIMV2),
        ("Pull", CIMV2),
        ("Enumerate", ROOT_WMI),
    ]
    assert stub.seen[4].what == NETIF_CONTEXT  # the context of the interfaces' first page
    assert stub.seen[-1].what == "SELECT * FROM MSAcpi_ThermalZoneTemperature"
    assert {s.to for s in stub.seen} == {url}
    assert {s.content_type for s in stub.seen} == {"application/soap+xml;charset=UTF-8"}


async def test_ntlm_over_http_seals_every_message_and_reads_a_fault_from_http_500(
    ntlm_users: None,
) -> None:
    with WsmanStub(auth="ntlm") as stub:
        stub.answers["MSAcpi_ThermalZoneTemperature"] = (500, doc("thermal_access_denied.xml"))
        url = endpoint_url("127.0.0.1", stub.port, https=False)
        reading = await poll(url, f"{DOMAIN}\\{USER}", PASSWORD, "ntlm")
    assert_every_metric(reading)
    assert not any(m.name == "temperature_celsius" for m in reading.metrics)
    [error] = reading.errors
    assert error.startswith("temperature_celsius: access denied (MSAcpi_ThermalZoneTemperature")
    assert len(stub.seen) == 6
    for seen in stub.seen:  # nothing of the envelopes travelled in clear
        assert seen.content_type.startswith("multipart/encrypted")
        assert b"Envelope" not in seen.raw and b"SELECT" not in seen.raw


async def test_refused_credentials_are_degraded_with_the_reason(ntlm_users: None) -> None:
    with WsmanStub(auth="ntlm") as stub:
        url = endpoint_url("127.0.0.1", stub.port, https=False)
        reading = await poll(url, f"{DOMAIN}\\{USER}", "wrong", "ntlm")
    assert reading.state is DeviceState.DEGRADED
    assert reading.metrics == ()
    assert reading.errors == (f"credentials refused by {url} (HTTP 401, ntlm authentication)",)
    assert stub.seen == []


async def test_an_https_certificate_is_checked_against_the_ca_file(
    tls: tuple[ssl.SSLContext, Path],
) -> None:
    context, cert = tls
    with WsmanStub(auth="basic", tls=context) as stub:
        url = endpoint_url("127.0.0.1", stub.port, https=True)
        trusted = await poll(url, USER, PASSWORD, "basic", ca_file=str(cert))
        unknown = await poll(url, USER, PASSWORD, "basic")
        accepted = await poll(url, USER, PASSWORD, "basic", verify=False)
    assert_every_metric(trusted)
    assert_every_metric(accepted)
    assert unknown.state is DeviceState.DEGRADED and unknown.metrics == ()
    [error] = unknown.errors
    assert error.startswith(f"TLS with {url} failed: certificate verify failed"), error


async def test_a_closed_port_is_offline() -> None:
    url = endpoint_url("127.0.0.1", free_port(), https=False)
    reading = await poll(url, USER, PASSWORD, "basic")
    assert reading.state is DeviceState.OFFLINE
    assert reading.errors == (f"cannot reach {url}: Connection refused",)


# --- the CLI ---------------------------------------------------------------------------------


def run_cli(*args: str, password: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETGAUGE_WINRM")}
    if password is not None:
        env["NETGAUGE_WINRM_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "netgauge", "poll", "winrm", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_cli_reads_a_host_over_http_with_ntlm(ntlm_users: None) -> None:
    with WsmanStub(auth="ntlm") as stub:
        target = f"127.0.0.1:{stub.port}"
        done = run_cli(target, "--http", "--user", f"{DOMAIN}\\{USER}", "--json", password=PASSWORD)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert (row["device"], row["status"], row["errors"]) == (target, "online", [])
    assert {m["name"] for m in row["metrics"]} >= {"cpu_percent", "disk_percent", "uptime_seconds"}
    assert PASSWORD not in done.stdout + done.stderr  # the secret is never printed


def test_the_cli_checks_the_certificate_and_exits_by_what_it_read(
    tls: tuple[ssl.SSLContext, Path], tmp_path: Path
) -> None:
    context, cert = tls
    secret = tmp_path / "password"
    secret.write_text(f"{PASSWORD}\n", encoding="utf-8")
    with WsmanStub(auth="basic", tls=context) as stub:
        target = f"127.0.0.1:{stub.port}"
        common = (target, "--user", USER, "--auth", "basic")
        trusted = run_cli(*common, "--ca-file", str(cert), password=PASSWORD)
        unknown = run_cli(*common, password=PASSWORD)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETGAUGE_WINRM")}
        from_file = subprocess.run(
            [sys.executable, "-m", "netgauge", "poll", "winrm", *common, "--insecure"],
            capture_output=True,
            text=True,
            env={**env, "NETGAUGE_WINRM_PASSWORD_FILE": str(secret)},
            timeout=60,
        )
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.startswith(f"{target}: online\n")
    assert "cpu_percent" in trusted.stdout
    assert unknown.returncode == 1  # answered, but nothing could be read
    assert unknown.stdout.splitlines()[0] == f"{target}: degraded"
    assert "certificate verify failed" in unknown.stdout
    assert from_file.returncode == 0, from_file.stderr


def test_the_cli_reports_a_closed_port_offline_in_one_line() -> None:
    target = f"127.0.0.1:{free_port()}"
    done = run_cli(target, "--user", USER, password=PASSWORD)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{target}: offline",
        f"  ! cannot reach https://{target}/wsman: Connection refused",
    ]
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--user", USER], None, "set NETGAUGE_WINRM_PASSWORD (or NETGAUGE_WINRM_PASSWORD_FILE)"),
        (["--user", USER, "--http", "--auth", "basic"], "x", "would send the password in clear"),
        (["--user", USER, "--auth", "kerberos"], "x", "invalid --auth 'kerberos'"),
        (["--user", USER, "--insecure", "--ca-file", "/etc/hostname"], "x", "exclude each other"),
        (["--user", USER, "--http", "--insecure"], "x", "apply to --https only"),
        (["--user", USER, "--timeout", "0"], "x", "--timeout must be in (0, 300]"),
        ([], "x", "Missing option '--user'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], password: str | None, message: str
) -> None:
    done = run_cli("127.0.0.1:1", *args, password=password)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("netgauge poll winrm: error: ") and message in line, line
    assert done.stdout == ""


@pytest.mark.parametrize("host", ["not a host!!", "999.1.1.1", "127.0.0.1:99999", "[::1]:x"])
def test_a_bad_host_is_refused_before_any_request(host: str) -> None:
    done = run_cli(host, "--user", USER, password="x")
    assert done.returncode == 2
    assert done.stderr.startswith("netgauge poll winrm: error: invalid ")
