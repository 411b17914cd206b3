"""Which charts a target's page draws from its series names."""

from __future__ import annotations

from netgauge.web.pages.detail import families


def names(found: list) -> set[str]:  # type: ignore[type-arg]
    return {s["metric"] for f in found for s in f.series}


def test_bookkeeping_is_charted_only_when_asked_for() -> None:
    series = ["icmp.sent", "icmp.received", "icmp.rtt_avg_ms", "icmp.loss_pct", "status"]
    assert names(families(series)) == {"icmp.rtt_avg_ms", "icmp.loss_pct"}
    assert {"icmp.sent", "icmp.received"} <= names(families(series, everything=True))


def test_traffic_is_one_chart_in_bits_with_loopbacks_last() -> None:
    series = [
        f'net_{d}_bytes_per_sec{{interface="{i}"}}'
        for i in ("lo", "eth1", "Loopback0", "eth0")
        for d in ("in", "out")
    ]
    [traffic] = families(series)
    assert traffic.kind == "traffic" and traffic.unit == "bit/s"
    assert traffic.interfaces == ["eth0", "eth1", "Loopback0", "lo"]
    eth0 = [s for s in traffic.series if s["iface"] == "eth0"]
    assert sorted(s["direction"] for s in eth0) == ["in", "out"]
