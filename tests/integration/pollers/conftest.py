"""Fixtures of the device poller tests: a real net-snmp agent, a real OpenSSH server and
snmpsim serving recorded device walks, on 127.0.0.1 for the session.

Traffic goes only to the servers these fixtures start on 127.0.0.1 (see ``tests.lab.snmpd``,
``tests.lab.sshd`` and ``tests.lab.snmpsim``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.snmpd import Snmpd, missing_snmpd
from tests.lab.snmpsim import SnmpSim, missing_snmpsim
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


SNMPREC_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "snmprec"
"""Recorded device walks (``<community>.snmprec``), described in its README.md."""


@pytest.fixture(scope="session")
def snmpsim() -> Iterator[SnmpSim]:
    """snmpsim on 127.0.0.1 for the whole session (stopped after it), serving every walk of
    ``tests/fixtures/snmprec``, each under its file name as v1/v2c community.

    A test that changes what a device serves (:meth:`SnmpSim.replace`) puts the recorded
    walks back afterwards (:meth:`SnmpSim.restore`). Skips, naming the PyPI package, when
    snmpsim is not installed.
    """
    reason = missing_snmpsim()
    if reason:
        pytest.skip(reason)
    with SnmpSim.from_directory(SNMPREC_DIR) as agent:
        yield agent
