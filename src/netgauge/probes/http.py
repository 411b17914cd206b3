"""HTTP(S) probe: status, phase timings, redirects, body match, TLS expiry, HTTP/1.1 and HTTP/2.

The URL is ``params.url`` when given (the target's address is then not used), otherwise
``{scheme}://{target.address}[:{port}]{path}``. Phases are durations, not running totals:
for one request ``dns + connect + tls + ttfb + transfer = total`` within a millisecond
(``transfer_ms``: reading the body). When redirects are followed, the phases are summed over
the hops and ``total_ms`` is the wall time of the whole chain, from the first request to
the end of the last body (as curl's ``time_total``: the client's set-up, the check of the
body against ``match`` and the tear-down are not the server's time). Every run opens new
connections, so each sample includes the handshakes, like SmokePing's and blackbox_exporter's
HTTP probes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from netgauge.config.files import LocalFile
from netgauge.errors import NetgaugeError
from netgauge.models import ProbeResult, ProbeStatus, Target, now_ns
from netgauge.probes.base import ProbeParams, register_probe
from netgauge.probes.patterns import UserRegex, compile_text

if TYPE_CHECKING:  # httpx is imported when a probe runs, so that importing probes stays fast
    import httpcore
    import httpx

MAX_BODY_BYTES = 64 * 1024 * 1024
_STATUS_SPEC = re.compile(r"^(\d{3})(?:-(\d{3}))?$|^([1-5])xx$")


def parse_status_ranges(specs: Iterable[str | int]) -> tuple[tuple[int, int], ...]:
    """``["200", "301-308", "2xx"]`` as inclusive ``(low, high)`` ranges; ValueError if bad."""
    ranges = []
    for spec in specs:
        text = str(spec).strip().lower()
        found = _STATUS_SPEC.match(text)
        if not found:
            raise ValueError(f"{spec!r} is not a status code, range (200-399) or class (2xx)")
        if found.group(3):
            low = high = int(found.group(3)) * 100
            high += 99
        else:
            low = int(found.group(1))
            high = int(found.group(2) or low)
        if not 100 <= low <= high <= 599:
            raise ValueError(f"{spec!r} is not within 100-599 (low to high)")
        ranges.append((low, high))
    if not ranges:
        raise ValueError("at least one expected status is needed")
    return tuple(ranges)


def status_expected(code: int, ranges: Iterable[tuple[int, int]]) -> bool:
    """True when ``code`` is in one of the inclusive ranges."""
    return any(low <= code <= high for low, high in ranges)


class HttpParams(ProbeParams):
    """What to fetch and what counts as success."""

    url: str | None = Field(None, description="whole URL; excludes scheme, port and path")
    scheme: Literal["http", "https"] = "http"
    port: int | None = Field(None, ge=1, le=65535)
    path: str = "/"
    method: Literal["GET", "HEAD"] = "GET"
    # below the runner's default job timeout (10 s) so that the probe, which knows the phase,
    # reports the timeout rather than the runner
    timeout: float = Field(8.0, gt=0, le=300, description="seconds for the whole exchange")
    follow_redirects: bool = True
    # a redirect to another host would make the server fetch a page the job does not name
    # (an address inside the network, say): followed only when the job says so
    follow_other_hosts: bool = False
    max_redirects: int = Field(10, ge=0, le=30)
    expect_status: tuple[str, ...] = ("200-399",)
    match: UserRegex | None = Field(None, description="regex (RE2) searched in the body")
    max_body_bytes: int = Field(1024 * 1024, ge=0, le=MAX_BODY_BYTES)
    verify: bool = True
    ca_file: Annotated[str | None, LocalFile()] = Field(
        None, description="PEM file of CAs to trust instead of the system"
    )
    http2: bool = False

    @field_validator("expect_status", mode="before")
    @classmethod
    def _status_list(cls, value: Any) -> Any:
        if isinstance(value, str | int):
            value = [value]
        if isinstance(value, list | tuple):
            value = tuple(str(item) for item in value)
            parse_status_ranges(value)
        return value

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("path must start with '/'")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("url must be http:// or https:// with a host")
        return value

    @model_validator(mode="after")
    def _url_alone(self) -> HttpParams:
        clash = {"scheme", "port", "path"} & self.model_fields_set
        if self.url is not None and clash:
            raise ValueError(f"url excludes {', '.join(sorted(clash))}")
        return self


async def http_auth(target: Target, url: str) -> Any:
    """The target's credentials as HTTP authentication (``token``: a bearer token; else
    ``username``/``user`` and ``password``: Basic), or None. Where the credentials have a
    scope, the host the URL names (a whole ``url`` may name another than the target) must
    be inside it: otherwise nothing is sent (CredentialScopeError)."""
    import httpx

    from netgauge.credentials.scope import checked_address
    from netgauge.pollers.secrets import secret

    ref = target.credentials
    if ref is None or ref.kind not in ("http", "token"):
        return None
    token = secret(ref, "token")
    user = ref.username or secret(ref, "user")
    password = secret(ref, "password")
    if token is None and (user is None or password is None):
        return None
    host = urlsplit(url).hostname or target.address
    await checked_address(dataclasses.replace(target, address=host))  # the host it goes to
    if token is not None:
        return _bearer(token)
    return httpx.BasicAuth(user or "", password or "")


def _bearer(token: str) -> Any:
    """``Authorization: Bearer TOKEN`` as an httpx auth (given to the target's own host
    only: see ``_exchange``)."""
    import httpx

    class Bearer(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Any:
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    return Bearer()


def build_url(target: Target, params: HttpParams) -> str:
    """The URL to fetch: ``params.url`` or one built from the target's address."""
    if params.url is not None:
        return params.url
    host = target.address
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    port = f":{params.port}" if params.port is not None else ""
    return f"{params.scheme}://{host}{port}{params.path}"


