"""The sender against a small ingest server on 127.0.0.1 that implements the protocol
(bearer token, at most 500 batches in ascending seq, accepted_through, a seq accepted
once): outages lose nothing and resend in order, a lost answer is resent and stored once,
partial and stale acknowledgements, 401 stops without dropping, 413/422 back off, and the
``netgauge agent`` command end to end."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from netgauge import __version__
from netgauge.agent.sender import Backoff, Outcome, Sender
from netgauge.agent.spool import Spool
from netgauge.pollers.readings import Metric
from tests.conftest import free_port, wait_for

TOKEN = "ng-agent-test-token"
CPU = Metric("cpu_percent", 5.0)


class IngestServer:
    """The server side of the protocol, in a thread; what it stored is inspectable.

    ``script`` holds answers for the next requests (a status, or "store-then-hang-up": the
    batches are stored and the connection dropped without an answer); ``accept_at_most``
    stores only the first N new batches of a request (a partial acknowledgement).
    """

    def __init__(self, port: int = 0) -> None:
        self.tokens = {TOKEN: "host-a"}
        self.stored: list[int] = []  # every seq stored, in order: each must be there once
        self.accepted_through = 0
        self.requests: list[dict[str, Any]] = []
        self.script: list[int | str] = []
        self.accept_at_most: int | None = None
        self.ahead_to: int | None = None  # answer accepted_through this high once
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> IngestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = server.answer(self.path, self.headers.get("Authorization"), body)
                if status == 0:  # hang up without an answer
                    self.close_connection = True
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def answer(self, path: str, auth: str | None, raw: bytes) -> tuple[int, Any]:
        with self.lock:
            if path != "/api/v1/ingest":
                return 404, {"detail": "Not Found"}
            device = self.tokens.get((auth or "").removeprefix("Bearer "))
            if device is None:
                return 401, {"detail": "unknown or revoked token"}
            body = json.loads(raw)
            self.requests.append(body)
            seqs = [batch["seq"] for batch in body["batches"]]
            if len(seqs) > 500 or seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
                return 422, {"detail": "batches: at most 500, ascending seq"}
            scripted = self.script.pop(0) if self.script else 200
            if isinstance(scripted, int) and scripted != 200:
                return scripted, {"detail": f"scripted {scripted}"}
            self._store(body["batches"])
            if scripted == "store-then-hang-up":
                return 0, None
            through = self.accepted_through
            if self.ahead_to is not None:
                through, self.ahead_to = self.ahead_to, None
                self.accepted_through = max(self.accepted_through, through)
            return 200, {
                "device": device,
                "accepted_through": through,
                "stored": len(seqs),
                "refused": [],
            }

    def _store(self, batches: list[dict[str, Any]]) -> None:
        fresh = [b for b in batches if b["seq"] > self.accepted_through]
        if self.accept_at_most is not None:
            fresh = fresh[: self.accept_at_most]
        for batch in fresh:  # the server ignores a seq it has accepted: none twice
            self.stored.append(batch["seq"])
            self.accepted_through = batch["seq"]


@pytest.fixture
def server() -> Iterator[IngestServer]:
    with IngestServer() as running:
        yield running


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool") as opened:
        yield opened


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as opened:
        yield opened


def sender_for(spool: Spool, url: str, client: httpx.AsyncClient, **kwargs: Any) -> Sender:
    kwargs.setdefault("backoff", Backoff(rng=lambda: 1.0))
    return Sender(spool, url, TOKEN, client, hostname="host-a.example", **kwargs)


def fill(spool: Spool, count: int) -> list[int]:
    return [spool.append(n, [CPU]).seq for n in range(count)]


def pending(spool: Spool) -> list[int]:
    return [batch.seq for batch in spool.pending(10_000)]


async def test_pending_batches_are_sent_in_order_and_acknowledged(
    server: IngestServer, spool: Spool, client: httpx.AsyncClient
) -> None:
    fill(spool, 3)
    sender = sender_for(spool, server.url, client)
    assert await sender.run_once() is Outcome.DRAINED
    assert server.stored == [1, 2, 3]
    assert pending(spool) == []
    assert sender.device == "host-a"
    (request,) = server.requests
    assert request["agent"] == {"version": __version__, "hostname": "host-a.example"}
    assert request["batches"][0] == {
        "seq": 1,
        "ts_ns": 0,
        "metrics": [{"name": "cpu_percent", "value": 5.0, "labels": {}}],
    }
    assert await sender.run_once() is Outcome.DRAINED  # nothing pending: no request
    assert len(server.requests) == 1


async def test_at_most_500_batches_per_request(
    server: IngestServer, spool: Spool, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # 1,203 appends: durability not tested here
    fill(spool, 1_203)
    assert await sender_for(spool, server.url, client).run_once() is Outcome.DRAINED
    assert [len(r["batches"]) for r in server.requests] == [500, 500, 203]
    assert server.stored == list(range(1, 1_204))


async def test_an_outage_loses_nothing_and_everything_is_resent_in_order(
    spool: Spool, client: httpx.AsyncClient
) -> None:
    port = free_port()  # nothing listens there yet
    sender = sender_for(spool, f"http://127.0.0.1:{port}", client)
    fill(spool, 2)
    assert await sender.run_once() is Outcome.RETRY
    assert sender.retry_in() > 0
    fill(spool, 2)  # collection goes on during the outage
    assert await sender.run_once() is Outcome.RETRY
    assert pending(spool) == [1, 2, 3, 4]
    with IngestServer(port) as server:
        assert await sender.run_once() is Outcome.DRAINED
        assert server.stored == [1, 2, 3, 4]
    assert sender.retry_in() == 0
    assert pending(spool) == []


async def test_an_answer_lost_after_storing_is_resent_and_stored_once(
    server: IngestServer, spool: Spool, client: httpx.AsyncClient
) -> None:
    fill(spool, 3)
    server.script = ["store-then-hang-up"]
    sender = sender_for(spool, server.url, client)
    assert await sender.run_once() is Outcome.RETRY
    assert pending(spool) == [1, 2, 3]  # no answer: nothing acknowledged
    fill(spool, 1)
    assert await sender.run_once() is Outcome.DRAINED
    assert [b["seq"] for b in server.requests[1]["batches"]] == [1, 2, 3, 4]  # resent
    assert server.stored == [1, 2, 3, 4]  # ...and each stored once


async def test_a_partial_acknowledgement_resumes_after_what_was_accepted(
    server: IngestServer, spool: Spool, client: httpx.AsyncClient
) -> None:
    fill(spool, 5)
    server.accept_at_most = 2
    assert await sender_for(spool, server.url, client).run_once() is Outcome.DRAINED
    assert [[b["seq"] for b in r["batches"]] for r in server.requests] == [
        [1, 2, 3, 4, 5],
        [3, 4, 5],
        [5],
    ]
    assert server.stored == [1, 2, 3, 4, 5]


async def test_an_answer_that_acknowledges_none_of_the_request_backs_off(
    server: IngestServer, spool: Spool, client: httpx.AsyncClient
) -> None:
    fill(spool, 3)
    server.accept_at_most = 0  # answers accepted_through 0: a stale acknowledgement
    sender = sender_for(spool, server.url, client)
    assert await sender.run_once() is Outcome.RETRY
    assert pending(spool) == [1, 2, 3]
    server.accept_at_most = None
    assert await sender.run_once() is Outcome.DRAINED
    assert server.stored == [1, 2, 3]


async def test_a_server_ahead_of_the_spool_moves_the_seqs_past_it(
    server: IngestServer,
    tmp_path: Path,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Spool(tmp_path / "old") as old:
        fill(old, 3)
        assert await sender_for(old, server.url, client).run_once() is Outcome.DRAINED
    with Spool(tmp_path / "reset") as reset:  # the spool directory was lost: seqs from 1
        fill(reset, 2)
        sender = sender_for(reset, server.url, client)
        with caplog.at_level(logging.WARNING):
            assert await sender.run_once() is Outcome.DRAINED
        assert "beyond the 2 this agent sent" in caplog.text
        assert fill(reset, 1) == [4]  # not a seq the server would ignore
        assert await sender.run_once() is Outcome.DRAINED
    assert server.stored == [1, 2, 3, 4]


async def test_a_refused_token_stops_without_dropping_anything(
    server: IngestServer, spool: Spool, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    fill(spool, 2)
    server.tokens = {}  # revoked
    with caplog.at_level(logging.ERROR):
        outcome = await sender_for(spool, server.url, client).run_once()
    assert outcome is Outcome.UNAUTHORIZED
    assert "refused the token (401)" in caplog.text and TOKEN not in caplog.text
    assert pending(spool) == [1, 2]
    stop, wake = asyncio.Event(), asyncio.Event()
    async with asyncio.timeout(10):  # the loop stops too
        assert await sender_for(spool, server.url, client).run(stop, wake) is Outcome.UNAUTHORIZED


async def test_a_malformed_request_is_logged_kept_and_backed_off(
    server: IngestServer, spool: Spool, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    fill(spool, 2)
    server.script = [422]
    sender = sender_for(spool, server.url, client)
    with caplog.at_level(logging.ERROR):
        assert await sender.run_once() is Outcome.REFUSED
    assert "scripted 422" in caplog.text  # the server's detail
    assert pending(spool) == [1, 2] and sender.retry_in() > 0


async def test_413_halves_the_batches_per_request(
    server: IngestServer, spool: Spool, client: httpx.AsyncClient
) -> None:
    fill(spool, 8)
    server.script = [413]
    sender = sender_for(spool, server.url, client, max_batches=8)
    assert await sender.run_once() is Outcome.REFUSED
    assert await sender.run_once() is Outcome.DRAINED
    assert [len(r["batches"]) for r in server.requests] == [8, 4, 4]
    assert server.stored == list(range(1, 9))


async def test_server_errors_and_odd_answers_are_transient(
    server: IngestServer, spool: Spool, client: httpx.AsyncClient
) -> None:
    fill(spool, 1)
    sender = sender_for(spool, server.url, client)
    for status in (500, 503, 429):
        server.script = [status]
        assert await sender.run_once() is Outcome.RETRY
    wrong_path = sender_for(spool, server.url + "/nope", client)
    assert await wrong_path.run_once() is Outcome.REFUSED  # 404: not the ingest endpoint
    assert pending(spool) == [1] and server.stored == []
    assert await sender.run_once() is Outcome.DRAINED


def test_backoff_doubles_from_1_s_to_60_s_with_jitter() -> None:
    top = Backoff(rng=lambda: 1.0)
    assert [top.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    bottom = Backoff(rng=lambda: 0.0)
    assert [bottom.next_delay() for _ in range(3)] == [0.5, 1, 2]
    bottom.reset()
    assert bottom.next_delay() == 0.5


async def test_the_loop_sends_when_woken_and_after_an_outage(
    spool: Spool, client: httpx.AsyncClient
) -> None:
    port = free_port()
    backoff = Backoff(initial_s=0.02, maximum_s=0.1)
    sender = sender_for(spool, f"http://127.0.0.1:{port}", client, backoff=backoff)
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.create_task(sender.run(stop, wake))
    try:
        fill(spool, 2)
        wake.set()
        async with asyncio.timeout(10):
            while backoff.failures < 2:  # it keeps trying while the server is down
                await asyncio.sleep(0.01)
        with IngestServer(port) as server:
            async with asyncio.timeout(10):
                while server.stored != [1, 2]:
                    await asyncio.sleep(0.01)
                fill(spool, 1)
                wake.set()
                while server.stored != [1, 2, 3]:
                    await asyncio.sleep(0.01)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            assert await loop is Outcome.DRAINED


# -- the command -------------------------------------------------------------------------


def agent_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("NETGAUGE_AGENT_TOKEN", None)
    return env


def agent_args(server_url: str, tmp_path: Path, *extra: str) -> list[str]:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    return [
        sys.executable,
        "-m",
        "netgauge",
        "agent",
        "--server",
        server_url,
        "--token-file",
        str(token_file),
        "--spool-dir",
        str(tmp_path / "spool"),
        "--rate-interval",
        "0.5",
        *extra,
    ]


def test_agent_once_delivers_one_full_batch(server: IngestServer, tmp_path: Path) -> None:
    done = subprocess.run(
        agent_args(server.url, tmp_path, "--once"),
        capture_output=True,
        text=True,
        timeout=60,
        env=agent_env(),
    )
    assert done.returncode == 0, done.stderr
    assert server.stored == [1]
    names = {m["name"] for m in server.requests[0]["batches"][0]["metrics"]}
    assert {"cpu_percent", "memory_percent", "uptime_seconds", "net_in_bytes_per_sec"} <= names
    assert TOKEN not in done.stderr + done.stdout


def test_agent_once_exits_1_and_keeps_the_spool_when_not_delivered(
    server: IngestServer, tmp_path: Path
) -> None:
    server.tokens = {}
    done = subprocess.run(
        agent_args(server.url, tmp_path, "--once"),
        capture_output=True,
        text=True,
        timeout=60,
        env=agent_env(),
    )
    assert done.returncode == 1, done.stderr
    assert "refused the token (401)" in done.stderr
    server.tokens = {TOKEN: "host-a"}  # the token is valid again: the kept batch goes first
    done = subprocess.run(
        agent_args(server.url, tmp_path, "--once"),
        capture_output=True,
        text=True,
        timeout=60,
        env=agent_env(),
    )
    assert done.returncode == 0, done.stderr
    assert server.stored == [1, 2]


def test_agent_stops_cleanly_on_sigterm(server: IngestServer, tmp_path: Path) -> None:
    agent = subprocess.Popen(
        agent_args(server.url, tmp_path, "--interval", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=agent_env(),
    )
    try:
        wait_for(lambda: len(server.stored) >= 2, timeout=30, what="two batches delivered")
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=15)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.communicate(timeout=10)
    assert agent.returncode == 0, stderr
    assert server.stored == list(range(1, len(server.stored) + 1))
    assert "agent stopped" in stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--server", "ftp://x"], "invalid --server"),
        (["--server", "http://127.0.0.1:1", "--interval", "0"], "--interval must be"),
        (["--server", "http://127.0.0.1:1"], "no token"),
    ],
)
def test_agent_bad_input_is_one_line_and_exit_2(extra: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "netgauge", "agent", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env=agent_env(),
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("netgauge agent: error: ") and message in line
