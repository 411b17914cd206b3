"""Notification receivers for tests: a webhook (HTTP on loopback) recording what it got.
The SMTP server of the email tests is aiosmtpd, started by their fixture."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.time() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    # hundreds of notifications at once (Alertmanager sends each group on its own
    # connection): the default backlog of 5 would refuse most of them
    request_queue_size = 1024
    daemon_threads = True


@dataclass
class WebhookReceiver:
    """Records every POST; answers ``status`` (set it to 503 to play a receiver that is down)."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                code = outer.status
                if code < 300:
                    with outer._lock:
                        outer.received.append(
                            Received(self.path, dict(self.headers), body, time.time())
                        )
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def payloads(self) -> list[Any]:
        with self._lock:
            return [r.json() for r in self.received]
