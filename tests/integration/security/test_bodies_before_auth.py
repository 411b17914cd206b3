"""Issue: FastAPI read and parsed a request body before any dependency ran, so an
unauthenticated 31 MB body cost ~600 MB of memory and a stall before its 401. Now the edge
authenticates first: the answer comes without the body being read, and each route has a
body limit of its own (an agent's 32 MiB only with an agent token)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.security.conftest import Served

pytestmark = pytest.mark.network
BODY = 31 * 1000 * 1000


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory, as the kernel counts it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def post_unread(served: Served, path: str, headers: str = "") -> str:
    """POST a 31 MB body to ``path`` while reading the answer: its status line (within
    10 s; the body keeps going in a thread until the server closes the connection)."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: netgauge\r\nContent-Type: application/json\r\n"
        f"Content-Length: {BODY}\r\n{headers}\r\n"
    )
    # valid JSON of many small objects, as expensive to parse as such a body gets: read and
    # parsed, it took the server's peak memory up by 741 MiB and 0.9 s
    chunk = b'{"a":1},' * (128 * 1024)
    last = b'{"a":1}'
    chunks = (BODY - 2 - len(last)) // len(chunk)
    tail = last + b" " * (BODY - 2 - len(last) - chunks * len(chunk)) + b"]"

    def pour() -> None:
        try:
            sock.sendall(head.encode() + b"[")
            for _ in range(chunks):
                sock.sendall(chunk)
            sock.sendall(tail)
        except OSError:
            pass  # the server answered and closed: what it should do

    sender = threading.Thread(target=pour, daemon=True)
    sender.start()
    try:
        answer = sock.recv(4096).decode(errors="replace")
    finally:
        sock.close()
        sender.join(15)
    return answer.split("\r\n", 1)[0]


def test_an_unauthenticated_body_is_refused_unread(netgauge_serve: Callable[..., Served]) -> None:
    served = netgauge_serve()
    token = served.admin_token()
    before = peak_rss_kib(served.pid)
    for path in ("/api/v1/targets", "/api/v1/jobs", "/api/v1/ingest", "/api/v1/users"):
        assert post_unread(served, path) == "HTTP/1.1 401 Unauthorized", path
    grown_mib = (peak_rss_kib(served.pid) - before) / 1024
    assert grown_mib < 48, f"the server's peak memory grew by {grown_mib:.0f} MiB"
    # a forged or unknown token is no better than none
    assert post_unread(served, "/api/v1/ingest", "Authorization: Bearer made-up\r\n").startswith(
        "HTTP/1.1 401"
    )
    # open routes take small bodies only; authenticated ones a megabyte
    assert post_unread(served, "/api/v1/auth/login") == "HTTP/1.1 413 Request Entity Too Large"
    bearer = f"Authorization: Bearer {token}\r\n"
    assert post_unread(served, "/api/v1/targets", bearer).startswith("HTTP/1.1 413")
    with served.client(headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.get("/api/v1/targets").status_code == 200  # and it still serves


def test_a_viewer_cannot_make_the_server_read_a_body_either(
    netgauge_serve: Callable[..., Served],
) -> None:
    served = netgauge_serve()
    with served.client(headers={"Authorization": f"Bearer {served.admin_token()}"}) as http:
        viewer = http.post("/api/v1/tokens", json={"name": "v", "role": "viewer"}).json()["token"]
    before = peak_rss_kib(served.pid)
    status = post_unread(served, "/api/v1/targets", f"Authorization: Bearer {viewer}\r\n")
    assert status == "HTTP/1.1 403 Forbidden"
    assert (peak_rss_kib(served.pid) - before) / 1024 < 48
