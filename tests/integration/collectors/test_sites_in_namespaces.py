"""Three sites, each a lab network namespace with its own hosts and its own real
``netgauge collector`` process, reporting to a real ``netgauge serve`` across veth links.

* Each site's hosts are pinged from that site only, the samples labelled with its collector.
* A destination checked from all three sites (``vantage: [a, b, c]``, ``quorum: 2``): when
  one site loses it (iptables drops its pings there), the destination stays up; when two
  do, it is down; when they see it again, it is up.
* A site's link to the central is cut (iptables in its namespace) for longer than the
  central waits before calling it offline: its collector keeps checking, spools, and when
  the link is back every result arrives: no gap in any series of that site, none twice.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import NetgaugeServe, wait_for
from tests.lab.netns import Lab, missing_requirement, run

pytestmark = pytest.mark.skipif(
    missing_requirement(iptables=True) is not None,
    reason=f"collector sites: {missing_requirement(iptables=True)}",
)
INTERVAL_S = 3.0
SITES = ("a", "b", "c")
PING = "{count: 2, interval: 0.2, timeout: 1}"
CONFIG = """
sites: [{{name: a}}, {{name: b}}, {{name: c}}]
targets:
{hosts}
  - {{name: svc, address: 127.0.0.1}}
jobs:
  - {{name: ping, kind: icmp, params: {ping}, targets: [{names}], interval: {interval}}}
  - {{name: multi, kind: icmp, params: {ping}, targets: [svc], interval: {interval},
     vantage: [a, b, c], quorum: 2}}
"""


class Sites:
    """The labs, the central on the first lab's root-side address, a collector per site."""

    def __init__(self, stack: ExitStack, tmp: Path) -> None:
        self.labs = {site: stack.enter_context(Lab(ipv6=False)) for site in SITES}
        self.hosts = {site: lab.add_hosts(2) for site, lab in self.labs.items()}
        first = self.labs["a"].block4
        assert first is not None
        self.address = str(first[1])  # in the root namespace: every site reaches it
        lines = [
            f"  - {{name: {site}-h{i}, address: {address}, site: {site}}}"
            for site, addresses in self.hosts.items()
            for i, address in enumerate(addresses)
        ]
        names = ", ".join(f"{site}-h{i}" for site in SITES for i in range(2))
        config = tmp / "central.yaml"
        config.write_text(
            CONFIG.format(hosts="\n".join(lines), names=names, ping=PING, interval=INTERVAL_S)
        )
        self.central = NetgaugeServe(
            tmp / "data", config, args=["--host", self.address],
            env={"NETGAUGE_COLLECTOR_POLL_S": "0.5", "NETGAUGE_COLLECTOR_DEAD_AFTER_S": "2"},
        )  # fmt: skip
        self.central.url = f"http://{self.address}:{self.central.port}"
        self.central.http = httpx.Client(base_url=self.central.url, timeout=10)
        self.central.start()
        stack.callback(self.central.stop)
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.registered_ns: dict[str, int] = {}  # when each site got its collector
        for site in SITES:
            r = self.central.http.post(
                "/api/v1/collectors", json={"name": f"c{site}", "site": site}
            )
            assert r.status_code == 201, r.text
            self.registered_ns[site] = time.time_ns()
            token_file = tmp / f"c{site}.token"
            token_file.write_text(r.json()["token"])
            token_file.chmod(0o600)
            self.procs[site] = self.labs[site].spawn(
                sys.executable, "-m", "netgauge", "collector", "--server", self.central.url,
                "--token-file", str(token_file), "--data-dir", str(tmp / f"c{site}"),
                ready=None,
            )  # fmt: skip

    def http(self) -> httpx.Client:
        return self.central.http

    def in_site(self, site: str, *command: str) -> None:
        run("ip", "netns", "exec", self.labs[site].name, *command)

    def series(self, target: str) -> set[str]:
        rows = self.http().get("/api/v1/metrics/series", params={"target": target}).json()
        return {r["metric"] for r in rows}

    def stamps(self, target: str, metric: str) -> list[int]:
        params = {"target": target, "metric": metric, "from": "2000-01-01T00:00:00Z"}
        points = self.http().get("/api/v1/metrics", params=params).json()["points"]
        return [p["ts"] for p in points]

    def state(self, target: str) -> str:
        return str(self.http().get(f"/api/v1/status/{target}").json()["state"])

    def collectors(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: c for c in self.http().get("/api/v1/collectors").json()}


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[Sites]:
    with ExitStack() as stack:
        yield Sites(stack, tmp_path)


