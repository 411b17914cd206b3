"""Accuracy of the ICMP probe against lab hosts with known loss, delay and jitter.

Loss: the iptables ``statistic`` match drops each echo request with probability 0.10,
independently, so the lost count of n packets is Binomial(n, 0.10). The test accepts the
measured count when it lies in the exact central 99.9 % interval of that distribution
(quantiles of the binomial CDF computed with exact integers, no approximation), so it fails
by chance once in a thousand runs at most. It also reports the exact Clopper-Pearson
99.9 % confidence interval of the measured loss, which must contain 10 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.icmp import IcmpParams, IcmpProbe
from tests.integration.probes.conftest import DelayLab
from tests.lab import Lab, missing_requirement
from tests.lab.netns import lab_namespaces

pytestmark = [pytest.mark.privileged, pytest.mark.network]

LOSS = 0.10
PACKETS = 200
LEVEL = 0.999


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed exactly."""
    q = Fraction(p)
    total = sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(0, k + 1))
    return float(total)


def binomial_interval(n: int, p: float, level: float) -> tuple[int, int]:
    """The exact central interval [lo, hi] of Binomial(n, p): P(X < lo), P(X > hi) <= a/2."""
    tail = (1 - level) / 2
    lo = next(k for k in range(n + 1) if binomial_cdf(k, n, p) > tail)
    hi = next(k for k in range(n + 1) if 1 - binomial_cdf(k, n, p) <= tail)
    return lo, hi


def clopper_pearson(k: int, n: int, level: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval of a proportion, by bisection on the CDF."""
    tail = (1 - level) / 2

    def solve(target: float, cdf_at: int, rising: bool) -> float:
        low, high = 0.0, 1.0
        for _ in range(60):  # bounded bisection: 2^-60 is far below any meaningful width
            mid = (low + high) / 2
            value = binomial_cdf(cdf_at, n, mid)
            if (value > target) == rising:
                high = mid
            else:
                low = mid
        return (low + high) / 2

    lower = 0.0 if k == 0 else solve(1 - tail, k - 1, False)
    upper = 1.0 if k == n else solve(tail, k, False)
    return lower, upper


def test_the_intervals_match_known_values() -> None:
    # P(X <= 7) = 0.000485 and P(X >= 36) = 0.000388, both under 0.0005 (= scipy's
    # binom.interval(0.999, 200, 0.1)); the interval covers 99.913 %.
    assert binomial_interval(200, 0.10, 0.999) == (8, 35)
    lower, upper = clopper_pearson(20, 200, 0.95)
    # The defining property: each bound leaves exactly 2.5 % in its tail.
    assert 1 - binomial_cdf(19, 200, lower) == pytest.approx(0.025, abs=1e-6)
    assert binomial_cdf(20, 200, upper) == pytest.approx(0.025, abs=1e-6)
    assert lower == pytest.approx(0.06216, abs=1e-4) and upper == pytest.approx(0.15021, abs=1e-4)


@pytest.fixture(scope="module")
def lossy_host() -> Iterator[str]:
    reason = missing_requirement(iptables=True)
    if reason:
        pytest.skip(reason)
    with Lab(ipv6=False) as lab:
        yield lab.add_lossy_host(LOSS)


async def test_ten_percent_loss_is_measured_within_the_binomial_interval(
    lossy_host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    params = IcmpParams(count=PACKETS, interval=0.005, timeout=0.5, pace_ms=0)
    result = await IcmpProbe().run(Target(name="lossy", address=lossy_host), params)
    m = result.metrics
    assert m["sent"] == PACKETS and m["loss_pct"] is not None
    lost = round(PACKETS - (m["received"] or 0))
    lo, hi = binomial_interval(PACKETS, LOSS, LEVEL)
    lower, upper = clopper_pearson(lost, PACKETS, LEVEL)
    with capsys.disabled():
        print(f"\n  loss {m['loss_pct']:.1f} % ({lost}/{PACKETS}); 99.9 % acceptance "
              f"[{lo}, {hi}] lost; Clopper-Pearson [{lower:.3f}, {upper:.3f}]")  # fmt: skip
    assert lo <= lost <= hi
    assert lower <= LOSS <= upper


async def test_delayed_host_has_the_configured_median_and_some_jitter(
    delay_lab: DelayLab, capsys: pytest.CaptureFixture[str]
) -> None:
    params = IcmpParams(count=100, interval=0.01, timeout=1.0, pace_ms=0)
    result = await IcmpProbe().run(Target(name="slow", address=delay_lab.delayed4), params)
    m = result.metrics
    assert result.status is ProbeStatus.OK and m["received"] == 100
    median, jitter = m["rtt_median_ms"], m["jitter_ms"]
    assert median is not None and jitter is not None
    with capsys.disabled():
        print(f"\n  median {median:.3f} ms, jitter {jitter:.3f} ms, min {m['rtt_min_ms']:.3f}, "
              f"max {m['rtt_max_ms']:.3f}, p95 {m['rtt_p95_ms']:.3f}")  # fmt: skip
    assert abs(median - delay_lab.delay_ms) <= 2.0
    assert jitter > 0
    # The kernel no longer answers there: every reply waited at least delay - jitter.
    assert m["rtt_min_ms"] is not None and m["rtt_min_ms"] >= delay_lab.delay_ms - 5.0


async def test_host_that_never_answers_is_a_timeout_with_total_loss(
    delay_lab: DelayLab,
) -> None:
    params = IcmpParams(count=20, interval=0.005, timeout=0.3, pace_ms=0)
    result = await IcmpProbe().run(Target(name="mute", address=delay_lab.silent4), params)
    assert result.status is ProbeStatus.TIMEOUT
    assert result.metrics["loss_pct"] == 100.0 and result.metrics["received"] == 0
    assert result.metrics["rtt_median_ms"] is None and result.details["rtts_ms"] == []


def test_the_delay_responder_stops_with_its_lab() -> None:
    if reason := missing_requirement():
        pytest.skip(reason)
    with Lab(ipv6=False) as lab:
        lab.add_hosts(1)
        lab.start_delay(1.0, 0.5, distribution="normal", seed=3, max_seconds=60)
        assert lab.responder is not None and lab.responder.poll() is None
        pid = lab.responder.pid
    assert not Path(f"/proc/{pid}").exists()
    assert lab.name not in lab_namespaces()
