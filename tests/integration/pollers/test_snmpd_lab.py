"""The snmpd lab fixture itself: a real net-snmp agent on loopback, read with net-snmp's tools.

Traffic goes only to the agents started here on 127.0.0.1. No test waits for hrProcessorLoad.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from tests.lab.snmpd import (
    SYS_CONTACT,
    SYS_LOCATION,
    SYS_UPTIME,
    Snmpd,
    SnmpError,
    V3User,
    parse_varbinds,
)

pytestmark = [pytest.mark.network]

IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
HR_STORAGE_DESCR = "1.3.6.1.2.1.25.2.3.1.3"
MEM_TOTAL_REAL = "1.3.6.1.4.1.2021.4.5.0"
MEM_AVAIL_REAL = "1.3.6.1.4.1.2021.4.6.0"
SS_CPU_RAW_USER = "1.3.6.1.4.1.2021.11.50.0"
SS_CPU_RAW_IDLE = "1.3.6.1.4.1.2021.11.53.0"


def test_v2c_get_reads_the_configured_system_strings(snmpd: Snmpd) -> None:
    assert snmpd.address == "127.0.0.1"
    assert isinstance(snmpd.port, int) and snmpd.port > 0
    first = snmpd.snmpget([SYS_UPTIME, SYS_LOCATION, SYS_CONTACT])
    assert first[SYS_LOCATION] == snmpd.sys_location
    assert first[SYS_CONTACT] == snmpd.sys_contact
    assert first[SYS_UPTIME].isdigit()  # timeticks, raw hundredths of a second
    second = snmpd.snmpget([SYS_UPTIME])
    assert int(second[SYS_UPTIME]) >= int(first[SYS_UPTIME])


def test_v3_authpriv_get_works_for_every_user(snmpd: Snmpd) -> None:
    assert snmpd.v3_users["SHA"].name == snmpd.v3_user
    assert (snmpd.v3.auth_key, snmpd.v3.priv_key) == (snmpd.auth_key, snmpd.priv_key)
    assert len(snmpd.auth_key) >= 8 and len(snmpd.priv_key) >= 8
    for user in snmpd.v3_users.values():
        got = snmpd.snmpget([SYS_LOCATION], version="3", user=user)
        assert got[SYS_LOCATION] == snmpd.sys_location, user.auth_protocol


def test_v3_wrong_auth_key_is_refused(snmpd: Snmpd) -> None:
    wrong = dataclasses.replace(snmpd.v3, auth_key="not-the-" + snmpd.auth_key)
    with pytest.raises(SnmpError, match="Authentication failure"):
        snmpd.snmpget([SYS_UPTIME], version="3", user=wrong, timeout_s=1, retries=0)


def test_v3_unknown_user_is_refused(snmpd: Snmpd) -> None:
    stranger = V3User("nobody-here", "SHA", snmpd.auth_key, "AES", snmpd.priv_key)
    with pytest.raises(SnmpError, match="Unknown user"):
        snmpd.snmpget([SYS_UPTIME], version="3", user=stranger, timeout_s=1, retries=0)


def test_wrong_community_gets_no_answer(snmpd: Snmpd) -> None:
    started = time.monotonic()
    with pytest.raises(SnmpError, match="Timeout"):
        snmpd.snmpget([SYS_UPTIME], community="wrong-" + snmpd.community, timeout_s=1, retries=0)
    assert time.monotonic() - started < 5


def test_walk_of_if_hc_in_octets_includes_loopback(snmpd: Snmpd) -> None:
    names = snmpd.snmpwalk(IF_NAME)
    lo_index = next(oid.rsplit(".", 1)[1] for oid, name in names.items() if name == "lo")
    octets = snmpd.snmpwalk(IF_HC_IN_OCTETS)
    assert f"{IF_HC_IN_OCTETS}.{lo_index}" in octets
    assert all(value.isdigit() for value in octets.values())
    assert snmpd.snmpwalk(IF_DESCR)[f"{IF_DESCR}.{lo_index}"] == "lo"


def test_the_mibs_the_pollers_read_are_served(snmpd: Snmpd) -> None:
    memory = snmpd.snmpget([MEM_TOTAL_REAL, MEM_AVAIL_REAL, SS_CPU_RAW_USER, SS_CPU_RAW_IDLE])
    assert all(value.isdigit() for value in memory.values()), memory
    assert 0 < int(memory[MEM_AVAIL_REAL]) <= int(memory[MEM_TOTAL_REAL])
    storage = snmpd.snmpwalk(HR_STORAGE_DESCR)
    assert "Physical memory" in storage.values()
    # v3 reads the same tree
    assert snmpd.snmpwalk(HR_STORAGE_DESCR, version="3").keys() == storage.keys()


def test_walk_of_an_empty_subtree_is_empty(snmpd: Snmpd) -> None:
    assert snmpd.snmpwalk("1.3.6.1.2.1.99") == {}
    absent = "1.3.6.1.2.1.1.99.0"
    assert snmpd.snmpget([absent])[absent].startswith("No Such")


def test_two_agents_run_at_once_on_different_ports(snmpd: Snmpd) -> None:
    with Snmpd(sys_location="second agent") as other:
        assert other.port != snmpd.port
        assert other.community != snmpd.community
        assert other.snmpget([SYS_LOCATION])[SYS_LOCATION] == "second agent"
        assert snmpd.snmpget([SYS_LOCATION])[SYS_LOCATION] == snmpd.sys_location
        with pytest.raises(SnmpError, match="Timeout"):
            other.snmpget([SYS_UPTIME], community=snmpd.community, timeout_s=1, retries=0)
        directory = other.directory
    assert not other.running
    assert not directory.exists()


def test_parse_varbinds_normalizes_net_snmp_output() -> None:
    output = (
        '.1.3.6.1.2.1.1.4.0 = STRING: "lab \\"con\\" back\\\\slash"\n'
        ".1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.8072.3.2.10\n"
        ".1.3.6.1.2.1.1.3.0 = 1037\n"
        '.1.3.6.1.2.1.2.2.1.6.1 = ""\n'
        ".1.3.6.1.6.3.10.2.1.1.0 = Hex-STRING: 80 00 1F 88 80 83 0F 19 20 EA 54 04 6B 00 00 00 \n"
        "00 \n"
        ".1.3.6.1.2.1.31.1.1.1.6.1 = Counter64: 13284887\n"
        ".1.3.6.1.2.1.1.7.0 = No Such Instance currently exists at this OID\n"
    )
    assert parse_varbinds(output) == {
        "1.3.6.1.2.1.1.4.0": 'lab "con" back\\slash',
        "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.8072.3.2.10",
        "1.3.6.1.2.1.1.3.0": "1037",
        "1.3.6.1.2.1.2.2.1.6.1": "",
        "1.3.6.1.6.3.10.2.1.1.0": "80 00 1F 88 80 83 0F 19 20 EA 54 04 6B 00 00 00 00",
        "1.3.6.1.2.1.31.1.1.1.6.1": "13284887",
        "1.3.6.1.2.1.1.7.0": "No Such Instance currently exists at this OID",
    }