def test_three_sites_quorum_and_a_cut_link(sites: Sites) -> None:
    wait_for(lambda: all(c["state"] == "online" and c["targets"] == 3
                         for c in sites.collectors().values()) and len(sites.collectors()) == 3,
             timeout=60, what="3 collectors online, each with its 2 hosts and svc")  # fmt: skip
    vantage = {f'icmp.rtt_avg_ms{{vantage="c{s}"}}' for s in SITES}
    wait_for(lambda: vantage <= sites.series("svc"), timeout=60,
             what="svc measured from the three sites")  # fmt: skip
    for site in SITES:  # each site's hosts from that site only, once it has a collector
        # (the central's first round may come before; its view of the fleet is 1 s old)
        since = sites.registered_ns[site] + int(1.5e9)
        for i in range(2):
            got = {
                m
                for m in sites.series(f"{site}-h{i}")
                if m.startswith("icmp.rtt_avg_ms")
                and any(ts > since for ts in sites.stamps(f"{site}-h{i}", m))
            }
            assert got <= {f'icmp.rtt_avg_ms{{vantage="c{site}"}}'}, got
    wait_for(lambda: sites.state("svc") == "up", timeout=30, what="svc up")
    # the console: one smoke chart per vantage point, side by side; the collectors' page
    page = sites.http().get("/destinations/svc").text
    for site in SITES:
        assert f'id="chart-icmp-smoke-c{site}"' in page
        assert f'data-suffix="{{vantage=&#34;c{site}&#34;}}"' in page
    admin = sites.http().get("/admin/collectors").text
    assert all(f'data-collector="c{site}"' in admin for site in SITES)

    # quorum: one site losing svc is not an outage; two are
    drop = ("iptables", "-w", "-A", "OUTPUT", "-d", "127.0.0.1", "-p", "icmp", "-j", "DROP")
    undrop = ("iptables", "-w", "-D", "OUTPUT", "-d", "127.0.0.1", "-p", "icmp", "-j", "DROP")
    sites.in_site("a", *drop)
    try:
        since = time.time_ns()
        wait_for(lambda: any(ts > since for ts in sites.stamps("svc", 'icmp.loss_pct{vantage="ca"}')
                             if ts), timeout=30, what="site a's view after the drop")  # fmt: skip
        wait_for(
            lambda: len([t for t in sites.stamps("svc", "status") if t > since]) >= 4,
            timeout=30,
            what="4 decisions since",
        )
        assert sites.state("svc") == "up"
        sites.in_site("b", *drop)
        try:
            wait_for(lambda: sites.state("svc") == "down", timeout=4 * INTERVAL_S + 10,
                     what="svc down when two of three sites lose it")  # fmt: skip
        finally:
            sites.in_site("b", *undrop)
    finally:
        sites.in_site("a", *undrop)
    wait_for(lambda: sites.state("svc") == "up", timeout=4 * INTERVAL_S + 10, what="svc up again")

    # site c's link to the central cut for longer than dead_after: nothing lost, none twice
    cut = ("iptables", "-w", "-A", "OUTPUT", "-d", sites.address, "-j", "DROP")
    uncut = ("iptables", "-w", "-D", "OUTPUT", "-d", sites.address, "-j", "DROP")
    before = len(sites.stamps("c-h0", 'icmp.rtt_avg_ms{vantage="cc"}'))
    sites.in_site("c", *cut)
    cut_at = time.time_ns()
    try:
        wait_for(lambda: sites.collectors()["cc"]["state"] == "offline", timeout=30,
                 what="cc offline while its link is cut")  # fmt: skip
        # the cut lasts until the central has seen it offline, then 4 intervals more
        end = time.monotonic() + 4 * INTERVAL_S
        wait_for(lambda: time.monotonic() >= end, timeout=30, what="the cut to last")
    finally:
        sites.in_site("c", *uncut)
    restored_at = time.time_ns()
    wait_for(lambda: sites.collectors()["cc"]["state"] == "online"
             and sites.collectors()["cc"]["spool_pending"] == 0,
             timeout=60, what="cc back and its spool drained")  # fmt: skip
    wait_for(lambda: any(t > restored_at for t in
                         sites.stamps("c-h0", 'icmp.rtt_avg_ms{vantage="cc"}')),
             timeout=30, what="a check of c-h0 after the link is back")  # fmt: skip
    for i in range(2):
        ts = sites.stamps(f"c-h{i}", 'icmp.rtt_avg_ms{vantage="cc"}')
        assert len(ts) == len(set(ts))
        during = [t for t in ts if cut_at <= t <= restored_at]
        assert len(during) >= int((restored_at - cut_at) / 1e9 / INTERVAL_S) - 1, during
        gaps = [(b - a) / 1e9 for a, b in zip(ts, ts[1:], strict=False)]
        assert max(gaps) <= 1.5 * INTERVAL_S, gaps
    assert len(sites.stamps("c-h0", 'icmp.rtt_avg_ms{vantage="cc"}')) > before
