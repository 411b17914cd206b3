"""/api/v1/export: the samples of one or many targets (named, or chosen by the list's
filters) as CSV and as an XLSX report, opened and checked: the statistics row per target
from seeded ICMP-like series, the metrics and samples sheets (continued past the row limit),
the 4xx naming their fields, no temporary file left behind, and the list pages' buttons."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from netgauge.api.routes import export
from netgauge.errors import RetryableStorageError
from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, ProbeResult, ProbeStatus, Sample
from tests.integration.conftest import StartApp

CONFIG = """
sites: [{name: hq}, {name: branch}]
targets:
  - {name: laptop, address: 127.0.0.1, type: device}
  - {name: d1, address: 127.0.0.2, site: hq, tags: [core]}
  - {name: d2, address: 127.0.0.3, site: hq}
  - {name: d3, address: 127.0.0.4, site: branch}
"""
CPU = [12.5, 40.0, 33.25, 99.0, 5.0]
MIN = 60 * 10**9
SINCE = "2000-01-01T00:00:00"
N = 20
RTT = [float(i + 1) for i in range(N)]  # icmp.rtt_avg_ms of d1: 1 … 20
DOWN = {0, 4, 8, 12, 16}  # the rounds d1 was down: availability 75 %
LOSSY = {3, 9}  # rounds with 50 % loss: mean 5 %
TCP = [7.0, 3.0, 11.0, 9.0]  # d2's tcp.connect_ms
STATISTICS_HEADER = (
    "target",
    "type",
    "samples",
    "latency metric",
    "latency min ms",
    "latency avg ms",
    "latency max ms",
    "latency p95 ms",
    "jitter ms",
    "loss %",
    "availability %",
)


def _seed(client: TestClient) -> None:
    """d1: an ICMP check's series and status; d2: TCP connect times; d3: nothing; "gone":
    samples of a target no longer in the inventory."""
    now = time.time_ns() // MIN * MIN
    samples: list[Sample] = []
    for i, rtt in enumerate(RTT):
        ts = now - (N - i) * MIN
        for metric, value in (
            ("icmp.rtt_avg_ms", rtt),
            ("icmp.rtt_min_ms", rtt - 0.5),
            ("icmp.rtt_max_ms", rtt + 3.0),
            ("icmp.jitter_ms", 0.25 * (i % 4)),
            ("icmp.loss_pct", 50.0 if i in LOSSY else 0.0),
        ):
            samples.append(Sample(DEVICE_METRICS, "d1", metric, value, ts))
        samples.append(Sample(DEVICE_STATUS, "d1", "status", 0.0 if i in DOWN else 1.0, ts))
    for i, ms in enumerate(TCP):
        ts = now - (len(TCP) - i) * MIN
        samples.append(Sample(DEVICE_METRICS, "d2", "tcp.connect_ms", ms, ts))
        samples.append(Sample(DEVICE_STATUS, "d2", "status", 1.0, ts))
    samples.append(Sample(DEVICE_METRICS, "gone", "tcp.connect_ms", 1.0, now - MIN))
    store = client.app.state.service.stores[0]  # type: ignore[attr-defined]
    client.portal.call(store.write, samples)  # type: ignore[union-attr]


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    c = start_app(CONFIG, name="export.yaml")
    token = c.post("/api/v1/devices/laptop/agent-token").json()["token"]
    now = time.time_ns()
    batches = [
        {
            "seq": i + 1,
            "ts_ns": now - (len(CPU) - i) * MIN,
            "metrics": [{"name": "cpu_percent", "value": v}],
        }
        for i, v in enumerate(CPU)
    ]
    r = c.post(
        "/api/v1/ingest",
        json={"batches": batches},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    _seed(c)
    return c


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory (the export's and openpyxl's files go there), empty."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def _csv(client: TestClient, **params: Any) -> list[dict[str, str]]:
    r = client.get("/api/v1/export/csv", params={"from": SINCE, **params})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


def _xlsx(client: TestClient, **params: Any) -> Any:
    r = client.get("/api/v1/export/xlsx", params={"from": SINCE, **params})
    assert r.status_code == 200, r.text
    return load_workbook(io.BytesIO(r.content), read_only=True)


def _rows(sheet: Any, width: int) -> list[tuple[Any, ...]]:
    """A sheet's rows, each as ``width`` cells (a row read back ends at its last value)."""
    rows = sheet.iter_rows(values_only=True)
    return [tuple(row) + (None,) * (width - len(row)) for row in rows]


