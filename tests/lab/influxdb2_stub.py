"""A stand-in for the InfluxDB 2 HTTP API on loopback: no InfluxDB 2 server is installable here.

Debian 12 ships InfluxDB 1.6 (no v2 API, no Flux) and PyPI has clients only, so the Flux side
of ``InfluxV2Store`` is tested against this stub, which answers what a test told it to:

* ``POST /api/v2/query``: the JSON body's ``query`` must be, character for character, one the
  test registered in :attr:`InfluxDB2Stub.queries` (else 400 with InfluxDB's JSON error shape,
  and the query is kept in :attr:`unexpected` for the failure message); the answer is the
  registered status and body (annotated CSV, or an error).
* ``POST /api/v2/write``: the next reply of :attr:`write_replies` (204 when there is none).
* ``GET /health``: :attr:`health_reply`.

Every request needs ``Authorization: Token <token>`` (else 401, as InfluxDB answers) and is
recorded in :attr:`requests` with its body (gunzipped when sent gzip-encoded). It proves the
store sends the queries it means to and reads the documented answer shapes; it proves nothing
about what a real InfluxDB 2 answers to those queries. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

CSV = "text/csv; charset=utf-8"
JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Reply:
    """What the stub answers: status, body, content type and extra headers."""

    status: int = 200
    body: str = ""
    content_type: str = CSV
    headers: tuple[tuple[str, str], ...] = ()


def error_reply(status: int, code: str, message: str, **extra: object) -> Reply:
    """InfluxDB 2's JSON error body: ``{"code": ..., "message": ...}`` (and e.g. ``line``)."""
    return Reply(status, json.dumps({"code": code, "message": message, **extra}), JSON)


@dataclass(frozen=True)
class Recorded:
    """One request as the stub saw it."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class InfluxDB2Stub:
    """The stub server (a context manager); ``url`` is ``http://127.0.0.1:<port>``."""

    token: str
    queries: dict[str, Reply] = field(default_factory=dict)
    write_replies: list[Reply] = field(default_factory=list)
    health_reply: Reply = Reply(200, json.dumps({"name": "influxdb", "status": "pass"}), JSON)
    requests: list[Recorded] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the stub."""
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub._handle(self, "GET")

            def do_POST(self) -> None:
                stub._handle(self, "POST")

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def queries_sent(self) -> list[str]:
        """The Flux text of every query received, in order."""
        return [json.loads(r.body)["query"] for r in self.requests if r.path == "/api/v2/query"]

    # -- serving -----------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if handler.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in handler.headers.items()}
        self.requests.append(Recorded(method, split.path, params, headers, body))
        _send(handler, self._reply(method, split.path, headers, body))

    def _reply(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if (method, path) == ("GET", "/health"):
            return self.health_reply
        if headers.get("authorization") != f"Token {self.token}":
            return error_reply(401, "unauthorized", "unauthorized access")
        if (method, path) == ("POST", "/api/v2/write"):
            return self.write_replies.pop(0) if self.write_replies else Reply(204)
        if (method, path) == ("POST", "/api/v2/query"):
            query = json.loads(body)["query"]
            if query in self.queries:
                return self.queries[query]
            self.unexpected.append(query)
            return error_reply(400, "invalid", "stub: no answer registered for this query")
        return error_reply(404, "not found", f"path not found: {path}")


def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    data = reply.body.encode()
    handler.send_response(reply.status)
    if reply.status != 204:
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(data)))
    for name, value in reply.headers:
        handler.send_header(name, value)
    handler.end_headers()
    if reply.status != 204:
        handler.wfile.write(data)