# --- certificates ------------------------------------------------------------------------


def _der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER item at ``pos``."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _der_time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime: two-digit year, 1950-2049 (RFC 5280)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime
        raise ValueError(f"unexpected DER time tag {tag:#x}")
    return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def cert_not_after(der: bytes) -> datetime:
    """The notAfter of a DER X.509 certificate (read directly: works unverified too)."""
    _, pos, _ = _der_item(der, 0)  # Certificate
    _, pos, _ = _der_item(der, pos)  # tbsCertificate
    if der[pos] == 0xA0:  # [0] version
        pos = _der_item(der, pos)[2]
    for _ in range(3):  # serialNumber, signature, issuer
        pos = _der_item(der, pos)[2]
    _, pos, _ = _der_item(der, pos)  # validity
    pos = _der_item(der, pos)[2]  # notBefore
    tag, start, end = _der_item(der, pos)
    return _der_time(tag, der[start:end])


def days_left(not_after: datetime, now: datetime) -> float:
    """Days (fractional) from ``now`` until ``not_after``; negative once expired."""
    return (not_after - now).total_seconds() / 86400.0


@functools.lru_cache(maxsize=32)
def _ssl_context(verify: bool, ca_file: str | None, http2: bool) -> ssl.SSLContext:
    # One context per combination: httpcore sets the ALPN list on the context it is given,
    # so probes with and without http2 must not share one.
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


# --- timing ------------------------------------------------------------------------------

# What the probe is doing in each phase: the words of a timeout or failure message.
PHASE_TEXT: Mapping[str, str] = {
    "start": "starting",
    "dns": "resolving the name",
    "connect": "connecting",
    "tls": "in the TLS handshake",
    "request": "sending the request",
    "ttfb": "waiting for the response",
    "body": "reading the body",
    "check": "checking the response",
}

# httpcore trace event -> (timed phase it starts or ends or "", phase the probe is in after it)
_TRACE_PHASES: Mapping[str, tuple[str, str]] = {
    "connection.start_tls.started": ("tls", "tls"),
    "connection.start_tls.complete": ("tls", "request"),
    "http11.send_request_headers.started": ("ttfb", "request"),
    "http2.send_request_headers.started": ("ttfb", "request"),
    "http11.receive_response_headers.started": ("", "ttfb"),
    "http2.receive_response_headers.started": ("", "ttfb"),
    "http11.receive_response_headers.complete": ("ttfb", "body"),
    "http2.receive_response_headers.complete": ("ttfb", "body"),
}


