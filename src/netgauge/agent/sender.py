"""Pushes the spool's batches to the server, oldest first, and acknowledges what it stored.

The ingest protocol: ``POST {server}/api/v1/ingest`` with ``Authorization: Bearer <token>``
and ``{"agent": {"version", "hostname"}, "batches": [...]}``: at most
:data:`MAX_BATCHES_PER_REQUEST` batches, in ascending seq. The answers:

==================================  ==========================================================
answer                              what the agent does
==================================  ==========================================================
200 ``{"device", "accepted_through",  every batch <= accepted_through is stored (or was
"stored", "refused"}``               already): the spool drops them; the next request starts
                                      after it. Refused samples (failed the server's checks)
                                      are logged.
401                                   the token is unknown or revoked: :attr:`Outcome.
                                      UNAUTHORIZED`, the agent stops; the spool is kept
413, 422 (any other 4xx)              the request was refused as malformed: the server's
                                      ``detail`` is logged, the spool kept, and the agent
                                      backs off (413 also halves the batches per request,
                                      for a proxy's body limit)
408, 429, 5xx, no connection,         transient: back off, keep everything
timeout, an answer that is not
the protocol's
==================================  ==========================================================

Resending is always safe: the server ignores a batch whose seq it has accepted, so a
request whose answer was lost (stored, then the connection dropped) is simply sent again
("none twice"). The backoff starts at 1 s and doubles up to 60 s; each wait is drawn
between half and all of it (jitter), so agents that lost the server together do not all
come back in the same second.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import socket
import time
from collections.abc import Callable, Sequence

import httpx

from netgauge import __version__
from netgauge.agent.spool import Batch, Spool, SpoolError

INGEST_PATH = "/api/v1/ingest"
MAX_BATCHES_PER_REQUEST = 500
REQUEST_TIMEOUT_S = 30.0
IDLE_CHECK_S = 60.0  # an idle sender looks at the spool at least this often
TRANSIENT_STATUS = frozenset({408, 429})

_log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    """How one round of sending ended."""

    DRAINED = "drained"  # everything pending is acknowledged
    RETRY = "retry"  # transient failure: try again after the backoff
    REFUSED = "refused"  # the server refused the request (413, 422...): back off
    UNAUTHORIZED = "unauthorized"  # 401: the token is unknown or revoked: stop


class Backoff:
    """Exponential backoff with jitter: 1, 2, 4... up to ``maximum`` seconds, each wait drawn
    uniformly between half and all of its step."""

    def __init__(
        self,
        initial_s: float = 1.0,
        maximum_s: float = 60.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._initial = initial_s
        self._maximum = maximum_s
        self._rng = rng
        self.failures = 0

    def next_delay(self) -> float:
        """The wait after one more failure."""
        step = min(self._maximum, self._initial * 2.0 ** min(self.failures, 62))
        self.failures += 1
        return step * (0.5 + 0.5 * self._rng())

    def reset(self) -> None:
        self.failures = 0


class Sender:
    """Sends what the spool holds; keeps the backoff between rounds.

    :meth:`run_once` sends until the spool is drained or a request fails (it never
    sleeps); :meth:`run` is the agent's loop around it. The token is only ever put in the
    request's header: it is in no log line and no repr.
    """

    def __init__(
        self,
        spool: Spool,
        server: str,
        token: str,
        client: httpx.AsyncClient,
        *,
        hostname: str | None = None,
        max_batches: int = MAX_BATCHES_PER_REQUEST,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        backoff: Backoff | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        path: str = INGEST_PATH,
        name: str = "agent",
    ) -> None:
        self._spool = spool
        self._url = server.rstrip("/") + path  # a collector sends its results elsewhere
        self._name = name  # how log lines name the sender
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client = client
        self._agent = {"version": __version__, "hostname": hostname or socket.gethostname()}
        self._max_batches = max(1, min(max_batches, MAX_BATCHES_PER_REQUEST))
        self._timeout_s = request_timeout_s
        self._backoff = backoff or Backoff()
        self._monotonic = monotonic
        self._retry_at = 0.0
        self.device: str | None = None  # the server's name for this host, once it answered

    @property
    def url(self) -> str:
        return self._url

    def retry_in(self) -> float:
        """Seconds until the backoff allows the next round (0: now)."""
        return max(0.0, self._retry_at - self._monotonic())

    async def run_once(self) -> Outcome:
        """Send pending batches, :data:`MAX_BATCHES_PER_REQUEST` at a time, until none is
        left (DRAINED) or a request fails (the outcome says how; the backoff is armed)."""
        while True:
            batches = self._spool.pending(self._max_batches)
            if not batches:
                self._delivered()
                return Outcome.DRAINED
            outcome = await self._send(batches)
            if outcome is not None:
                self._retry_at = self._monotonic() + self._failed(outcome, batches)
                return outcome

    async def run(self, stop: asyncio.Event, wake: asyncio.Event) -> Outcome:
        """Send whenever ``wake`` is set (a batch was spooled) or a backoff ends, until
        ``stop`` is set or the token is refused (UNAUTHORIZED is returned then)."""
        outcome = Outcome.DRAINED
        while not stop.is_set():
            wake.clear()
            try:
                outcome = await self.run_once()
            except SpoolError as exc:  # the disk, not the server: try again later
                _log.error("agent: %s", exc)
                outcome = Outcome.RETRY
                self._retry_at = self._monotonic() + self._backoff.next_delay()
            if outcome is Outcome.UNAUTHORIZED:
                return outcome
            if outcome is Outcome.DRAINED:
                await wait_any(stop, wake, timeout=IDLE_CHECK_S)
            else:
                await wait_any(stop, timeout=self.retry_in())
        return outcome

    # -- one request -------------------------------------------------------------------------

    async def _send(self, batches: Sequence[Batch]) -> Outcome | None:
        """POST one request; None when the server acknowledged some of it (go on)."""
        body = {"agent": self._agent, "batches": [batch.to_json() for batch in batches]}
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(self._url, json=body, headers=self._headers)
        except (httpx.HTTPError, TimeoutError) as exc:
            _log.warning("%s: cannot reach %s: %s", self._name, self._url, _describe(exc))
            return Outcome.RETRY
        status = response.status_code
        if status == 200:
            return self._acknowledged(response, batches)
        if status == 401:
            _log.error(
                "agent: %s refused the token (401): it is unknown or was revoked; "
                "stopping, the spooled batches are kept",
                self._url,
            )
            return Outcome.UNAUTHORIZED
        if status in TRANSIENT_STATUS or status >= 500:
            _log.warning("agent: %s answered %d: %s", self._url, status, _detail(response))
            return Outcome.RETRY
        if status == 413 and self._max_batches > 1:
            self._max_batches = max(1, self._max_batches // 2)
        _log.error(
            "agent: %s refused the request (%d): %s; %d batches per request from now",
            self._url,
            status,
            _detail(response),
            self._max_batches,
        )
        return Outcome.REFUSED

    def _acknowledged(self, response: httpx.Response, batches: Sequence[Batch]) -> Outcome | None:
        """Acknowledge what a 200 answer covers; RETRY when it covers none of the request."""
        answer = _answer(response)
        if answer is None:
            _log.warning(
                "agent: %s answered 200 without the protocol's JSON (%s): nothing acknowledged",
                self._url,
                response.text[:200],
            )
            return Outcome.RETRY
        through, self.device, refused = answer
        first, last = batches[0].seq, batches[-1].seq
        if through > last:
            _log.warning(
                "agent: the server has batches up to seq %d, beyond the %d this agent sent: "
                "was the spool directory reset, or does another agent use this token? "
                "seqs continue after %d",
                through,
                last,
                through,
            )
        self._spool.acknowledge(through)
        if refused:
            _log.warning("agent: the server refused %d samples, e.g. %s", len(refused), refused[:3])
        if through < first:
            _log.warning(
                "agent: the server stored none of seq %d..%d (accepted through %d)",
                first,
                last,
                through,
            )
            return Outcome.RETRY
        _log.debug("agent: seq %d..%d sent, acknowledged through %d", first, last, through)
        return None

    # -- backoff ---------------------------------------------------------------------------

    def _failed(self, outcome: Outcome, batches: Sequence[Batch]) -> float:
        if outcome is Outcome.UNAUTHORIZED:
            return 0.0
        delay = self._backoff.next_delay()
        _log.debug(
            "agent: %s; batches from seq %d kept in the spool; backing off %.1f s",
            outcome.value,
            batches[0].seq,
            delay,
        )
        return delay

    def _delivered(self) -> None:
        if self._backoff.failures:
            _log.info(
                "agent: %s reachable again after %d failed tries; the spool is drained",
                self._url,
                self._backoff.failures,
            )
        self._backoff.reset()
        self._retry_at = 0.0


def _answer(response: httpx.Response) -> tuple[int, str | None, list[str]] | None:
    """(accepted_through, device, refused) of a 200 answer, or None when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    through = body.get("accepted_through")
    if not isinstance(through, int) or isinstance(through, bool) or through < 0:
        return None
    device = body.get("device")
    refused = body.get("refused")
    refused_lines = [str(line) for line in refused] if isinstance(refused, list) else []
    return through, device if isinstance(device, str) else None, refused_lines


def _detail(response: httpx.Response) -> str:
    """The server's ``detail`` (FastAPI's error field), else the start of the body."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase
    text = detail if isinstance(detail, str) else json.dumps(detail)
    return text[:500]


def _describe(exc: BaseException) -> str:
    """One line for a failed request (httpx's messages can be empty: name the class)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def wait_any(*events: asyncio.Event, timeout: float | None) -> None:
    """Wait until one of ``events`` is set, or ``timeout`` seconds (None: no limit)."""
    if any(event.is_set() for event in events):
        return
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
