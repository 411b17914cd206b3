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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from netgauge.errors import NetgaugeError
from netgauge.pollers.snmp_ber import (
    END_OF_MIB_VIEW,
    GET,
    GETBULK,
    GETNEXT,
    V1,
    Response,
    SnmpDecodeError,
    Value,
    VarBindException,
    decode_response,
    encode_request,
    format_oid,
)

Oid = tuple[int, ...]
_NO_SUCH_NAME = 2  # v1 error-status: one of the OIDs does not exist (its index is given)
_TOO_BIG = 1  # the answer would not fit in one message: ask for less
_MAX_ROWS = 100_000  # bound on any one table walk (a looping agent must not loop us)


class SnmpError(NetgaugeError):
    """An SNMP request failed."""


class SnmpTimeoutError(SnmpError):
    """No answer (wrong community, agent down, host unreachable: SNMP cannot tell which)."""


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
    """v1/v2c credentials: the version and the community (a secret: never logged)."""

    version: int
    community: bytes

    def __repr__(self) -> str:
        return f"Credentials(version={self.version}, community=<hidden>)"


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
        self._pending: dict[int, tuple[asyncio.Future[Response], str, int]] = {}
        self._next_id = int.from_bytes(os.urandom(3), "big")
        self.malformed = 0  # datagrams that were not SNMP responses
        self.errors_received = 0

    async def close(self) -> None:
        """Close the sockets; requests still in flight fail with a timeout."""
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        for future, _address, _port in self._pending.values():
            if not future.done():
                future.set_exception(SnmpTimeoutError("client closed"))
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
            try:
                return (await self.request(endpoint, credentials, GETNEXT, cursors)).varbinds
            except SnmpErrorStatus as exc:
                if exc.status == _NO_SUCH_NAME:
                    return []
                raise
        response = await self.request(
            endpoint, credentials, GETBULK, cursors, max_repetitions=repetitions
        )
        return response.varbinds

    async def request(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        pdu_type: int,
        oids: Sequence[Oid],
        *,
        max_repetitions: int = 0,
    ) -> Response:
        """One request, retried on silence; raises SnmpTimeoutError or SnmpErrorStatus."""
        transport = await self._transport(endpoint.family)
        request_id = self._allocate_id()
        message = encode_request(
            credentials.version,
            credentials.community,
            pdu_type,
            request_id,
            oids,
            max_repetitions=max_repetitions,
        )
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, endpoint.address, endpoint.port)
        try:
            for _attempt in range(self.retries + 1):
                transport.sendto(message, (endpoint.address, endpoint.port))
                try:
                    response = await asyncio.wait_for(asyncio.shield(future), self.timeout)
                except TimeoutError:
                    continue
                if response.error_status:
                    raise SnmpErrorStatus(endpoint, response.error_status, response.error_index)
                return response
        finally:
            self._pending.pop(request_id, None)
            if not future.done():
                future.cancel()
        tries = self.retries + 1
        raise SnmpTimeoutError(
            f"{endpoint}: no SNMP answer to {format_oid(oids[0]) if oids else 'request'} "
            f"after {tries} {'try' if tries == 1 else 'tries'} of {self.timeout:g} s "
            "(agent down, wrong community or unreachable)"
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
            self._transports[family] = transport
        return transport

    def _on_datagram(self, data: bytes, address: str, port: int) -> None:
        try:
            response = decode_response(data)
        except SnmpDecodeError:
            self.malformed += 1
            return
        entry = self._pending.get(response.request_id)
        if entry is None:
            return  # a late duplicate, or an answer to a request given up on
        future, expected_address, expected_port = entry
        if (address.split("%", 1)[0], port) != (expected_address, expected_port):
            return  # not from the agent we asked: ignore rather than trust
        if not future.done():
            future.set_result(response)
