"""The data lake through a running service: samples pushed by an agent, job runs, changes,
activity and request logs, exported by /api/v1/analytics/lake/export, then read back with
DuckDB and Polars and compared with what the API answers (another read path: the stores'
own queries), and with the pushed values themselves. Then: a second export writes nothing,
new samples rewrite only their day, the CLI in another process gives the same bytes, and no
request can choose where the server writes."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from tests.conftest import wait_for
from tests.integration.conftest import StartApp

MIN_NS = 60 * 10**9
CONFIG = """
targets:
  - {{name: laptop, address: 127.0.0.1, type: device}}
  - {{name: svc, address: 127.0.0.1}}
jobs:
  - {{name: reach, kind: tcp, params: {{port: {port}}}, targets: [svc], interval: 1h,
     enabled: false}}
"""


def hashes(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*.parquet"))
    }


def service_of(client: TestClient) -> Any:
    return client.app.state.service  # type: ignore[attr-defined]


def push(
    client: TestClient, token: str, seq0: int, stamps: list[int], rng: random.Random
) -> dict[tuple[str, int], float]:
    """Batches of cpu_percent and memory_percent at ``stamps``; what was sent, by (metric, ts)."""
    sent: dict[tuple[str, int], float] = {}
    batches = []
    for i, ts in enumerate(stamps):
        metrics = []
        for name in ("cpu_percent", "memory_percent"):
            value = round(rng.uniform(0, 100), 2)
            metrics.append({"name": name, "value": value})
            sent[(name, ts)] = value
        batches.append({"seq": seq0 + i, "ts_ns": ts, "metrics": metrics})
    for i in range(0, len(batches), 100):
        r = client.post(
            "/api/v1/ingest",
            json={"batches": batches[i : i + 100]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200 and not r.json()["refused"], r.text
    return sent


def lake_sql(out: Path, table: str, select: str) -> list[tuple[Any, ...]]:
    glob = (out / table / "*" / "*.parquet").as_posix()
    rel = f"read_parquet('{glob}', hive_partitioning = true)"
    return duckdb.sql(select.replace("LAKE", rel)).fetchall()


def us(dt: str) -> int:
    """An API time (ISO 8601) as epoch microseconds."""
    return round(datetime.fromisoformat(dt.replace("Z", "+00:00")).timestamp() * 1e6)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def client(start_app: StartApp, lake: Path, listener: int) -> TestClient:
    return start_app(CONFIG.format(port=listener), name="lake.yaml", lake_dir=lake)


def test_the_lake_holds_what_the_api_answers(
    client: TestClient, lake: Path, tmp_path: Path
) -> None:
    rng = random.Random(16)
    now = time.time_ns() // MIN_NS * MIN_NS
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    stamps = [now - 30 * 60 * MIN_NS + k * 10 * MIN_NS for k in range(180)]  # 30 h: 2 days
    sent = push(client, token, 1, stamps, rng)

    def finished(count: int) -> bool:
        runs = client.get("/api/v1/runs").json()["items"]
        return len(runs) >= count and all(r["finished_at"] for r in runs)

    for count in (1, 2):
        r = client.post("/api/v1/jobs/reach/run")
        assert r.status_code == 202, r.text
        wait_for(partial(finished, count), what="the run to finish")
    r = client.post("/api/v1/targets", json={"name": "new-one", "address": "127.0.0.9"})
    assert r.status_code == 201, r.text
    for page in ("/", "/analytics/lake"):
        assert (
            client.post("/api/v1/activity", json={"kind": "page_view", "page": page}).status_code
            == 204
        )
    wait_for(lambda: client.get("/api/v1/activity").json(), what="activity written")

    r = client.post("/api/v1/analytics/lake/export")
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["error"] is None and run["out"] == str(lake)

    # metrics: the API's raw points, the values pushed, DuckDB and Polars all agree
    window = {"from": "2000-01-01T00:00:00Z", "to": datetime.now(UTC).isoformat()}
    for metric in ("cpu_percent", "memory_percent"):
        api = client.get(
            "/api/v1/metrics", params={"target": "laptop", "metric": metric, **window}
        ).json()["points"]
        rows = lake_sql(
            lake,
            "metrics_raw",
            f"SELECT ts_ns, value FROM LAKE WHERE device = 'laptop' AND metric = '{metric}' "
            "ORDER BY ts_ns",
        )
        assert rows == [(p["ts"], p["value"]) for p in api]
        assert rows == sorted((ts, v) for (m, ts), v in sent.items() if m == metric)
    frame = pl.scan_parquet(
        lake / "metrics_raw" / "**" / "*.parquet", hive_partitioning=True
    ).collect()
    days = {datetime.fromtimestamp(ts // 10**9, UTC).date() for ts in stamps}
    assert set(frame["date"].unique()) >= days and len(days) == 2
    pushed = frame.filter(
        (pl.col("device") == "laptop") & pl.col("metric").is_in(["cpu_percent", "memory_percent"])
    )
    assert pushed.height == len(sent)

    # job runs and each target's outcome, as /runs lists them
    runs = client.get("/api/v1/runs", params={"job": "reach"}).json()["items"]
    got = lake_sql(
        lake,
        "job_runs",
        "SELECT id, job, status, targets_ok, targets_failed, epoch_us(started_at), "
        "epoch_us(finished_at) FROM LAKE ORDER BY id",
    )
    assert got == sorted(
        (
            r["id"], r["job_name"], r["status"], r["targets_ok"], r["targets_failed"],
            us(r["started_at"]), us(r["finished_at"]),
        )
        for r in runs
    )  # fmt: skip
    outcomes = lake_sql(lake, "job_run_targets", "SELECT run_id, target, status FROM LAKE")
    assert sorted(outcomes) == sorted(
        (r["id"], t["target"], t["status"])
        for r in runs
        for t in client.get(f"/api/v1/runs/{r['id']}/targets").json()
    )
    # the change log, the activity, the device's transitions
    changes = client.get("/api/v1/changes", params={"limit": 1000}).json()
    got = lake_sql(
        lake, "config_changes", "SELECT id, entity_type, entity_name, action, changes FROM LAKE"
    )
    assert sorted(got) == sorted(
        (
            c["id"],
            c["entity_type"],
            c["entity_name"],
            c["action"],
            json.dumps(c["changes"], sort_keys=True, separators=(",", ":")),
        )
        for c in changes
    )
    activity = client.get("/api/v1/activity").json()
    got = lake_sql(lake, "user_activity", "SELECT id, epoch_us(ts), page FROM LAKE")
    assert sorted(got) == sorted((a["id"], us(a["at"]), a["page"]) for a in activity)
    history = client.get("/api/v1/devices/laptop/history").json()
    got = lake_sql(lake, "device_states", "SELECT id, device, new_state FROM LAKE")
    assert sorted(got) == sorted((h["id"], "laptop", h["new_state"]) for h in history)
    # request logs: every row the lake has, the API has (the API keeps adding its own)
    logged = {
        (r["id"], r["method"], r["path"], r["status"])
        for r in client.get("/api/v1/logs/requests", params={"limit": 1000}).json()
    }
    requests = set(lake_sql(lake, "request_logs", "SELECT id, method, path, status FROM LAKE"))
    assert requests and requests <= logged

    # the status: the API route, /health and its details, the console view
    status = client.get("/api/v1/analytics/lake").json()
    assert status["enabled"] and status["last_run"]["error"] is None
    by_table = {t["table"]: t for t in status["tables"]}
    assert by_table["metrics_raw"]["rows"] == frame.height
    assert client.get("/api/v1/health").json()["lake"] == "ok"
    details = client.get("/api/v1/health/details").json()["lake"]
    assert details["state"] == "ok" and details["out"] == str(lake)
    page = client.get("/analytics/lake")
    assert page.status_code == 200 and "metrics_raw" in page.text

    # idempotent: again, a file is rewritten only when its rows changed in between. The
    # service keeps writing on its own (the audit log flushes the requests above every 2 s,
    # health scores are recomputed): CI's slower runs saw request_logs and metrics_raw
    # rewritten. So: every rewritten file holds every row it held and more; the others keep
    # their bytes; and the tables nothing writes to here are not touched.
    before = hashes(lake)
    kept = tmp_path / "lake-before"
    shutil.copytree(lake, kept)
    again = client.post("/api/v1/analytics/lake/export").json()
    after = hashes(lake)
    assert set(after) == set(before)
    rewritten = {p for p in after if after[p] != before[p]}
    for path in rewritten:
        old, new = (pq.read_table(root / path).to_pylist() for root in (kept, lake))
        assert len(new) > len(old), path  # rewritten because it gained rows
        assert all(row in new for row in old), path  # and none lost
    quiet = ("job_runs", "job_run_targets", "config_changes", "user_activity", "device_states")
    assert not {p for p in rewritten if p.startswith(quiet)}, rewritten
    assert again["files_written"] == len(rewritten)
    before = after
    other = tmp_path / "cli-lake"
    data_dir = service_of(client).settings.data_dir
    done = subprocess.run(
        [sys.executable, "-m", "netgauge", "analytics", "export-lake", "--out", str(other),
         "--data-dir", str(data_dir), "--json"],
        capture_output=True, text=True, env=os.environ, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["files_written"] == len(hashes(other)) and summary["error"] is None
    cli, server = hashes(other), hashes(lake)
    for table in ("metrics_raw", "metrics_hourly", "job_runs", "job_run_targets", "device_states"):
        mine = {p: h for p, h in cli.items() if p.startswith(table + "/")}
        assert mine and mine == {p: h for p, h in server.items() if p.startswith(table + "/")}

    # incremental: a new sample now rewrites today's metrics file only
    today = f"metrics_raw/date={datetime.now(UTC).date().isoformat()}/part-0.parquet"
    push(client, token, 1000, [time.time_ns()], rng)
    more = client.post("/api/v1/analytics/lake/export").json()
    after = hashes(lake)
    changed = {p for p in after if after[p] != before.get(p)}
    assert today in changed
    assert not {p for p in changed if p.startswith("metrics_raw/")} - {today}
    assert next(t for t in more["tables"] if t["table"] == "metrics_raw")["files_written"] == 1


def test_no_request_chooses_where_the_server_writes(
    client: TestClient, lake: Path, tmp_path: Path
) -> None:
    """The directory is the setting's: a body or a query naming another is not read."""
    elsewhere = tmp_path / "elsewhere"
    r = client.post(
        "/api/v1/analytics/lake/export",
        params={"out": str(elsewhere), "lake_dir": str(elsewhere)},
        json={"out": str(elsewhere), "lake_dir": str(elsewhere), "dir": str(elsewhere)},
    )
    assert r.status_code == 200 and r.json()["out"] == str(lake)
    assert not elsewhere.exists()
    assert (lake / "_netgauge_lake.json").is_file()
    # a viewer reads the status, and may not export; an operator may not either
    service = service_of(client)
    for role, allowed in ((Role.VIEWER, False), (Role.OPERATOR, False)):
        token, _ = service.accounts.create_api_token(f"t-{role}", role, FIRST_ADMIN, "tests")
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/analytics/lake", headers=headers).status_code == 200
        denied = client.post("/api/v1/analytics/lake/export", headers=headers)
        assert denied.status_code == (200 if allowed else 403)


def test_without_lake_dir_there_is_no_export(start_app: StartApp) -> None:
    client = start_app("")
    assert client.get("/api/v1/analytics/lake").json()["enabled"] is False
    r = client.post("/api/v1/analytics/lake/export")
    assert r.status_code == 409 and "lake_dir" in r.json()["detail"]
    assert client.get("/api/v1/health").json()["lake"] == "off"
    assert "lake_dir" in client.get("/analytics/lake").text