@dataclass
class PhaseTimer:
    """Durations of the phases of one probe run, summed over connections and hops (in ms).

    Phases are contiguous, as curl's cumulative times are: a phase ends where the previous
    one ended (``begin`` for the first), so the time between network events (building the
    request, the pool's checks) belongs to the next phase and the phases add up to the total.
    """

    clock: Callable[[], float] = time.perf_counter
    phase: str = "start"
    finished: float | None = None  # when the last body was read (the end of total_ms)
    totals: dict[str, float] = field(default_factory=dict)
    _open: dict[str, float] = field(default_factory=dict)
    _last: float | None = None  # where the previous phase ended

    def begin(self) -> float:
        """The clock starts (the first request); returns the time."""
        self._last = self.clock()
        return self._last

    def start(self, name: str, phase: str | None = None) -> None:
        """Timed phase ``name`` begins; the probe is now in ``phase`` (default: ``name``)."""
        self._open[name] = self.clock()
        self.phase = phase or name

    def end(self, name: str, phase: str | None = None) -> None:
        """Timed phase ``name`` ends: the time since the previous phase ended (or since it
        began, before ``begin``) is added to its total; then in ``phase``."""
        started = self._open.pop(name, None)
        since = self._last if self._last is not None else started
        if since is not None:
            now = self.clock()
            self.totals[name] = self.totals.get(name, 0.0) + (now - since) * 1000.0
            if self._last is not None:
                self._last = now
        if phase is not None:
            self.phase = phase

    @property
    def doing(self) -> str:
        """The current phase in words."""
        return PHASE_TEXT.get(self.phase, self.phase)

    def ms(self, name: str) -> float | None:
        """Total of phase ``name`` in ms, None when it never completed."""
        return self.totals.get(name)

    async def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's ``trace`` request extension: turns network events into phases."""
        known = _TRACE_PHASES.get(event)
        if known is None:
            return
        name, phase = known
        if not name:
            self.phase = phase
        elif event.endswith(".started"):
            self.start(name, phase)
        else:
            self.end(name, phase)


def _addresses(infos: Iterable[tuple[Any, ...]]) -> list[str]:
    """The distinct addresses of getaddrinfo's answer, in its order."""
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _timed_backend(timer: PhaseTimer) -> httpcore.AsyncNetworkBackend:
    """A network backend that times name resolution and the TCP connect separately."""
    import httpcore

    class TimedBackend(httpcore.AsyncNetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore.AnyIOBackend()

        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore.AsyncNetworkStream:
            addresses = [host] if _is_ip(host) else await self._resolve(host, port)
            timer.start("connect")
            failure: Exception | None = None
            for address in addresses:  # in getaddrinfo's order, like the stdlib does
                try:
                    stream = await self._inner.connect_tcp(
                        address, port, timeout, local_address, socket_options
                    )
                except httpcore.ConnectError as exc:
                    failure = exc
                    continue
                timer.end("connect")
                return stream
            raise failure or httpcore.ConnectError("no address to connect to")

        async def _resolve(self, host: str, port: int) -> list[str]:
            timer.start("dns")
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
            timer.end("dns")
            return _addresses(infos)

        async def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> httpcore.AsyncNetworkStream:
            return await self._inner.connect_unix_socket(path, timeout, socket_options)

        async def sleep(self, seconds: float) -> None:
            await self._inner.sleep(seconds)

    return TimedBackend()


def _transport(params: HttpParams, timer: PhaseTimer) -> httpx.AsyncHTTPTransport:
    import httpcore
    import httpx

    context = _ssl_context(params.verify, params.ca_file, params.http2)
    transport = httpx.AsyncHTTPTransport(verify=context, http2=params.http2, retries=0)
    # httpx takes no network backend; its pool is replaced by the same pool built with the
    # timing backend (httpx 0.28 keeps it in ``_pool``; tests fail if that changes).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context,
        http1=True,
        http2=params.http2,
        retries=0,
        network_backend=_timed_backend(timer),
    )
    return transport


