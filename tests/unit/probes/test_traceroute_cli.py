"""``netgauge probe traceroute``: exit codes, one-line usage errors, --json keys (fake probe)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import netgauge.cli.probe_traceroute as cli
from netgauge.cli.app import app
from netgauge.models import ProbeResult, ProbeStatus, Target
from netgauge.probes.traceroute import TracerouteParams

HOPS: list[dict[str, Any]] = [
    {"ttl": 1, "address": "198.19.240.2", "name": "r1.lab", "sent": 3, "received": 3,
     "loss_pct": 0.0, "rtt_min_ms": 0.1, "rtt_avg_ms": 0.2, "rtt_max_ms": 0.3},
    {"ttl": 2, "address": None, "name": None, "sent": 3, "received": 0, "loss_pct": 100.0,
     "rtt_min_ms": None, "rtt_avg_ms": None, "rtt_max_ms": None},
]  # fmt: skip


class FakeProbe:
    """Stands in for TracerouteProbe: answers with ``status`` and remembers the params."""

    status = ProbeStatus.OK
    seen: list[TracerouteParams] = []

    async def run(self, target: Target, params: TracerouteParams) -> ProbeResult:
        FakeProbe.seen.append(params)
        metrics = {"hops": 2.0, "reached": 1.0, "rtt_ms": 0.5, "loss_pct": 0.0}
        error = None if self.status is ProbeStatus.OK else "not reached within 2 hops"
        details = {"hops": HOPS, "path": [h["address"] for h in HOPS]}
        return ProbeResult(target.name, "traceroute", 1, self.status, metrics, error, details)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeProbe]:
    monkeypatch.setattr(cli, "TracerouteProbe", FakeProbe)
    FakeProbe.seen = []
    FakeProbe.status = ProbeStatus.OK
    return FakeProbe


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["probe", "traceroute", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "TARGET"),
        (["not a host!!"], "neither an IP address nor a valid host name"),
        (["host.invalid"], "cannot be resolved"),
        (["127.0.0.1", "--probes", "0"], "--probes"),
        (["127.0.0.1", "--probes", "x"], "--probes"),
        (["127.0.0.1", "--max-hops", "31"], "--max-hops"),
        (["127.0.0.1", "--timeout", "-1"], "--timeout"),
        (["127.0.0.1", "--mode", "tcp"], "--mode"),
        (["127.0.0.1", "--bogus"], "--bogus"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    fake: type[FakeProbe], args: list[str], needle: str
) -> None:
    code, out, err = invoke(*args)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and needle in err
    assert fake.seen == []


def test_reached_exits_0_with_a_hop_table(fake: type[FakeProbe]) -> None:
    code, out, _err = invoke("127.0.0.1", "--mode", "icmp", "--probes", "2", "--max-hops", "5",
                             "--timeout", "0.5")  # fmt: skip
    assert code == 0
    assert fake.seen == [TracerouteParams(mode="icmp", probes=2, max_hops=5, timeout=0.5)]
    lines = out.splitlines()
    assert lines[0] == "traceroute to 127.0.0.1 (127.0.0.1): ok"
    assert lines[1].split() == ["hop", "address", "sent", "recv", "loss%", "min", "avg", "max"]
    assert lines[2].split() == [
        "1",
        "r1.lab",
        "(198.19.240.2)",
        "3",
        "3",
        "0.0%",
        "0.100",
        "0.200",
        "0.300",
    ]
    assert lines[3].split() == ["2", "???", "3", "0", "100.0%", "-", "-", "-"]


def test_not_reached_exits_1_and_json_has_every_key(fake: type[FakeProbe]) -> None:
    fake.status = ProbeStatus.TIMEOUT
    code, out, _err = invoke("127.0.0.1", "--json")
    assert code == 1
    body: dict[str, Any] = json.loads(out)
    assert list(body) == ["target", "address", "status", "error", "metrics", "hops", "path"]
    assert body["metrics"] == {"hops": 2.0, "reached": 1.0, "rtt_ms": 0.5, "loss_pct": 0.0}
    assert body["status"] == "timeout" and body["error"] == "not reached within 2 hops"
    assert body["hops"] == HOPS and body["path"] == ["198.19.240.2", None]
