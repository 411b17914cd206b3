"""A table-driven SNMP agent in memory for the poller's logic tests (the real agent,
net-snmp's snmpd, is in the integration tests): ``values`` maps full OIDs to values, and
``get``/``walk`` answer as an agent would, v2c style."""

from __future__ import annotations

from collections.abc import Sequence

from netgauge.pollers.snmp_ber import NO_SUCH_OBJECT, Value
from netgauge.pollers.snmp_client import Credentials, Endpoint, Oid, SnmpTimeoutError


class FakeAgent:
    def __init__(self, values: dict[Oid, Value] | None = None) -> None:
        self.values: dict[Oid, Value] = dict(values or {})
        self.silent = False
        self.walked: list[Oid] = []

    async def get(
        self, endpoint: Endpoint, credentials: Credentials, oids: Sequence[Oid]
    ) -> dict[Oid, Value]:
        self._answer(endpoint)
        return {oid: self.values.get(oid, NO_SUCH_OBJECT) for oid in oids}

    async def walk(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        columns: Sequence[Oid],
        *,
        max_repetitions: int = 25,
    ) -> dict[Oid, dict[Oid, Value]]:
        self._answer(endpoint)
        self.walked.extend(columns)
        return {
            column: {
                oid[len(column) :]: value
                for oid, value in sorted(self.values.items())
                if oid[: len(column)] == column and len(oid) > len(column)
            }
            for column in columns
        }

    def _answer(self, endpoint: Endpoint) -> None:
        if self.silent:
            raise SnmpTimeoutError(f"{endpoint}: no SNMP answer")


def oid(text: str) -> Oid:
    return tuple(int(arc) for arc in text.split("."))