# --- the probe ---------------------------------------------------------------------------


class _Rejected(Exception):
    """The exchange worked but its outcome fails the probe (status, body, redirects)."""


@dataclass
class _Outcome:
    """What the exchange learnt, filled in as it goes (kept when it is cut short)."""

    chain: list[dict[str, Any]] = field(default_factory=list)
    status_code: int | None = None
    http_version: str | None = None
    tls_days_left: float | None = None
    tls_version: str | None = None
    content_match: float | None = None
    bytes: int | None = None
    truncated: bool = False

    def record(self, response: httpx.Response) -> None:
        """One response of the chain: its status, version and the connection's certificate."""
        self.chain.append({"url": str(response.url), "status": response.status_code})
        self.status_code = response.status_code
        self.http_version = response.http_version
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self.tls_version = ssl_object.version() if ssl_object is not None else None
        self.tls_days_left = days_left(cert_not_after(der), datetime.now(UTC)) if der else None


async def _read_body(response: httpx.Response, params: HttpParams, outcome: _Outcome) -> bytes:
    """At most ``max_body_bytes`` of the (decoded) body; the rest is not downloaded."""
    chunks: list[bytes] = []
    size = 0
    if params.method != "HEAD":
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= params.max_body_bytes:
                outcome.truncated = size > params.max_body_bytes or not response.is_stream_consumed
                break
    outcome.bytes = response.num_bytes_downloaded
    return b"".join(chunks)[: params.max_body_bytes]


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        return body.decode("utf-8", errors="replace")


def _error_text(exc: BaseException) -> str:
    """The clearest line for a network error: the OS's errno text when there is one."""
    seen: BaseException | None = exc
    for _ in range(8):  # bounded walk down the chain httpx -> httpcore -> OSError
        if seen is None:
            break
        if isinstance(seen, OSError) and not isinstance(seen, ssl.SSLError) and seen.errno:
            return os.strerror(seen.errno)
        seen = seen.__cause__ or seen.__context__
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(exc)).strip()
    return text or type(exc).__name__


