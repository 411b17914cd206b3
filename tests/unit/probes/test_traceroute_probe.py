"""Traceroute engine over a fake path: hops, silent hops, stop at the destination, statuses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from netgauge.models import ProbeResult, ProbeStatus, Target
from netgauge.probes.base import PROBES
from netgauge.probes.builtin import load_builtin_probes
from netgauge.probes.traceroute import TracerouteParams, TracerouteProbe
from netgauge.probes.traceroute_hops import ProbeOutcome, hop_entry
from netgauge.probes.traceroute_packet import Answer, ReplyKind
from netgauge.probes.traceroute_socket import Reply, ReplySink, TraceMode

DEST = "198.19.240.14"
R1, R3 = "198.19.240.2", "198.19.240.10"
EXCEEDED = Answer(ReplyKind.TIME_EXCEEDED, 11, 0)
REACHED = Answer(ReplyKind.REACHED, 3, 3)
REFUSED = Answer(ReplyKind.UNREACHABLE, 3, 1)
FAST: dict[str, object] = {"timeout": 0.2, "interval": 0.0, "pace_ms": 0.0}


@dataclass
class FakePath:
    """TTL -> (who answers, how); TTLs past the end answer like the end. Answers ~1 ms later."""

    hops: dict[int, tuple[str, Answer] | None]
    sent: list[tuple[int, int]] = field(default_factory=list)  # (probe, ttl)
    closed: bool = False
    rtt_ns: int = 1_000_000
    drop: set[int] = field(default_factory=set)  # probe indexes never answered

    def opener(
        self, mode: TraceMode, family: int, target: str, n_probes: int, sink: ReplySink
    ) -> FakePath:
        self.sink, self.n_probes = sink, n_probes
        return self

    def send(self, index: int, ttl: int) -> None:
        assert 0 <= index < self.n_probes
        self.sent.append((index, ttl))
        hop = self.hops.get(min(ttl, max(self.hops)))
        if hop is None or index in self.drop:
            return
        reply = Reply(index, hop[0], hop[1], time.monotonic_ns() + self.rtt_ns)
        asyncio.get_running_loop().call_soon(self.sink, reply)

    def close(self) -> None:
        self.closed = True


CHAIN = {1: (R1, EXCEEDED), 2: None, 3: (R3, EXCEEDED), 4: (DEST, REACHED)}


async def trace(
    path: FakePath, address: str = DEST, **params: object
) -> tuple[ProbeResult, Mapping[str, Any]]:
    probe = TracerouteProbe(opener=path.opener)
    result = await probe.run(Target("t", address), TracerouteParams.model_validate(FAST | params))
    return result, result.details


async def test_path_with_a_silent_hop_reaches_the_destination() -> None:
    path = FakePath(dict(CHAIN))
    result, details = await trace(path)
    assert result.status is ProbeStatus.OK and result.error is None
    assert details["path"] == [R1, None, R3, DEST]
    assert [h["ttl"] for h in details["hops"]] == [1, 2, 3, 4]
    silent = details["hops"][1]
    assert (silent["sent"], silent["received"], silent["loss_pct"]) == (3, 0, 100.0)
    assert silent["rtt_avg_ms"] is None
    assert result.metrics["hops"] == 4.0 and result.metrics["reached"] == 1.0
    assert result.metrics["loss_pct"] == 0.0
    assert result.metrics["rtt_ms"] == pytest.approx(1.0, abs=0.5)
    assert path.closed


async def test_later_rounds_stop_at_the_destination() -> None:
    path = FakePath(dict(CHAIN))
    await trace(path, max_hops=30)
    # Round 0 may overshoot while answers are in flight; rounds 1 and 2 never pass TTL 4.
    later = [ttl for index, ttl in path.sent if index % 3 != 0]
    assert later and max(later) == 4
    assert sorted(later) == [1, 1, 2, 2, 3, 3, 4, 4]


async def test_max_hops_is_respected_and_the_partial_path_kept() -> None:
    path = FakePath({1: (R1, EXCEEDED), 2: None, 3: (R3, EXCEEDED), 4: None})
    result, details = await trace(path, max_hops=6)
    assert max(ttl for _i, ttl in path.sent) == 6
    assert len(path.sent) == 18
    assert result.status is ProbeStatus.TIMEOUT
    assert result.error == f"{DEST} not reached within 6 hops"
    assert details["path"] == [R1, None, R3, None, None, None]
    assert result.metrics == {"hops": None, "reached": 0.0, "rtt_ms": None, "loss_pct": 100.0}


async def test_unreachable_from_a_router_fails_and_stops_there() -> None:
    path = FakePath({1: (R1, EXCEEDED), 2: (R3, REFUSED)})
    result, details = await trace(path, max_hops=10)
    assert result.status is ProbeStatus.FAILED
    assert result.error == f"{DEST} unreachable: reported by {R3} at hop 2"
    assert details["path"] == [R1, R3]


async def test_partial_loss_at_the_destination() -> None:
    path = FakePath(dict(CHAIN), drop={3 * 3 + 1})  # second probe of TTL 4
    result, details = await trace(path)
    assert result.status is ProbeStatus.OK
    assert details["hops"][3]["received"] == 2
    assert result.metrics["loss_pct"] == pytest.approx(100 / 3, abs=0.01)


async def test_a_late_answer_counts_as_lost() -> None:
    path = FakePath(dict(CHAIN), rtt_ns=500_000_000)  # later than the 0.2 s timeout
    result, details = await trace(path, max_hops=4)
    assert result.status is ProbeStatus.TIMEOUT
    assert details["path"] == [None, None, None, None]


async def test_reverse_names_only_when_asked_and_from_the_injected_resolver() -> None:
    asked: list[str] = []

    async def resolver(address: str) -> str | None:
        asked.append(address)
        return {R1: "r1.lab"}.get(address)

    probe = TracerouteProbe(opener=FakePath(dict(CHAIN)).opener, resolver=resolver)
    result = await probe.run(Target("t", DEST), TracerouteParams.model_validate(FAST))
    assert all(hop["name"] is None for hop in result.details["hops"])
    assert asked == []
    params = TracerouteParams.model_validate(FAST | {"resolve_names": True})
    result = await probe.run(Target("t", DEST), params)
    assert [hop["name"] for hop in result.details["hops"]] == ["r1.lab", None, None, None]
    assert sorted(asked) == sorted([R1, R3, DEST])


async def test_a_target_that_is_not_an_ip_address_is_a_failed_result() -> None:
    path = FakePath(dict(CHAIN))
    result, details = await trace(path, address="example.invalid")
    assert result.status is ProbeStatus.FAILED
    assert "not an IP address" in (result.error or "")
    assert path.sent == [] and details["path"] == []


def test_hop_entry_aggregates_loss_and_rtts() -> None:
    outcomes = [
        ProbeOutcome(R1, 1_000_000, ReplyKind.TIME_EXCEEDED),
        ProbeOutcome(),
        ProbeOutcome(R1, 3_000_000, ReplyKind.TIME_EXCEEDED),
        ProbeOutcome(R3, 2_000_000, ReplyKind.TIME_EXCEEDED),
    ]
    entry = hop_entry(5, outcomes)
    assert entry["ttl"] == 5 and entry["address"] == R1 and entry["name"] is None
    assert (entry["sent"], entry["received"], entry["loss_pct"]) == (4, 3, 25.0)
    assert (entry["rtt_min_ms"], entry["rtt_avg_ms"], entry["rtt_max_ms"]) == (1.0, 2.0, 3.0)
    assert entry["addresses"] == sorted([R1, R3])


def test_hop_entry_of_a_silent_hop() -> None:
    entry = hop_entry(2, [ProbeOutcome()] * 3)
    assert entry["address"] is None and entry["loss_pct"] == 100.0
    assert entry["rtt_min_ms"] is None and "addresses" not in entry


@pytest.mark.parametrize(
    "bad",
    [
        {"probes": 0},
        {"probes": 1001},
        {"probes": 901, "interval": 1.0},  # over 15 minutes of rounds
        {"max_hops": 0},
        {"max_hops": 31},
        {"timeout": 0},
        {"mode": "tcp"},
        {"bogus": 1},
    ],
)
def test_params_validation(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TracerouteParams.model_validate(bad)


def test_defaults_and_registration() -> None:
    params = TracerouteParams()
    assert (params.mode, params.probes, params.max_hops) == (TraceMode.UDP, 3, 30)
    assert params.resolve_names is False
    load_builtin_probes()
    assert PROBES.get("traceroute") is TracerouteProbe
