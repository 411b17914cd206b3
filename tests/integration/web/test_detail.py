"""The detail pages of a destination and a device: header, range picker, one chart per metric
family (known or not), availability, traceroute, runs, history, roles, 404 and type redirect;
and the API calls the page's script makes stay within the points it means to draw."""

from __future__ import annotations

import json
import re
import time
from html import escape, unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, ProbeResult, ProbeStatus, Sample
from netgauge.status.measures import LOSS_SCALE
from netgauge.web.pages.detail import RANGES, choose_step, families
from tests.integration.conftest import StartApp

CONFIG = """
targets:
  - {name: edge, address: 127.0.0.1, type: device, tags: [core], description: the edge router}
  - {name: dns1, address: 127.0.0.2, tags: [dns]}
  - {name: plain, address: 127.0.0.3}
jobs:
  - {name: ping-dns, kind: icmp, targets: [dns1], interval: 1h, enabled: false}
  - {name: trace-dns, kind: traceroute, targets: [dns1], interval: 1h, enabled: false}
"""
MIN = 60 * 10**9
DEVICE_METRIC_NAMES = [
    "cpu_percent",
    "memory_percent",
    'disk_percent{mount="/"}',
    'disk_percent{mount="/var"}',
    'net_in_bytes_per_sec{interface="eth0"}',
    'net_out_bytes_per_sec{interface="eth0"}',
    'fan_rpm{fan="1"}',  # a kind the page code has never heard of
]


