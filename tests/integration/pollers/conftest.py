"""Fixtures of the device poller tests: a real net-snmp agent and a real OpenSSH server on
127.0.0.1 for the session.

Traffic goes only to the servers these fixtures start on 127.0.0.1 (see ``tests.lab.snmpd``
and ``tests.lab.sshd``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.snmpd import Snmpd, missing_snmpd
from tests.lab.sshd import Sshd, missing_sshd


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


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    """One OpenSSH sshd on 127.0.0.1 for the whole session (stopped after it), with its own
    host key, an authorized client key for root and a known_hosts file listing it.

    Skips, naming the Debian package, when sshd or ssh-keygen is missing.
    """
    reason = missing_sshd()
    if reason:
        pytest.skip(reason)
    with Sshd() as server:
        yield server
