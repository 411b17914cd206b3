"""DNS probe: one query to a server (or the system resolver's), timed, checked, explained.

The target's address is the DNS server to ask; ``params.name`` is the name looked up and
``params.type`` the record type. ``server: system`` ignores the target's address and asks
the nameservers of a resolv.conf file instead (``/etc/resolv.conf`` unless
``resolv_conf`` names another), in order, until one answers.

Transport: UDP, retried over TCP when the reply is truncated (TC bit); ``tcp: true`` asks
over TCP only; ``tls: true`` asks over DNS over TLS (RFC 7858, port 853).

Metrics: ``query_ms`` (first send to final answer, TCP fallback included), ``rcode``
(numeric), ``answers`` (records in the answer section), ``ttl_s`` (smallest answer TTL),
``match`` (0/1, only when ``expect``/``expect_regex`` is set), ``truncated`` and
``tcp_fallback`` (0/1). Details: ``rcode`` (name), ``answers`` (text), ``transport``,
``server``, ``qname``, ``qtype``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, get_args

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.resolver
import dns.reversename
from pydantic import Field, field_validator, model_validator

from netgauge.config.files import LocalFile
from netgauge.models import ProbeResult, ProbeStatus, Target, now_ns
from netgauge.probes.base import ProbeParams, register_probe
from netgauge.probes.patterns import UserRegex, compile_text

__all__ = ["RECORD_TYPES", "DnsParams", "DnsProbe", "answer_text"]

RecordType = Literal[
    "A", "AAAA", "CAA", "CNAME", "DNSKEY", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA",
    "SRV", "SSHFP", "SVCB", "TLSA", "TXT",
]  # fmt: skip
RcodeName = Literal[
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",
]  # fmt: skip
RECORD_TYPES: tuple[str, ...] = get_args(RecordType)
DEFAULT_RESOLV_CONF = "/etc/resolv.conf"
_ERRNO_TEXT = re.compile(r"^\[Errno \d+\] ")


class DnsParams(ProbeParams):
    """What to ask, how, and what counts as a good answer (unknown keys are errors).

    * ``name``: the name to look up; for ``type: PTR`` an IP address is turned into its
      reverse name. Names are absolute (no search domains).
    * ``type``: record type (case-insensitive), default ``A``.
    * ``server``: ``target`` (the target's address is the server) or ``system`` (the
      nameservers of ``resolv_conf``, tried in order until one answers).
    * ``port``: server port; default 53, or 853 with ``tls`` (also used for ``system``).
    * ``tcp``: TCP only; ``tls``: DNS over TLS (``tls_server_name`` for SNI and certificate
      check, ``tls_ca_file`` for a private CA, ``tls_verify: false`` to skip the check).
    * ``timeout``: seconds for the whole query (fallback included); later is ``timeout``.
    * ``expect``: strings that must all be among the answers (compared as in
      :func:`answer_text`, case-insensitive, trailing dots ignored; a TXT answer also as
      its strings joined without quotes).
    * ``expect_regex``: a regular expression (RE2) that must match (search) one answer.
    * ``expect_rcode``: the response code that counts as success (default NOERROR).
    * ``recurse``: set the RD (recursion desired) flag.
    """

    name: str = Field(min_length=1, max_length=253, title="Name to look up")
    type: RecordType = Field("A", title="Record type")
    server: Literal["target", "system"] = "target"
    resolv_conf: Annotated[str, LocalFile()] = DEFAULT_RESOLV_CONF
    port: int | None = Field(None, ge=1, le=65535)
    tcp: bool = False
    tls: bool = False
    tls_server_name: str | None = None
    tls_ca_file: Annotated[str | None, LocalFile()] = None
    tls_verify: bool = True
    timeout: float = Field(5.0, gt=0, le=300, description="seconds for the whole query")
    expect: tuple[str, ...] = ()
    expect_regex: UserRegex | None = None
    expect_rcode: RcodeName = "NOERROR"
    recurse: bool = True

    @field_validator("type", "expect_rcode", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        try:
            dns.name.from_text(value)
        except dns.exception.DNSException as exc:
            raise ValueError(f"not a valid DNS name: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> DnsParams:
        if self.tcp and self.tls:
            raise ValueError("tcp and tls are exclusive (DNS over TLS already runs over TCP)")
        return self

    @property
    def effective_port(self) -> int:
        """The port asked: ``port``, else 853 for TLS and 53 otherwise."""
        return self.port or (853 if self.tls else 53)

    @property
    def has_expectation(self) -> bool:
        """True when answers are checked (``expect`` or ``expect_regex``)."""
        return bool(self.expect) or self.expect_regex is not None


def answer_text(rdata: dns.rdata.Rdata) -> str:
    """One answer as text, as dig shows it, but names without the trailing dot.

    ``A`` → ``192.0.2.1``; ``MX`` → ``10 mail.example.org``; ``TXT`` → ``"v=spf1 -all"``,
    and a TXT record of several strings keeps them apart: ``"part one" "part two"`` (DKIM
    keys and long SPF records are split so; joined, the boundaries were lost).
    """
    if rdata.rdtype in (dns.rdatatype.TXT, dns.rdatatype.SPF):
        return rdata.to_text()
    return " ".join(_strip_dot(token) for token in rdata.to_text().split(" "))


def txt_joined(rdata: dns.rdata.Rdata) -> str | None:
    """A TXT record's strings joined, unquoted (``v=spf1 -all``): what ``expect`` may name
    too, as a mail server reads an SPF record; None for other types."""
    if rdata.rdtype not in (dns.rdatatype.TXT, dns.rdatatype.SPF):
        return None
    strings: Sequence[bytes] = getattr(rdata, "strings", ())
    return b"".join(strings).decode("utf-8", errors="replace")


def _strip_dot(token: str) -> str:
    return token[:-1] if len(token) > 1 and token.endswith(".") else token


def _normal(text: str) -> str:
    return " ".join(_strip_dot(token) for token in text.split(" ")).casefold()


@dataclass(frozen=True, slots=True)
class _Exchange:
    """One answered query: the response, its timing and how it travelled."""

    response: dns.message.Message
    query_ms: float
    transport: str
    server: str
    truncated: bool


class _NoAnswer(Exception):
    """The query got no response; ``status`` says whether it was a timeout or an error."""

    def __init__(self, status: ProbeStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@register_probe
class DnsProbe:
    """Sends one DNS query and checks the response; see the module docstring for metrics."""

    kind: ClassVar[str] = "dns"
    params_model: ClassVar[type[ProbeParams]] = DnsParams

    async def run(self, target: Target, params: DnsParams) -> ProbeResult:
        """Ask the target's server (or the system resolver's) for ``params.name``."""
        ts = now_ns()
        query = _make_query(params)
        try:
            exchange = await self._exchange(target, params, query)
        except _NoAnswer as exc:
            return self._no_answer(target, ts, params, exc)
        return self._evaluate(target, ts, params, exchange)

    async def _exchange(
        self, target: Target, params: DnsParams, query: dns.message.Message
    ) -> _Exchange:
        if params.server == "system":
            override = params.port or (853 if params.tls else None)
            servers = _system_nameservers(params.resolv_conf, override)
        else:
            servers = [(await _server_address(target.address), params.effective_port)]
        last: _NoAnswer | None = None
        for address, port in servers:  # resolv.conf semantics: next server on no answer
            try:
                return await _ask(query, address, port, params)
            except _NoAnswer as exc:
                last = exc
        assert last is not None  # servers is never empty
        raise last

    def _evaluate(
        self, target: Target, ts: int, params: DnsParams, exchange: _Exchange
    ) -> ProbeResult:
        response = exchange.response
        rcode = response.rcode()
        rdatas = [rdata for rrset in response.answer for rdata in rrset]
        texts = [answer_text(rdata) for rdata in rdatas]
        joined = [text for rdata in rdatas if (text := txt_joined(rdata)) is not None]
        metrics: dict[str, float | None] = {
            "query_ms": exchange.query_ms,
            "rcode": float(rcode),
            "answers": float(len(texts)),
            "ttl_s": float(min(rrset.ttl for rrset in response.answer)) if texts else None,
            "truncated": 1.0 if exchange.truncated else 0.0,
            "tcp_fallback": 1.0 if exchange.transport == "udp+tcp" else 0.0,
        }
        details: dict[str, Any] = {
            "qname": response.question[0].name.to_text() if response.question else None,
            "qtype": params.type,
            "rcode": dns.rcode.to_text(rcode),
            "answers": texts,
            "transport": exchange.transport,
            "server": exchange.server,
        }
        errors = _rcode_error(rcode, params)
        if params.has_expectation:
            missing = _expectation_error(texts, params, joined)
            metrics["match"] = 0.0 if missing else 1.0
            errors += missing
        status = ProbeStatus.FAILED if errors else ProbeStatus.OK
        error = "; ".join(errors) or None
        return ProbeResult(target.name, self.kind, ts, status, metrics, error, details)

    def _no_answer(self, target: Target, ts: int, params: DnsParams, exc: _NoAnswer) -> ProbeResult:
        metrics: dict[str, float | None] = {"query_ms": None, "rcode": None, "answers": None}
        if params.has_expectation:
            metrics["match"] = 0.0
        details = {"qname": params.name, "qtype": params.type, "transport": _transport(params)}
        return ProbeResult(target.name, self.kind, ts, exc.status, metrics, str(exc), details)


def _make_query(params: DnsParams) -> dns.message.Message:
    name: dns.name.Name | str = params.name
    if params.type == "PTR" and _is_ip(params.name):
        name = dns.reversename.from_address(params.name)
    query = dns.message.make_query(name, params.type)
    if not params.recurse:
        query.flags &= ~dns.flags.RD
    return query


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def _server_address(address: str) -> str:
    """The server's IP: the address itself, or the first address a host name resolves to."""
    if _is_ip(address):
        return address
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(address, None, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise _NoAnswer(ProbeStatus.FAILED, f"cannot resolve server {address!r}: {exc}") from exc
    return str(infos[0][4][0])


def _system_nameservers(path: str, port: int | None) -> list[tuple[str, int]]:
    """The nameservers of a resolv.conf file, in order, with ``port`` or the resolver's."""
    try:
        resolver = dns.resolver.Resolver(filename=path)
    except dns.exception.DNSException as exc:  # missing file or no nameserver line
        raise _NoAnswer(ProbeStatus.FAILED, f"no nameserver from {path}: {exc}") from exc
    servers = [(str(server), port or resolver.port) for server in resolver.nameservers]
    if not servers:
        raise _NoAnswer(ProbeStatus.FAILED, f"no nameserver in {path}")
    return servers


def _transport(params: DnsParams) -> str:
    return "tls" if params.tls else "tcp" if params.tcp else "udp"


async def _ask(query: dns.message.Message, address: str, port: int, params: DnsParams) -> _Exchange:
    """One query to one server over the configured transport, within ``params.timeout``."""
    server = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    try:
        async with asyncio.timeout(params.timeout):
            response, transport, truncated, query_ms = await _send(query, address, port, params)
    except (TimeoutError, dns.exception.Timeout) as exc:
        raise _NoAnswer(ProbeStatus.TIMEOUT, f"no response from {server} in time") from exc
    except (OSError, ssl.SSLError, dns.exception.DNSException, EOFError) as exc:
        raise _NoAnswer(ProbeStatus.FAILED, f"{server}: {_describe(exc)}") from exc
    return _Exchange(response, query_ms, transport, server, truncated)


async def _send(
    query: dns.message.Message, address: str, port: int, params: DnsParams
) -> tuple[dns.message.Message, str, bool, float]:
    """(response, transport used, whether a UDP reply came back truncated, query ms).

    Over UDP the query time is dig's: from the send to the reply's arrival, read from
    dnspython's own stamps (``response.time``), on a socket made before, so neither the
    socket's set-up nor the first use of dnspython's async backend (1.3 ms where dig said
    0.1) nor the parsing of the reply is counted. Over TCP and TLS, and after a truncated
    UDP reply, it runs from the first send to the final answer, connection included."""
    timeout = params.timeout
    start = time.perf_counter()

    def elapsed_ms() -> float:
        return (time.perf_counter() - start) * 1000.0

    if params.tls:
        verify: bool | str = params.tls_ca_file or params.tls_verify
        response = await dns.asyncquery.tls(
            query, address, timeout, port, server_hostname=params.tls_server_name, verify=verify
        )
        return response, "tls", False, elapsed_ms()
    if params.tcp:
        return await dns.asyncquery.tcp(query, address, timeout, port), "tcp", False, elapsed_ms()
    backend = dns.asyncbackend.get_default_backend()
    family = dns.inet.af_for_address(address)
    # (dnspython leaves make_socket untyped)
    async with await backend.make_socket(family, socket.SOCK_DGRAM) as sock:  # type: ignore[no-untyped-call]
        start = time.perf_counter()
        response, used_tcp = await dns.asyncquery.udp_with_fallback(
            query, address, timeout, port, udp_sock=sock
        )
    if used_tcp:
        return response, "udp+tcp", True, elapsed_ms()
    return response, "udp", False, float(response.time) * 1000.0


def _describe(exc: BaseException) -> str:
    text = _ERRNO_TEXT.sub("", str(exc)) or type(exc).__name__
    return text


def _rcode_error(rcode: int, params: DnsParams) -> list[str]:
    name = dns.rcode.to_text(dns.rcode.Rcode(rcode))
    if name == params.expect_rcode:
        return []
    return [f"rcode {name}, expected {params.expect_rcode}"]


def _expectation_error(
    texts: Sequence[str], params: DnsParams, joined: Sequence[str] = ()
) -> list[str]:
    """Why the answers do not meet the expectation (empty when they do). A TXT answer is
    met by its dig form (``"a" "b"``) and by its strings joined (``ab``)."""
    present = {_normal(text) for text in (*texts, *joined)}
    missing = [want for want in params.expect if _normal(want) not in present]
    errors = [f"expected answers missing: {', '.join(missing)}"] if missing else []
    if params.expect_regex is not None:
        pattern = compile_text(params.expect_regex)
        if not any(pattern.search(text) for text in (*texts, *joined)):
            errors.append(f"no answer matches /{params.expect_regex}/")
    return errors