def _statistics(book: Any) -> dict[str, tuple[Any, ...]]:
    """The statistics table's rows by target (up to the blank row before the note)."""
    rows = _rows(book["statistics"], len(STATISTICS_HEADER))
    assert rows[0][0] == "netgauge report" and rows[0][1].endswith("UTC")
    assert rows[1] == STATISTICS_HEADER
    table = {}
    for row in rows[2:]:
        if not any(v is not None for v in row):
            break
        table[row[0]] = row
    return table


# -- CSV ------------------------------------------------------------------------------------------
def test_csv_has_every_sample(client: TestClient) -> None:
    r = client.get("/api/v1/export/csv", params={"target": "laptop", "from": SINCE})
    assert 'filename="netgauge-laptop-2000' in r.headers["content-disposition"]
    rows = _csv(client, target="laptop")
    assert list(rows[0]) == ["time", "ts_ns", "target", "metric", "value"]
    cpu = [float(row["value"]) for row in rows if row["metric"] == "cpu_percent"]
    assert cpu == CPU
    assert {row["metric"] for row in rows} >= {"cpu_percent", "status"}
    assert {row["target"] for row in rows} == {"laptop"}


def test_csv_of_several_named_targets(client: TestClient) -> None:
    r = client.get("/api/v1/export/csv", params={"target": ["d1", "d2", "d1"], "from": SINCE})
    assert 'filename="netgauge-2-targets-2000' in r.headers["content-disposition"]
    rows = _csv(client, target=["d1", "d2"])
    by_target: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_target.setdefault(row["target"], []).append(row)
    assert set(by_target) == {"d1", "d2"}
    assert len(by_target["d1"]) == 6 * N  # five ICMP metrics and status per round
    tcp = [float(r["value"]) for r in by_target["d2"] if r["metric"] == "tcp.connect_ms"]
    assert tcp == TCP


def test_csv_by_the_list_filters(client: TestClient) -> None:
    assert {r["target"] for r in _csv(client, site="hq")} == {"d1", "d2"}
    assert {r["target"] for r in _csv(client, tag="core")} == {"d1"}
    assert {r["target"] for r in _csv(client, type="device")} == {"laptop"}
    assert {r["target"] for r in _csv(client, q="127.0.0.3")} == {"d2"}
    assert _csv(client, site="nowhere") == []  # nothing matches: just the header


