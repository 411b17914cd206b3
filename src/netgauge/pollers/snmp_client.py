"""An asyncio SNMP v1/v2c manager: one UDP socket per address family for every request.

Thousands of devices are polled from one process, so nothing here is per device: one
socket, one table of requests in flight keyed by request id, replies matched by id *and*
the address the request went to (a reply from elsewhere is ignored, not trusted). Each
request is retried with the same id, so a late answer to the first try still counts.

Tables are read with GETBULK (v2c) asking for every wanted column at once: one round trip
brings ``max_repetitions`` rows of each column. In v1 the same walk uses GETNEXT, one row
per round trip.

A device that does not answer raises :class:`SnmpTimeoutError`; the poller turns that into
an offline reading (target failures are data there, exceptions only here).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from netgauge.errors import NetgaugeError
from netgauge.pollers.snmp_ber import (
    END_OF_MIB_VIEW,
    GET,
    GETBULK,
    GETNEXT,
    REPORT,
    V1,
    Response,
    SnmpDecodeError,
    Value,
    VarBindException,
    decode_response,
    encode_pdu,
    encode_request,
    format_oid,
)
from netgauge.pollers.snmp_usm import (
    NOT_IN_TIME_WINDOW,
    UNKNOWN_ENGINE_ID,
    V3,
    Engine,
    UsmError,
    UsmUser,
    decode_message,
    discovery_message,
    encode_message,
    is_v3,
    peek_msg_id,
    report_reason,
)

Oid = tuple[int, ...]
_NO_SUCH_NAME = 2  # v1 error-status: one of the OIDs does not exist (its index is given)
_TOO_BIG = 1  # the answer would not fit in one message: ask for less
_MAX_ROWS = 100_000  # bound on any one table walk (a looping agent must not loop us)


class SnmpError(NetgaugeError):
    """An SNMP request failed."""


class SnmpTimeoutError(SnmpError):
    """No answer (wrong community, agent down, host unreachable: SNMP cannot tell which)."""


class SnmpUsmError(SnmpError):
    """SNMPv3 security refused the request (wrong key, unknown user, ...)."""


class SnmpErrorStatus(SnmpError):
    """The agent answered with a non-zero error-status."""

    def __init__(self, endpoint: Endpoint, status: int, index: int) -> None:
        super().__init__(f"{endpoint}: SNMP error-status {status} at varbind {index}")
        self.status = status
        self.index = index


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an agent listens: an IP address literal and a UDP port."""

    address: str
    port: int = 161

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.address else socket.AF_INET

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The version and its secrets: a community (v1/v2c) or a USM user (v3). Never logged."""

    version: int
    community: bytes = b""
    usm: UsmUser | None = None

    def __post_init__(self) -> None:
        if self.version == V3 and self.usm is None:
            raise ValueError("SNMPv3 needs a USM user")

    def __repr__(self) -> str:
        user = f", user={self.usm.name!r}" if self.usm else ""
        return f"Credentials(version={self.version}{user}, secrets=<hidden>)"


class SnmpQueries(Protocol):
    """What a poller asks of an SNMP manager: :class:`SnmpClient`, or a fake agent in tests."""

    async def get(
        self, endpoint: Endpoint, credentials: Credentials, oids: Sequence[Oid]
    ) -> dict[Oid, Value]: ...

    async def walk(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        columns: Sequence[Oid],
        *,
        max_repetitions: int = 25,
    ) -> dict[Oid, dict[Oid, Value]]: ...


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, client: SnmpClient) -> None:
        self._client = client

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self._client._on_datagram(data, str(addr[0]), int(addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: it names no request; that one times out.
        self._client.errors_received += 1


class SnmpClient:
    """Requests in flight to any number of agents; sockets open on first use."""

    def __init__(self, *, timeout: float = 1.0, retries: int = 1) -> None:
        self.timeout = timeout
        self.retries = retries
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._pending: dict[int, _Pending] = {}
        self._engines: dict[Endpoint, Engine] = {}  # SNMPv3 engines discovered
        self._next_id = int.from_bytes(os.urandom(3), "big")
        self.malformed = 0  # datagrams that were not SNMP responses
        self.errors_received = 0

    async def close(self) -> None:
        """Close the sockets; requests still in flight fail with a timeout."""
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(SnmpTimeoutError("client closed"))
        self._pending.clear()

    async def __aenter__(self) -> SnmpClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def get(
        self, endpoint: Endpoint, credentials: Credentials, oids: Sequence[Oid]
    ) -> dict[Oid, Value]:
        """The value of each OID; a missing one maps to a VarBindException (as in v2c, in
        v1 too: a noSuchName answer is retried without the OID it names)."""
        wanted = list(oids)
        values: dict[Oid, Value] = {}
        while wanted:
            try:
                response = await self.request(endpoint, credentials, GET, wanted)
            except SnmpErrorStatus as exc:
                if exc.status != _NO_SUCH_NAME or not 1 <= exc.index <= len(wanted):
                    raise
                values[wanted.pop(exc.index - 1)] = VarBindException.NO_SUCH_OBJECT
                continue
            values.update(response.varbinds)
            break
        return {oid: values[oid] for oid in oids if oid in values}

    async def walk(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        columns: Sequence[Oid],
        *,
        max_repetitions: int = 25,
    ) -> dict[Oid, dict[Oid, Value]]:
        """Every row of every column: ``{column: {row index: value}}``, walked together.

        A column that is absent on the device comes back empty.
        """
        tables: dict[Oid, dict[Oid, Value]] = {column: {} for column in columns}
        cursors = {column: column for column in columns}
        rows = 0
        while cursors and rows < _MAX_ROWS:
            active = list(cursors)
            varbinds = await self._next_rows(
                endpoint, credentials, [cursors[c] for c in active], max_repetitions
            )
            if not varbinds:
                break
            finished: set[Oid] = set()
            for i, (oid, value) in enumerate(varbinds):
                column = active[i % len(active)]
                if column in finished:
                    continue
                if (
                    value is END_OF_MIB_VIEW
                    or oid[: len(column)] != column
                    or oid <= cursors[column]
                ):
                    finished.add(column)  # past the column (or an agent going backwards)
                    continue
                tables[column][oid[len(column) :]] = value
                cursors[column] = oid
                rows += 1
            for column in finished:
                cursors.pop(column, None)
        return tables

    async def _next_rows(
        self, endpoint: Endpoint, credentials: Credentials, cursors: list[Oid], repetitions: int
    ) -> list[tuple[Oid, Value]]:
        """The varbinds after ``cursors``: GETBULK rows interleaved by column (v2c), or one
        GETNEXT row (v1, where the end of the MIB is a noSuchName error)."""
        if credentials.version == V1:
            return await self._next_row_v1(endpoint, credentials, cursors)
        response = await self.request(
            endpoint, credentials, GETBULK, cursors, max_repetitions=repetitions
        )
        return response.varbinds

    async def _next_row_v1(
        self, endpoint: Endpoint, credentials: Credentials, cursors: list[Oid]
    ) -> list[tuple[Oid, Value]]:
        """One GETNEXT row, a varbind per cursor. A v1 agent answers a column that runs past
        the end of its MIB with noSuchName for the whole request: that column is ended
        (endOfMibView, as v2c would say) and the others are asked again."""
        remaining = list(range(len(cursors)))
        found: dict[int, tuple[Oid, Value]] = {}
        while remaining:
            asked = [cursors[i] for i in remaining]
            try:
                varbinds = (await self.request(endpoint, credentials, GETNEXT, asked)).varbinds
            except SnmpErrorStatus as exc:
                if exc.status != _NO_SUCH_NAME or not 1 <= exc.index <= len(remaining):
                    raise
                remaining.pop(exc.index - 1)
                continue
            found.update(zip(remaining, varbinds, strict=False))
            break
        return [found.get(i, (cursors[i], END_OF_MIB_VIEW)) for i in range(len(cursors))]

    async def request(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        pdu_type: int,
        oids: Sequence[Oid],
        *,
        max_repetitions: int = 0,
    ) -> Response:
        """One request, retried on silence; raises SnmpTimeoutError, SnmpErrorStatus or (v3)
        SnmpUsmError."""
        if credentials.usm is not None:
            response = await self._request_v3(
                endpoint, credentials.usm, pdu_type, oids, max_repetitions
            )
        else:
            request_id = self._allocate_id()
            message = encode_request(
                credentials.version,
                credentials.community,
                pdu_type,
                request_id,
                oids,
                max_repetitions=max_repetitions,
            )
            response = await self._exchange(endpoint, request_id, message, decode_response, oids)
        if response.error_status:
            raise SnmpErrorStatus(endpoint, response.error_status, response.error_index)
        return response

    async def _request_v3(
        self,
        endpoint: Endpoint,
        user: UsmUser,
        pdu_type: int,
        oids: Sequence[Oid],
        max_repetitions: int,
    ) -> Response:
        """A v3 request: discover the engine first (once per agent), and resynchronise once
        when the agent reports our idea of its clock or engine as stale."""
        engine = self._engines.get(endpoint)
        just_discovered = engine is None
        if engine is None:
            engine = await self._discover(endpoint)
        reason = ""
        for _attempt in range(2):
            msg_id = self._allocate_id()
            pdu = encode_pdu(pdu_type, msg_id, oids, max_repetitions=max_repetitions)
            message = encode_message(msg_id, user, engine, pdu)
            try:
                response = await self._exchange(
                    endpoint, msg_id, message, _v3_decoder(user, engine), oids
                )
            except SnmpTimeoutError:
                if not just_discovered:
                    raise
                # It answered discovery a moment ago, so it is up: an agent that cannot
                # decrypt a request (wrong privacy key) drops it without a word.
                raise SnmpUsmError(
                    f"{endpoint}: the agent answers SNMPv3 discovery but not user "
                    f"{user.name!r}'s requests: check the privacy key and protocol"
                ) from None
            if response.pdu_type != REPORT:
                return response
            reason = report_reason(response)
            if reason == UNKNOWN_ENGINE_ID:
                engine = await self._discover(endpoint)  # the agent was replaced or reset
            elif reason != NOT_IN_TIME_WINDOW:  # (its Report taught us its clock: retry)
                break
        raise SnmpUsmError(f"{endpoint}: SNMPv3 {reason} (user {user.name!r})")

    async def _discover(self, endpoint: Endpoint) -> Engine:
        """Ask the agent for its engine id, boots and time (an unauthenticated Report)."""
        msg_id = self._allocate_id()
        learned: list[Engine] = []

        def decode(data: bytes) -> Response:
            message = decode_message(data, None)
            security = message.security
            learned.append(Engine(security.engine_id, security.boots, security.engine_time))
            return message.response

        message = discovery_message(msg_id, encode_pdu(GET, msg_id, []))
        await self._exchange(endpoint, msg_id, message, decode, [])
        if not learned or not learned[-1].engine_id:
            raise SnmpUsmError(f"{endpoint}: the agent gave no SNMPv3 engine id")
        self._engines[endpoint] = learned[-1]
        return learned[-1]

    async def _exchange(
        self,
        endpoint: Endpoint,
        key: int,
        message: bytes,
        decode: Callable[[bytes], Response],
        oids: Sequence[Oid],
    ) -> Response:
        """Send ``message`` until its answer (matched by ``key``) arrives, a bounded number
        of times with the same id, so a late answer to the first try still counts."""
        transport = await self._transport(endpoint.family)
        loop = asyncio.get_running_loop()
        pending = _Pending(loop.create_future(), endpoint.address, endpoint.port, decode)
        self._pending[key] = pending
        try:
            for _attempt in range(self.retries + 1):
                # Each try waits on its own future, which the answer or a plain timer
                # settles: 5 us per request instead of wait_for(shield(...))'s 11. An answer
                # to an earlier try settles the current one, so it still counts.
                attempt: asyncio.Future[Response | None] = loop.create_future()
                pending.future = attempt
                transport.sendto(message, (endpoint.address, endpoint.port))
                timer = loop.call_later(self.timeout, _give_up, attempt)
                try:
                    response = await attempt
                finally:
                    timer.cancel()
                if response is not None:
                    return response
        finally:
            self._pending.pop(key, None)
        tries = self.retries + 1
        raise SnmpTimeoutError(
            f"{endpoint}: no SNMP answer to {format_oid(oids[0]) if oids else 'request'} "
            f"after {tries} {'try' if tries == 1 else 'tries'} of {self.timeout:g} s "
            "(agent down, wrong credentials or unreachable)"
        )

    def _allocate_id(self) -> int:
        """The next request id in 1..2**31-1 that is not in flight."""
        while True:
            self._next_id = self._next_id % 0x7FFFFFFF + 1
            if self._next_id not in self._pending:
                return self._next_id

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        transport = self._transports.get(family)
        if transport is None:
            loop = asyncio.get_running_loop()
            local = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
            transport, _protocol = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), local_addr=local, family=family
            )
            _grow_receive_buffer(transport.get_extra_info("socket"))
            self._transports[family] = transport
        return transport

    def _on_datagram(self, data: bytes, address: str, port: int) -> None:
        try:
            if is_v3(data):
                pending = self._pending.get(peek_msg_id(data))
                if pending is None or not pending.sent_by(address, port):
                    return  # a late duplicate, or not from the agent we asked
                response = pending.decode(data)
            else:
                response = decode_response(data)
                pending = self._pending.get(response.request_id)
                if pending is None or not pending.sent_by(address, port):
                    return
        except (SnmpDecodeError, UsmError, ValueError, OverflowError):
            # (ValueError/OverflowError: fields a hostile datagram sets out of range, such
            # as negative engine boots that cannot form an AES IV)
            # Malformed, or failing authentication: never trusted; the request times out
            # unless the genuine answer arrives.
            self.malformed += 1
            return
        if not pending.future.done():
            pending.future.set_result(response)


RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def _grow_receive_buffer(sock: socket.socket | None) -> None:
    """Room for the replies of hundreds of requests in flight on one socket.

    With the default 208 KiB, 256 requests in flight overflowed it under load (bench/snmp.py:
    1,287 replies dropped in 10 s, each a request waiting out its timeout); 4 MiB dropped
    none. The FORCE variant passes net.core.rmem_max when privileged.
    """
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)


def _give_up(attempt: asyncio.Future[Response | None]) -> None:
    """Timer callback: this try got no answer in time."""
    if not attempt.done():
        attempt.set_result(None)


@dataclass(slots=True)
class _Pending:
    """A request in flight: its current try, where its answer must come from, and how to
    decode it."""

    future: asyncio.Future[Response | None]
    address: str
    port: int
    decode: Callable[[bytes], Response]

    def sent_by(self, address: str, port: int) -> bool:
        return (address.split("%", 1)[0], port) == (self.address, self.port)


def _v3_decoder(user: UsmUser, engine: Engine) -> Callable[[bytes], Response]:
    """Decode as ``user``; an authentic message also updates our view of the agent's clock."""

    def decode(data: bytes) -> Response:
        message = decode_message(data, user)
        if message.flags & 0x01:  # authenticated: its boots and time can be trusted
            engine.learn(message.security.boots, message.security.engine_time)
        return message.response

    return decode
