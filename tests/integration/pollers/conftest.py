"""Fixtures of the SNMP poller tests: a real net-snmp agent on 127.0.0.1 for the session.

Traffic goes only to the agent these fixtures start on 127.0.0.1 (see ``tests.lab.snmpd``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.snmpd import Snmpd, missing_snmpd


@pytest.fixture(scope="session")
def snmpd() -> Iterator[Snmpd]:
    """One snmpd for the whole session (stopped after it), so hrProcessorLoad warms up once.

    Skips, naming the Debian package, when snmpd or net-snmp's client tools are missing.
    """
    reason = missing_snmpd()
    if reason:
        pytest.skip(reason)
    with Snmpd() as agent:
        yield agent