def test_csv_by_the_live_state(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    now = time.time_ns()
    service.status.update("ping", ProbeResult("d1", "icmp", now, ProbeStatus.OK))
    service.status.update("ping", ProbeResult("d2", "icmp", now, ProbeStatus.TIMEOUT))
    assert {r["target"] for r in _csv(client, state="up")} == {"d1"}
    assert {r["target"] for r in _csv(client, state="down", type="destination")} == {"d2"}
    # never checked: d3 (it has no samples: the report lists it all the same)
    never = _statistics(_xlsx(client, state="unknown", type="destination"))
    assert list(never) == ["d3"]
    html = client.get("/destinations?state=up").text
    assert "state=up" in _href(html, "export-csv")
    r = client.get("/api/v1/export/csv", params={"from": SINCE, "state": "sideways"})
    assert r.status_code == 422 and r.json()["field"] == "query.state"


def test_a_target_gone_from_the_inventory_still_exports_its_samples(client: TestClient) -> None:
    rows = _csv(client, target="gone")
    assert [(r["target"], r["metric"], r["value"]) for r in rows] == [
        ("gone", "tcp.connect_ms", "1.0")
    ]
    assert _statistics(_xlsx(client, target="gone"))["gone"][1] is None  # no type known


# -- XLSX -----------------------------------------------------------------------------------------
def test_xlsx_statistics_row_per_target(client: TestClient) -> None:
    book = _xlsx(client, target=["d1", "d2", "d3", "laptop"])
    assert book.sheetnames == ["statistics", "metrics", "samples"]
    stats = _statistics(book)
    assert list(stats) == ["d1", "d2", "d3", "laptop"]
    d1 = stats["d1"]
    assert d1[:4] == ("d1", "destination", N, "icmp.rtt_avg_ms")
    assert d1[4] == 0.5  # the smallest icmp.rtt_min_ms, not the smallest average
    assert d1[5] == pytest.approx(sum(RTT) / N)
    assert d1[6] == 23.0  # the largest icmp.rtt_max_ms
    assert d1[7] == 19.0  # nearest-rank p95 of 1 … 20
    assert d1[8] == pytest.approx(0.375)  # mean jitter
    assert d1[9] == pytest.approx(50.0 * len(LOSSY) / N)  # mean loss: 5 %
    assert d1[10] == pytest.approx(100.0 * (N - len(DOWN)) / N)  # 75 % available
    d2 = stats["d2"]
    assert d2[:8] == ("d2", "destination", 4, "tcp.connect_ms", 3.0, 7.5, 11.0, 11.0)
    assert d2[8:] == (None, None, 100.0)  # no jitter, no loss: empty, never 0
    assert stats["d3"] == ("d3", "destination", *([None] * 9))
    laptop = stats["laptop"]  # an agent: a status sample per ingest request
    status = [r for r in _csv(client, target="laptop") if r["metric"] == "status"]
    assert laptop[:4] == ("laptop", "device", len(status), None) and laptop[10] == 100.0
    rows = _rows(book["statistics"], 2)
    notes = {row[0]: row[1] for row in rows[2 + len(stats) :] if row and row[0]}
    assert set(STATISTICS_HEADER) <= set(notes)  # a note for each column
    assert "icmp.rtt_min_ms" in notes["latency min ms"] and "status" in notes["availability %"]


def test_xlsx_metrics_and_samples_sheets(client: TestClient) -> None:
    book = _xlsx(client, site="hq")  # d1 and d2 by filter
    assert list(_statistics(book)) == ["d1", "d2"]
    rows = _rows(book["metrics"], 8)
    assert rows[0] == ("target", "metric", "samples", "min", "avg", "max", "p95", "availability %")
    metrics = {(r[0], r[1]): r for r in rows[1:]}
    assert metrics["d2", "tcp.connect_ms"][2:] == (4, 3.0, 7.5, 11.0, 11.0, None)
    assert metrics["d1", "status"][7] == pytest.approx(75.0)
    assert {t for t, _ in metrics} == {"d1", "d2"}
    samples = list(book["samples"].iter_rows(values_only=True))
    assert samples[0] == ("time (UTC)", "target", "metric", "value")
    tcp = [v for _, t, m, v in samples[1:] if (t, m) == ("d2", "tcp.connect_ms")]
    assert tcp == TCP
    assert len(samples) - 1 == 6 * N + 2 * len(TCP)


def test_laptop_report_keeps_the_per_metric_statistics(client: TestClient) -> None:
    book = _xlsx(client, target="laptop")
    metrics = {r[1]: r for r in list(book["metrics"].iter_rows(values_only=True))[1:]}
    assert metrics["cpu_percent"][2:7] == (5, 5.0, sum(CPU) / 5, 99.0, 99.0)
    assert metrics["status"][7] == 100.0  # every agent batch was an up observation
    samples = list(book["samples"].iter_rows(values_only=True))[1:]
    assert [v for _, _, m, v in samples if m == "cpu_percent"] == CPU


def test_samples_continue_on_further_sheets(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "SHEET_ROWS", 50)  # a header and 49 samples a sheet
    book = _xlsx(client, target=["d1", "d2"])
    total = 6 * N + 2 * len(TCP)  # 128: three sheets of samples
    assert book.sheetnames == ["statistics", "metrics", "samples", "samples 2", "samples 3"]
    seen = []
    for name in book.sheetnames[2:]:
        rows = list(book[name].iter_rows(values_only=True))
        assert rows[0] == ("time (UTC)", "target", "metric", "value") and len(rows) <= 50
        seen += rows[1:]
    assert len(seen) == total
    assert [v for _, t, m, v in seen if (t, m) == ("d2", "tcp.connect_ms")] == TCP


# -- errors ---------------------------------------------------------------------------------------
def _error(client: TestClient, fmt: str, status: int, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/v1/export/{fmt}", params=params)
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_bad_range_is_a_clear_4xx(client: TestClient, fmt: str) -> None:
    params = {"target": "laptop", "from": "2030-01-01T00:00:00", "to": "2020-01-01T00:00:00"}
    assert _error(client, fmt, 422, **params)["field"] == "from"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_selection_errors_name_their_field(
    client: TestClient, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    none = _error(client, fmt, 422, **{"from": SINCE})
    assert none["field"] == "target" and "filter with q, site, tag, type" in none["detail"]
    both = _error(client, fmt, 422, target="d1", site="hq", **{"from": SINCE})
    assert both["field"] == "target" and "site" in both["detail"]
    many = [f"t{i}" for i in range(export.MAX_NAMES + 1)]
    too_many = _error(client, fmt, 422, target=many, **{"from": SINCE})
    assert too_many["field"] == "target" and "at most 1000" in too_many["detail"]
    monkeypatch.setattr(export, "MAX_TARGETS", 2)
    over = _error(client, fmt, 422, type="destination", **{"from": SINCE})  # three match
    assert over["field"] == "type" and "3 targets" in over["detail"]
    assert _csv(client, site="hq")  # two: within the cap
    unknown = _error(client, fmt, 404, target=["d1", "nope", "nada"], **{"from": SINCE})
    assert unknown["field"] == "target"
    assert "'nope'" in unknown["detail"] and "'nada'" in unknown["detail"]
    assert "'d1'" not in unknown["detail"]


# -- temporary files ------------------------------------------------------------------------------
def test_no_temporary_file_is_left(client: TestClient, temp_dir: Path) -> None:
    _xlsx(client, target=["d1", "d2"])
    assert list(temp_dir.iterdir()) == []
    # while the client is still reading (or when it goes away), nothing is on disk either
    params = {"target": ["d1", "d2"], "from": SINCE}
    with client.stream("GET", "/api/v1/export/xlsx", params=params) as r:
        assert r.status_code == 200
        assert next(r.iter_bytes())[:2] == b"PK"
        assert list(temp_dir.iterdir()) == []
    assert list(temp_dir.iterdir()) == []


def test_a_failing_store_leaves_no_temporary_file(
    client: TestClient, temp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.app.state.service.store  # type: ignore[attr-defined]
    real = store.points
    calls = 0

    async def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:  # after two series are in the workbook's files
            raise RetryableStorageError("the store is away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "points", failing)
    assert _error(client, "xlsx", 503, target="d1", **{"from": SINCE})["detail"]
    assert calls == 3 and list(temp_dir.iterdir()) == []


def test_the_file_is_read_in_bounded_chunks() -> None:
    data = io.BytesIO(b"x" * (2 * export.CHUNK + 100))

    async def collect() -> list[int]:
        return [len(chunk) async for chunk in export._chunks(data)]

    assert asyncio.run(collect()) == [export.CHUNK, export.CHUNK, 100]
    assert data.closed


# -- the list pages' buttons ----------------------------------------------------------------------
def _href(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    assert found, element_id
    return found.group(1).replace("&amp;", "&")


def test_list_page_exports_its_current_filter(client: TestClient) -> None:
    html = client.get("/destinations?site=hq").text
    csv_link, xlsx_link = _href(html, "export-csv"), _href(html, "export-xlsx")
    assert csv_link.startswith("/api/v1/export/csv?site=hq&type=destination&from=")
    assert xlsx_link.startswith("/api/v1/export/xlsx?site=hq&type=destination&from=")
    assert re.search(r'id="export-csv"[^>]* download', html)
    r = client.get(csv_link)
    assert r.status_code == 200
    assert {row["target"] for row in csv.DictReader(io.StringIO(r.text))} == {"d1", "d2"}
    assert list(_statistics(load_workbook(io.BytesIO(client.get(xlsx_link).content)))) == [
        "d1",
        "d2",
    ]
    devices = client.get("/devices").text
    assert _href(devices, "export-csv").startswith("/api/v1/export/csv?type=device&from=")


def test_list_page_export_range(client: TestClient) -> None:
    html = client.get("/destinations?tag=core").text
    ranges = re.findall(r'<a href="([^"]+)"( aria-current="true")? title="Export the last', html)
    assert [bool(current) for _, current in ranges] == [False, True, False, False]  # 24 h
    week = [url for url, _ in ranges if "export=7d" in url][0].replace("&amp;", "&")
    assert week == "/destinations?tag=core&export=7d"
    page = client.get(week).text
    since = re.search(r"from=([^&\"]+)", _href(page, "export-xlsx"))
    assert since
    days = (time.time() - _iso_seconds(since.group(1))) / 86400
    assert 6.99 < days < 7.01
    assert '<input type="hidden" name="export" value="7d">' in page  # the filter form keeps it
    assert 'id="export-csv"' not in client.get("/destinations?q=no-such-thing").text


def _iso_seconds(quoted: str) -> float:
    from datetime import datetime
    from urllib.parse import unquote

    return datetime.fromisoformat(unquote(quoted)).timestamp()


def test_xlsx_has_the_monthly_95th_of_each_interface_for_billing(client: TestClient) -> None:
    """Traffic over two calendar months: per interface and month, the 95th percentile of
    the 5-minute averages in bits per second (nearest rank, computed here by hand), in,
    out, and the billable (higher) one."""
    month_end = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    five = 300 * 10**9
    start_ns = int(month_end.timestamp()) * 10**9
    samples: list[Sample] = []
    by_month: dict[str, tuple[list[float], list[float]]] = {
        "2026-11": ([], []),
        "2026-12": ([], []),
    }
    for i in range(48):  # 4 h of 5-minute steps across midnight, two samples in each step
        for half in (0, 1):
            ts = start_ns + i * five + half * five // 2
            byte_in, byte_out = 1000.0 * ((i * 7) % 48) + half * 100, 500.0 + i
            for metric, value in (
                ('net_in_bytes_per_sec{interface="eth0"}', byte_in),
                ('net_out_bytes_per_sec{interface="eth0"}', byte_out),
            ):
                samples.append(Sample(DEVICE_METRICS, "d2", metric, value, ts))
        month = "2026-11" if i < 12 else "2026-12"
        by_month[month][0].append(8 * (1000.0 * ((i * 7) % 48) + 50))  # the step's average
        by_month[month][1].append(8 * (500.0 + i))
    store = client.app.state.service.stores[0]  # type: ignore[attr-defined]
    client.portal.call(store.write, samples)  # type: ignore[union-attr]
    r = client.get(
        "/api/v1/export/xlsx",
        params={"from": "2026-11-30T00:00:00Z", "to": "2026-12-01T12:00:00Z", "target": "d2"},
    )
    assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(r.content), read_only=True)
    rows = _rows(book["traffic 95th"], 8)
    assert rows[0][:3] == ("target", "interface", "month (UTC)")

    def rank95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[-(-95 * len(ordered) // 100) - 1]  # ceil(0.95 n) - 1, integers only

    for row, month in zip(rows[1:], ("2026-11", "2026-12"), strict=True):
        ins, outs = by_month[month]
        assert row[:3] == ("d2", "eth0", month)
        assert row[3] == pytest.approx(rank95(ins)) and row[4] == pytest.approx(rank95(outs))
        assert row[5] == max(row[3], row[4]) and row[6:] == (len(ins), len(outs))