@register_probe
class HttpProbe:
    """Fetches one URL; metrics: status_code, dns/connect/tls/ttfb/total_ms, tls_days_left, ..."""

    kind: ClassVar[str] = "http"
    params_model: ClassVar[type[ProbeParams]] = HttpParams

    async def run(self, target: Target, params: HttpParams) -> ProbeResult:
        """Fetch the URL of ``target``; a target that fails is a result, never an exception."""
        import anyio
        import httpx

        from netgauge import __version__

        ts, timer, outcome = now_ns(), PhaseTimer(), _Outcome()
        url = build_url(target, params)
        try:
            auth = await http_auth(target, url)
        except (NetgaugeError, ValueError) as exc:  # out of scope, a secret missing
            return self._result(
                target, ts, (ProbeStatus.FAILED, str(exc)), url, timer, outcome, None
            )
        try:  # before the clock starts: loading the CA store is not the target's time
            transport = _transport(params, timer)
        except (OSError, ssl.SSLError) as exc:
            failed = (ProbeStatus.FAILED, f"ca_file {params.ca_file}: {_error_text(exc)}")
            return self._result(target, ts, failed, url, timer, outcome, None)
        # Not the target's time either: anyio's backend, loaded on first use (35 ms on a
        # first run), and the client's set-up and tear-down. The clock runs from the first
        # request to the end of the last body, as curl's time_total does.
        await anyio.sleep(0)
        status, error = ProbeStatus.OK, cast(str | None, None)
        headers = {"User-Agent": f"netgauge/{__version__}"}
        async with httpx.AsyncClient(
            transport=transport,
            timeout=params.timeout,
            headers=headers,
            trust_env=False,
        ) as client:
            started = timer.begin()
            try:
                async with asyncio.timeout(params.timeout):
                    await self._exchange(client, url, params, timer, outcome, auth)
            except (TimeoutError, httpx.TimeoutException):
                status = ProbeStatus.TIMEOUT
                error = f"timed out after {params.timeout:g}s {timer.doing}"
            except _Rejected as exc:
                status, error = ProbeStatus.FAILED, str(exc)
            except (httpx.HTTPError, OSError, ValueError) as exc:
                status, error = ProbeStatus.FAILED, f"{timer.doing}: {_error_text(exc)}"
            total_ms = ((timer.finished or timer.clock()) - started) * 1000.0
        return self._result(target, ts, (status, error), url, timer, outcome, total_ms)

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        url: str,
        params: HttpParams,
        timer: PhaseTimer,
        outcome: _Outcome,
        auth: Any = None,
    ) -> None:
        request = client.build_request(params.method, url)
        home = request.url.host
        while True:  # bounded: every turn adds to the chain, which max_redirects caps
            request.extensions["trace"] = timer.trace
            # the login goes to the host the check is of, never to one a redirect names
            # (a client-wide auth would be sent to each hop)
            mine = auth if request.url.host == home else None
            response = await client.send(request, stream=True, follow_redirects=False, auth=mine)
            try:
                outcome.record(response)
                follow = response.next_request if params.follow_redirects else None
                other = follow.url.host if follow is not None else home
                if other != home and not params.follow_other_hosts:
                    raise _Rejected(
                        f"redirect to another host ({other}) not followed "
                        "(follow_other_hosts: true follows it)"
                    )
                if follow is None:
                    await self._judge(response, params, timer, outcome)
                    return
            finally:
                await response.aclose()
            if len(outcome.chain) > params.max_redirects:
                raise _Rejected(f"more than {params.max_redirects} redirects")
            request = follow

    async def _judge(
        self, response: httpx.Response, params: HttpParams, timer: PhaseTimer, outcome: _Outcome
    ) -> None:
        """Read the body and check the status and the body against the params."""
        timer.start("transfer", "body")
        body = await _read_body(response, params, outcome)
        timer.end("transfer", "check")
        timer.finished = timer.clock()  # the exchange is over: checking it is not its time
        if params.match is not None:
            text = _decode(body, response.charset_encoding)
            found = compile_text(params.match).search(text)
            outcome.content_match = 1.0 if found else 0.0
        ranges = parse_status_ranges(params.expect_status)
        if not status_expected(response.status_code, ranges):
            expected = ", ".join(params.expect_status)
            raise _Rejected(f"status {response.status_code} not in expected {expected}")
        if outcome.content_match == 0.0:
            raise _Rejected(f"body does not match /{params.match}/")

    def _result(
        self,
        target: Target,
        ts: int,
        verdict: tuple[ProbeStatus, str | None],
        url: str,
        timer: PhaseTimer,
        outcome: _Outcome,
        total_ms: float | None,
    ) -> ProbeResult:
        metrics: dict[str, float | None] = {
            "status_code": None if outcome.status_code is None else float(outcome.status_code),
            "dns_ms": timer.ms("dns"),
            "connect_ms": timer.ms("connect"),
            "tls_ms": timer.ms("tls"),
            "ttfb_ms": timer.ms("ttfb"),
            "transfer_ms": timer.ms("transfer"),
            "total_ms": total_ms,
            "tls_days_left": outcome.tls_days_left,
            "content_match": outcome.content_match,
            "redirects": float(max(len(outcome.chain) - 1, 0)),
            "bytes": None if outcome.bytes is None else float(outcome.bytes),
        }
        details: dict[str, Any] = {"url": url, "http_version": outcome.http_version}
        details["redirect_chain"] = outcome.chain
        details["tls_version"] = outcome.tls_version
        details["body_truncated"] = outcome.truncated
        status, error = verdict
        if status is ProbeStatus.TIMEOUT:
            details["timeout_phase"] = timer.phase
        return ProbeResult(target.name, self.kind, ts, status, metrics, error, details)
