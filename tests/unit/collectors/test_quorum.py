"""A target's state from several vantage sites, by quorum."""

from __future__ import annotations

from netgauge.collectors.quorum import QuorumStates
from netgauge.models import ProbeResult, ProbeStatus

S = 1_000_000_000


def seen(ts_s: float, up: bool) -> ProbeResult:
    status = ProbeStatus.OK if up else ProbeStatus.TIMEOUT
    return ProbeResult("t", "icmp", int(ts_s * S), status, {"rtt_avg_ms": 1.0} if up else {},
                       None if up else "no reply")  # fmt: skip


def test_down_only_when_the_quorum_of_fresh_vantage_points_agrees() -> None:
    q = QuorumStates()
    sites = ["a", "b", "c"]

    def decide(ts: float, site: str, up: bool) -> ProbeResult:
        decided = q.decide("j", sites, 2, 60, site, f"{site}1", seen(ts, up))
        assert decided is not None
        return decided

    assert decide(0, "a", True).up
    assert decide(1, "b", True).up
    assert decide(2, "c", False).up  # one site's uplink: not an outage
    d = decide(60, "a", False)
    assert not d.up and "2 of 3" in (d.error or "") and "a: no reply" in (d.error or "")
    assert d.details["vantage"]["b"]["up"] is True
    assert decide(61, "c", True).up  # c sees it again: a alone is not a quorum
    # a site silent for more than 2.5 intervals no longer counts: a alone seeing it down
    # is too few to decide (its state stays as it was), a alone seeing it up is up
    q2 = QuorumStates()
    q2.decide("j", sites, 2, 60, "b", "b1", seen(0, False))
    assert q2.decide("j", sites, 2, 60, "a", "a1", seen(200, False)) is None
    late = q2.decide("j", sites, 2, 60, "a", "a1", seen(260, True))
    assert late is not None and late.up and set(late.details["vantage"]) == {"a"}


def test_a_new_leaders_first_results_do_not_end_an_outage() -> None:
    """A new leader starts with no views: the first site's "down" is too few to decide,
    the second's makes the quorum; "up" is never decided in between."""
    q = QuorumStates()  # the new leader's
    sites = ["a", "b", "c"]
    assert q.decide("j", sites, 2, 60, "a", "a1", seen(0, False)) is None
    second = q.decide("j", sites, 2, 60, "b", "b1", seen(1, False))
    assert second is not None and not second.up
