"""Target state from the newest result of each job covering it."""

from __future__ import annotations

from netgauge.models import ProbeResult, ProbeStatus
from netgauge.status import StatusTracker


def result(target: str, up: bool, ts: int, kind: str = "icmp") -> ProbeResult:
    status = ProbeStatus.OK if up else ProbeStatus.TIMEOUT
    return ProbeResult(target, kind, ts, status, {}, None if up else "no reply")


def test_up_down_degraded_and_since() -> None:
    t = StatusTracker()
    assert t.update("ping", result("gw", True, 10)).state == "up"
    assert t.update("tcp", result("gw", False, 20, "tcp")).state == "degraded"
    st = t.update("ping", result("gw", False, 30))
    assert (st.state, st.since_ns, st.last_ns) == ("down", 30, 30)
    assert t.update("ping", result("gw", False, 40)).since_ns == 30  # repeats keep `since`


def test_a_job_that_stops_covering_a_target_no_longer_counts() -> None:
    t = StatusTracker()
    t.update("ping", result("gw", True, 10))
    t.update("tcp", result("gw", False, 10, "tcp"))
    t.covered("ping", ["gw"])
    t.covered("tcp", ["gw"])
    assert t.get("gw").state == "degraded"  # type: ignore[union-attr]
    t.covered("tcp", [])  # the tcp job's selector no longer matches gw
    assert t.get("gw").state == "up"  # type: ignore[union-attr]
    t.forget_job("ping")
    st = t.get("gw")
    assert st is not None and st.state == "unknown" and st.checks == {}
    assert t.jobs() == ["tcp"]