class Charts(HTMLParser):
    """Every element's attributes by id, and each .chart's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.charts: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.by_id[str(a["id"])] = a
        if "chart" in (a.get("class") or "").split():
            self.charts.append(a)
        if tag == "a":
            self.links.append(a)


def parse(html: str) -> Charts:
    p = Charts()
    p.feed(html)
    return p


def write(client: TestClient, samples: list[Sample]) -> None:
    store = client.app.state.service.stores[0]  # type: ignore[attr-defined]
    client.portal.call(store.write, samples)  # type: ignore[union-attr]


def seed(client: TestClient, minutes: int = 90) -> int:
    now = time.time_ns() // MIN * MIN
    samples: list[Sample] = []
    for i in range(minutes):
        ts = now - (minutes - i) * MIN
        for n, name in enumerate(DEVICE_METRIC_NAMES):
            samples.append(Sample(DEVICE_METRICS, "edge", name, float(10 + n + i % 7), ts))
        samples.append(Sample(DEVICE_STATUS, "edge", "status", 0.0 if i % 4 == 0 else 1.0, ts))
        loss = 40.0 if i % 10 == 0 else 0.0
        for name, value in (("rtt_min_ms", 1.0), ("rtt_median_ms", 2.0), ("rtt_max_ms", 5.0)):
            samples.append(Sample(DEVICE_METRICS, "dns1", f"icmp.{name}", value + i % 3, ts))
        samples.append(Sample(DEVICE_METRICS, "dns1", "icmp.rtt_p90_ms", 4.0, ts))
        samples.append(Sample(DEVICE_METRICS, "dns1", "icmp.loss_pct", loss, ts))
        samples.append(Sample(DEVICE_STATUS, "dns1", "status", 1.0, ts))
    write(client, samples)
    return now


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    c = start_app(CONFIG, name="detail.yaml")
    seed(c)
    return c


def as_role(client: TestClient, role: Role) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    token, _ = service.accounts.create_api_token(f"t-{role.value}", role, FIRST_ADMIN, "tests")
    client.headers["Authorization"] = f"Bearer {token}"


def test_device_page_has_a_chart_per_metric_family(client: TestClient) -> None:
    r = client.get("/devices/edge")
    assert r.status_code == 200, r.text
    page = parse(r.text)
    assert "the edge router" in r.text and "127.0.0.1" in r.text
    kinds = {c["id"]: c for c in page.charts}
    assert set(kinds) == {
        "chart-status",
        "chart-cpu-percent",
        "chart-memory-percent",
        "chart-disk-percent",
        "chart-traffic",
        "chart-fan-rpm",
    }
    disk = kinds["chart-disk-percent"]
    assert disk["data-series"] and "/var" in disk["data-series"] and disk["aria-label"]
    traffic = kinds["chart-traffic"]
    assert traffic["data-kind"] == "traffic" and "eth0 in" in str(traffic["data-series"])
    assert "eth0 out" in str(traffic["data-series"])
    for needed in ("range-picker", "charts", "availability", "export-csv", "export-xlsx"):
        assert needed in page.by_id, needed
    assert "reset-zoom" in page.by_id


def test_destination_page_draws_smoke_and_availability(client: TestClient) -> None:
    r = client.get("/destinations/dns1?range=1h")
    assert r.status_code == 200
    page = parse(r.text)
    smoke = next(c for c in page.charts if c.get("data-kind") == "smoke")
    assert "icmp.rtt_median_ms" in str(smoke["data-series"])
    assert 'class="loss-scale"' in r.text
    for i, band in enumerate(LOSS_SCALE):  # the legend and the charts' colours: one scale
        assert f'data-loss-band="{i}"' in r.text and escape(band.label) in r.text
    carried = re.search(r'<html [^>]*data-loss-scale="([^"]*)"', r.text)
    assert carried is not None
    sent = json.loads(unescape(carried.group(1)))
    assert [(b["below"], b["colour"]) for b in sent] == [(b.below, b.colour) for b in LOSS_SCALE]
    assert page.by_id["availability"]["data-value"] == "100.000"
    assert page.by_id["charts"]["data-rounds"] == "true"
    # traceroute is covered by a job but has not produced a path yet
    assert "No traceroute job covers" not in r.text and "No path recorded yet" in r.text
    assert "ping-dns" in r.text  # the covering jobs are named


def test_availability_is_the_share_of_up_samples(client: TestClient) -> None:
    r = client.get("/devices/edge?range=24h")
    value = float(str(parse(r.text).by_id["availability"]["data-value"]))
    assert value == pytest.approx(100.0 * (90 - 23) / 90, abs=0.01)  # every 4th sample down


def test_range_picker_links_and_current(client: TestClient) -> None:
    page = parse(client.get("/devices/edge?range=7d").text)
    picker = [a for a in page.links if a.get("data-range")]
    assert [a["href"] for a in picker] == [f"/devices/edge?range={k}" for k in RANGES]
    assert [a["data-range"] for a in picker if a.get("aria-current") == "true"] == ["7d"]
    assert page.by_id["charts"]["data-step"] == "300"
    assert page.by_id["range-from"]["name"] == "from"  # the custom form


def test_custom_range_and_a_bad_one(client: TestClient) -> None:
    r = client.get("/devices/edge?from=2026-01-01T00:00&to=2026-01-03T00:00")
    page = parse(r.text)
    assert page.by_id["charts"]["data-from"] == "2026-01-01T00:00:00+00:00"
    assert page.by_id["charts"]["data-step"] == "300"  # 2 days
    assert "?target=edge&from=2026-01-01T00%3A00%3A00%2B00%3A00" in str(
        page.by_id["export-csv"]["href"]
    )
    bad = client.get("/devices/edge?from=2026-01-03T00:00&to=2026-01-01T00:00")
    assert bad.status_code == 200 and "custom range:" in bad.text
    assert parse(bad.text).by_id["charts"]["data-step"] == "60"  # back to 24 h


def test_edit_link_only_for_editors(client: TestClient) -> None:
    assert 'href="/devices/edge/edit"' in client.get("/devices/edge").text
    as_role(client, Role.VIEWER)
    r = client.get("/devices/edge")
    assert r.status_code == 200 and "/edit" not in r.text
    as_role(client, Role.OPERATOR)
    assert 'href="/destinations/dns1/edit"' in client.get("/destinations/dns1").text


def test_unknown_name_is_404_and_wrong_type_redirects(client: TestClient) -> None:
    r = client.get("/devices/nope")
    assert r.status_code == 404 and "nope" in r.text
    r = client.get("/devices/dns1?range=7d", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/destinations/dns1?range=7d"
    r = client.get("/destinations/edge", follow_redirects=False)
    assert r.headers["location"] == "/devices/edge"


def test_no_traceroute_and_no_data(client: TestClient) -> None:
    r = client.get("/destinations/plain")
    assert r.status_code == 200
    assert "No traceroute job covers this target" in r.text
    assert "No metrics stored" in r.text
    assert parse(r.text).by_id["availability"]["data-value"] == ""


def test_path_changes_runs_and_history_are_listed(client: TestClient) -> None:
    inv = client.app.state.service.inventory  # type: ignore[attr-defined]
    inv.observe_path("trace-dns", "dns1", ["10.0.0.1", None, "127.0.0.2"])
    inv.observe_path("trace-dns", "dns1", ["10.0.0.9", "127.0.0.2"])
    run = inv.start_run("ping-dns", inv.list_jobs()[0].created_at, "manual")
    inv.finish_run(run, "partial", 0, 1, "one failed")
    client.patch("/api/v1/targets/dns1", json={"description": "resolver one"})
    hops = [
        {"ttl": 1, "address": "10.0.0.9", "loss_pct": 0.0, "rtt_avg_ms": 0.42},
        {"ttl": 2, "address": None, "loss_pct": 100.0, "rtt_avg_ms": None},
    ]
    result = ProbeResult(
        "dns1", "traceroute", time.time_ns(), ProbeStatus.OK, details={"hops": hops}
    )
    client.app.state.service.status.update("trace-dns", result)  # type: ignore[attr-defined]
    html = client.get("/destinations/dns1").text
    trace = html[html.index('id="traceroute"') : html.index('id="runs"')]
    assert re.search(r"<td[^>]*>10\.0\.0\.9</td>\s*<td[^>]*>0\.0</td>\s*<td[^>]*>0\.42</td>", trace)
    assert re.search(r"<td[^>]*>\*</td>\s*<td[^>]*>100\.0</td>", trace)
    assert "10.0.0.1 → * → 127.0.0.2" in html and "10.0.0.9 → 127.0.0.2" in html
    assert re.search(r'<span class="badge partial"[^>]*>partial</span>', html)
    history = html[html.index('id="history"') :]
    assert "description" in history and "resolver one" in history and "tests" in history


def test_a_new_kind_of_metric_gets_its_own_family() -> None:
    found = families(["status", "icmp.rtt_avg_ms", "http.dns_ms", "http.ttfb_ms", 'x.y{a="b"}'])
    assert [(f.key, f.kind) for f in found] == [
        ("icmp-smoke", "smoke"),
        ("http.*_ms", "lines"),
        ("x.y", "lines"),
    ]
    assert [s["label"] for s in found[1].series] == ["dns_ms", "ttfb_ms"]


@pytest.mark.parametrize("key", list(RANGES))
def test_the_scripts_api_calls_stay_within_their_points(client: TestClient, key: str) -> None:
    """What detail.js asks for: each series with the page's step, and ICMP rounds for short
    ranges; for 30 days of one-minute data that is 720 hourly points, not 43,200."""
    page = parse(client.get(f"/devices/edge?range={key}").text)
    charts = page.by_id["charts"]
    step, span = charts["data-step"], RANGES[key]
    assert (step or None) == (str(choose_step(span)) if choose_step(span) else None)
    limit = 2100 if step else 3 * 3600 // 60
    params: dict[str, Any] = {
        "target": "edge",
        "from": charts["data-from"],
        "to": charts["data-to"],
    }
    if step:
        params["step"] = step
    for metric in ("cpu_percent", 'disk_percent{mount="/var"}', 'fan_rpm{fan="1"}'):
        r = client.get("/api/v1/metrics", params={**params, "metric": metric})
        assert r.status_code == 200, r.text
        points = r.json()["points"]
        assert 0 < len(points) <= limit
        assert len(points) <= span // int(step or 60) + 1
    status = client.get(
        "/api/v1/metrics", params={**params, "metric": "status", "agg": "availability"}
    )
    assert status.status_code == 200 and status.json()["points"]
    if key == "30d":
        assert step == "3600"


def test_thirty_days_of_minutes_come_back_as_hourly_points(client: TestClient) -> None:
    now = time.time_ns() // MIN * MIN
    month = [
        Sample(DEVICE_METRICS, "edge", "load", float(i % 50), now - i * MIN) for i in range(43_200)
    ]
    write(client, month)
    store = client.app.state.service.stores[0]  # type: ignore[attr-defined]
    client.portal.call(store.maintain)  # type: ignore[union-attr]  # roll the hours up
    page = parse(client.get("/devices/edge?range=30d").text)
    charts = page.by_id["charts"]
    params = {"target": "edge", "metric": "load", "step": charts["data-step"]}
    params |= {"from": charts["data-from"], "to": charts["data-to"]}
    points = client.get("/api/v1/metrics", params=params).json()["points"]
    assert 700 <= len(points) <= 722
    assert sum(p["count"] for p in points) == 43_200
    assert "chart-load" in page.by_id


@pytest.mark.parametrize("key", ["1h", "24h", "7d"])
def test_the_smoke_chart_requests(client: TestClient, key: str) -> None:
    """Short ranges: every ICMP round with its distribution; longer: per-step summaries."""
    charts = parse(client.get(f"/destinations/dns1?range={key}").text).by_id["charts"]
    span = {"from": charts["data-from"], "to": charts["data-to"]}
    if charts["data-rounds"] == "true":
        params = {"target": "dns1", "kind": "icmp", "limit": 10_000, **span}
        rounds = client.get("/api/v1/metrics/rounds", params=params).json()["rounds"]
        assert 59 <= len(rounds) <= 90 and {"rtt_median_ms", "loss_pct"} <= set(
            rounds[0]["metrics"]
        )
        assert key != "7d"
    else:
        params = {"target": "dns1", "metric": "icmp.rtt_max_ms", "agg": "max", **span}
        points = client.get("/api/v1/metrics", params={**params, "step": charts["data-step"]})
        assert 0 < len(points.json()["points"]) <= 2100
        assert max(p["value"] for p in points.json()["points"]) == 7.0  # 5 + i % 3
