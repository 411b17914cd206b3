"""Target resolution: literals directly, junk refused before any lookup, names via lookup."""

from __future__ import annotations

import socket

import pytest

from netgauge.errors import TargetResolutionError
from netgauge.models import ProbeStatus, Target
from netgauge.probes.icmp import IcmpProbe
from netgauge.probes.icmp_resolve import (
    is_hostname,
    parse_ip_literal,
    resolve_address,
    resolve_each,
    resolve_targets,
)


async def no_lookup(name: str) -> list[str]:
    raise AssertionError(f"{name!r} must not be looked up")


class FakeResolver:
    """A lookup from a table; records what was asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, name: str) -> list[str]:
        self.asked.append(name)
        if name not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[name]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("FD5E:6E67:0:0::0010", "fd5e:6e67::10"),
        ("fe80::1%eth0", "fe80::1%eth0"),
        # IPv4-mapped IPv6 is probed (and reported) as the IPv4 address it maps.
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("[::FFFF:7f00:2]", "127.0.0.2"),
        ("0:0:0:0:0:ffff:198.18.0.1", "198.18.0.1"),
    ],
)
def test_ip_literals_are_canonical(text: str, canonical: str) -> None:
    assert parse_ip_literal(text) == canonical


@pytest.mark.parametrize(
    "text", ["999.1.1.1", "1.2.3", "a b", "127.0.0.1%eth0", "::1::2", "::1%lo", "fd00::1%eth0"]
)
def test_non_literals(text: str) -> None:
    assert parse_ip_literal(text) is None


@pytest.mark.parametrize("name", ["localhost", "example.org", "a-b.c0.example.", "x" * 63])
def test_valid_host_names(name: str) -> None:
    assert is_hostname(name)


@pytest.mark.parametrize(
    "name", ["not a host!!", "999.1.1.1", "-bad.example", "bad-.example", "a..b", "", "x" * 64]
)
def test_invalid_host_names(name: str) -> None:
    assert not is_hostname(name)


@pytest.mark.parametrize("name", ["not a host!!", "999.1.1.1", "a b", "host.invalid", "invalid"])
async def test_junk_and_dot_invalid_are_refused_without_a_lookup(name: str) -> None:
    with pytest.raises(TargetResolutionError, match="cannot be resolved|neither"):
        await resolve_address(name, lookup=no_lookup)


async def test_literals_need_no_lookup() -> None:
    assert await resolve_address("10.1.2.3", lookup=no_lookup) == "10.1.2.3"


async def test_names_resolve_to_their_first_address() -> None:
    lookup = FakeResolver({"router.lab": ["198.18.0.16", "fd5e:6e67::10"]})
    assert await resolve_address("router.lab", lookup=lookup) == "198.18.0.16"


async def test_lookup_failure_is_a_resolution_error() -> None:
    with pytest.raises(TargetResolutionError, match="gone.lab"):
        await resolve_address("gone.lab", lookup=FakeResolver({}))


async def test_resolve_targets_keeps_names_and_order() -> None:
    lookup = FakeResolver({"a.lab": ["198.18.0.20"], "b.lab": ["fd5e:6e67::11"]})
    targets = await resolve_targets(["b.lab", "127.0.0.1", "a.lab"], lookup=lookup)
    assert targets == [
        Target(name="b.lab", address="fd5e:6e67::11"),
        Target(name="127.0.0.1", address="127.0.0.1"),
        Target(name="a.lab", address="198.18.0.20"),
    ]


async def test_one_bad_name_refuses_the_batch_before_any_lookup() -> None:
    lookup = FakeResolver({"a.lab": ["198.18.0.20"]})
    with pytest.raises(TargetResolutionError, match="not a host"):
        await resolve_targets(["a.lab", "not a host!!"], lookup=lookup)
    assert lookup.asked == []


async def test_one_unresolvable_name_raises_the_resolution_error_itself() -> None:
    lookup = FakeResolver({f"h{i}.lab": ["198.18.0.20"] for i in range(100)})
    names = [f"h{i}.lab" for i in range(100)] + ["nope.lab"]
    with pytest.raises(TargetResolutionError, match="nope.lab"):
        await resolve_targets(names, lookup=lookup)


async def test_thousands_of_literals_resolve_at_once() -> None:
    names = [f"127.0.{i // 256}.{i % 256}" for i in range(10_000)]
    targets = await resolve_targets(names, lookup=no_lookup)
    assert [t.address for t in targets] == names


async def test_resolve_each_reports_failures_in_place() -> None:
    lookup = FakeResolver({"a.lab": ["198.18.0.20"]})
    results = await resolve_each(["a.lab", "a b", "127.0.0.1", "gone.lab"], lookup=lookup)
    assert results[0] == "198.18.0.20" and results[2] == "127.0.0.1"
    assert isinstance(results[1], TargetResolutionError)
    assert isinstance(results[3], TargetResolutionError) and "gone.lab" in str(results[3])


async def test_probe_reports_an_unresolvable_target_as_a_failed_result() -> None:
    # Probing starts no socket when no target resolves: nothing is sent.
    results = await IcmpProbe().run_batch([Target(name="t", address="x.invalid")], {"count": 1})
    assert results[0].status is ProbeStatus.FAILED
    assert results[0].error is not None and "x.invalid" in results[0].error
    assert results[0].metrics["sent"] == 0


async def test_an_ipv4_mapped_target_is_resolved_to_ipv4() -> None:
    mapped = FakeResolver({"mapped.example": ["::ffff:192.0.2.7"]})
    assert await resolve_address("mapped.example", lookup=mapped) == "192.0.2.7"
    targets = await resolve_targets(["::ffff:127.0.0.1"], lookup=no_lookup)
    assert targets == [Target(name="::ffff:127.0.0.1", address="127.0.0.1")]


def test_the_ipv4_fast_path_agrees_with_ipaddress() -> None:
    from netgauge.probes.icmp_resolve import parse_ip_literal

    assert parse_ip_literal("198.18.0.1") == "198.18.0.1"
    assert parse_ip_literal(" 198.18.0.1 ") == "198.18.0.1"  # stripped by the slow path
    assert parse_ip_literal("198.018.0.1") is None  # leading zero: ambiguous, refused
    assert parse_ip_literal("198.18.1") is None  # inet_aton would take it; we do not
    assert parse_ip_literal("256.1.1.1") is None
