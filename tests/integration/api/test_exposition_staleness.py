"""/metrics never shows a value the newest round did not have: a destination that stops
answering (its namespace link cut: 100 % loss, as when a cable fails) keeps
``netgauge_icmp_loss_pct`` (now 100) and loses ``netgauge_icmp_rtt_avg_ms`` at once, so
Prometheus marks the RTT stale instead of storing fresh copies of the pre-outage value.
Real ICMP to a host in a network namespace this test creates; the exposition is checked by
Prometheus's own ``promtool check metrics`` where installed."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.api.routes.exposition import series_families
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.service import Service
from netgauge.storage.base import LatestValue
from tests.conftest import as_admin, wait_for
from tests.lab import Lab, missing_requirement

pytestmark = [pytest.mark.network, pytest.mark.privileged]

PROMTOOL = Path("/usr/bin/promtool")
RTT = 'netgauge_icmp_rtt_avg_ms{device="gw"}'
LOSS = 'netgauge_icmp_loss_pct{device="gw"}'


def _value(text: str, series: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    return None


@pytest.fixture
def lab_host() -> Iterator[tuple[Lab, str]]:
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    with Lab(ipv6=False) as lab:
        yield lab, lab.add_hosts(1)[0]


def test_a_metric_without_a_value_in_the_newest_round_disappears(
    tmp_path: Path, lab_host: tuple[Lab, str]
) -> None:
    lab, host = lab_host
    config = f"""
targets:
  - {{name: gw, address: {host}}}
jobs:
  - name: ping
    kind: icmp
    params: {{count: 3, interval: 0.05, timeout: 0.5, pace_ms: 0}}
    selector: {{type: destination}}
    interval: 1s
"""
    settings = Settings(data_dir=tmp_path / "data", port=0)
    service = Service(settings, load_config_text(config, "stale.yaml").config, "stale.yaml")
    with TestClient(create_app(service)) as client:
        as_admin(client)

        def scrape_when(ready: Callable[[str], bool]) -> Callable[[], str | None]:
            def scrape() -> str | None:
                text = client.get("/metrics").text
                return text if ready(text) else None

            return scrape

        before = wait_for(
            scrape_when(lambda t: _value(t, RTT) is not None), timeout=20, what="an RTT"
        )
        assert _value(before, LOSS) == 0.0
        lab.set_link(up=False)  # every round from now on: 100 % loss, no RTT
        after = wait_for(
            scrape_when(lambda t: _value(t, LOSS) == 100), timeout=20, what="a 100 % loss round"
        )
        assert _value(after, RTT) is None, "the pre-outage RTT is still exposed"
        # the round's sample is stored with the time it was taken: no timestamp is added
        assert f"{LOSS} 100.0\n" in after
        if PROMTOOL.exists():
            done = subprocess.run(
                [str(PROMTOOL), "check", "metrics"], input=after, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stdout + done.stderr


def test_values_of_targets_not_checked_since_start_carry_their_own_time() -> None:
    old = LatestValue("gw", "icmp.rtt_avg_ms", 1_700_000_000_250_000_000, 4.5)
    [family] = series_families([old], [], lambda _device: None)
    [sample] = family.samples
    assert sample.timestamp == pytest.approx(1_700_000_000.25, abs=1e-6) and sample.value == 4.5
    # once checked, only what the newest round had is shown, as of now
    assert series_families([old], [], lambda _device: {"icmp.loss_pct"}) == []
    [family] = series_families([old], [], lambda _device: {"icmp.rtt_avg_ms"})
    assert family.samples[0].timestamp is None
