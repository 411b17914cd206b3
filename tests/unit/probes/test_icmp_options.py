"""Socket options of the ICMP probe: TTL, TOS (DSCP), size and the source address."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from netgauge.models import ProbeStatus, Target
from netgauge.probes.icmp import IcmpParams, IcmpProbe
from tests.unit.probes.fake_icmp import FakeOpener

FAST = {"count": 1, "interval": 0.001, "timeout": 1.0, "pace_ms": 0}


async def test_ttl_tos_and_source_reach_the_socket() -> None:
    opener = FakeOpener()
    params = IcmpParams(ttl=7, tos=184, source="127.0.0.1", **FAST)
    result = await IcmpProbe(opener=opener).run(Target(name="t", address="127.0.0.2"), params)
    assert result.status is ProbeStatus.OK
    assert opener.options[socket.AF_INET] == {"ttl": 7, "tos": 184, "source": "127.0.0.1"}


async def test_a_target_of_the_other_family_than_the_source_fails_as_data() -> None:
    opener = FakeOpener()
    params = IcmpParams(source="127.0.0.1", **FAST)
    targets = [Target(name=a, address=a) for a in ("127.0.0.2", "::1")]
    results = await IcmpProbe(opener=opener).run_batch(targets, params)
    assert [r.status for r in results] == [ProbeStatus.OK, ProbeStatus.FAILED]
    assert results[1].error is not None and "source address 127.0.0.1" in results[1].error
    assert socket.AF_INET6 not in opener.socks  # never opened


def test_the_source_must_be_an_address_literal() -> None:
    with pytest.raises(ValidationError, match="not an IP address"):
        IcmpParams(source="gateway.example")
    assert IcmpParams(source="fd5e:6e67:0::1").source == "fd5e:6e67::1"


def test_the_count_default_stays_5_for_one_shot_runs() -> None:
    assert IcmpParams().count == 5
