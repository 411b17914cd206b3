"""/api/v1/ingest over a real service: a device's agent token, batches stored once however
often they are sent, refused values reported, unknown tokens refused."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.errors import RetryableStorageError
from netgauge.service import Service
from tests.conftest import as_admin, wait_for
from tests.integration.conftest import StartApp, portal


@pytest.fixture
def client(start_app: StartApp) -> TestClient:
    text = """
targets:
  - {name: laptop, address: 127.0.0.1, type: device}
  - {name: web, address: 127.0.0.1}
"""
    return start_app(text, name="ingest.yaml", raise_server_exceptions=False)


def batch(seq: int, cpu: float) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts_ns": time.time_ns() - (10 - seq) * 1_000_000_000,
        "metrics": [
            {"name": "cpu_percent", "value": cpu},
            {"name": "disk_percent", "value": 40.0, "labels": {"mount": "/"}},
        ],
    }


def post(client: TestClient, token: str, *batches: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/ingest",
        json={"agent": {"version": "t", "hostname": "h"}, "batches": list(batches)},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_batches_are_stored_once_however_often_sent(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    first = post(client, token, batch(1, 10.0), batch(2, 20.0))
    assert first.status_code == 200
    assert first.json() == {"device": "laptop", "accepted_through": 2, "stored": 4, "refused": []}
    again = post(client, token, batch(2, 20.0), batch(3, 30.0))  # 2 is a resend
    assert again.json()["accepted_through"] == 3 and again.json()["stored"] == 2

    def points() -> Any:
        params = {"target": "laptop", "metric": "cpu_percent", "from": "2000-01-01T00:00:00"}
        found = client.get("/api/v1/metrics", params=params).json()["points"]
        return found if len(found) >= 3 else None

    assert [p["value"] for p in wait_for(points, what="3 cpu samples")] == [10.0, 20.0, 30.0]
    states = {s["device"]: s["state"] for s in client.get("/api/v1/devices/states").json()}
    assert states["laptop"] == "online"


def test_refused_values_are_reported_not_stored(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    body = post(client, token, batch(1, 250.0)).json()
    assert body["stored"] == 1  # the disk, not the impossible CPU
    assert body["refused"] == ["refused cpu_percent = 250.0: cpu_percent out of range 0..100"]


def test_tokens_unknown_revoked_or_for_a_non_device_are_refused(client: TestClient) -> None:
    assert post(client, "made-up", batch(1, 1.0)).status_code == 401
    assert client.post("/api/v1/ingest", json={"batches": []}).status_code == 401
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    assert client.delete("/api/v1/devices/laptop/agent-token").status_code == 204
    assert post(client, token, batch(1, 1.0)).status_code == 401
    refused = client.post("/api/v1/devices/web/agent-token")
    assert refused.status_code in (400, 409, 422) and "not a device" in refused.text
    assert client.post("/api/v1/devices/nope/agent-token").status_code == 404


def test_malformed_batches_name_the_field(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    bad = post(client, token, {"seq": 0, "ts_ns": 1, "metrics": []})
    assert bad.status_code == 422 and "seq" in bad.json()["field"]


def test_an_agent_that_falls_silent_makes_its_device_offline(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    assert post(client, token, batch(1, 10.0)).status_code == 200
    service = client.app.state.service  # type: ignore[attr-defined]
    later = time.monotonic() + 1000  # long after its last post
    assert portal(client).call(service.agents.check_silent, 3600.0, later) == []  # not yet
    for _ in range(3):  # device_fail_after silent checks in a row
        assert portal(client).call(service.agents.check_silent, 120.0, later) == ["laptop"]
    states = {s["device"]: s["state"] for s in client.get("/api/v1/devices/states").json()}
    assert states["laptop"] == "offline"
    change = client.get("/api/v1/devices/laptop/history").json()[0]
    assert change["new_state"] == "offline" and "no batch from the agent" in change["detail"]
    for seq in (2, 3):  # two posts: two good checks (one post is one observation)
        assert post(client, token, batch(seq, 10.0)).status_code == 200
    states = {s["device"]: s["state"] for s in client.get("/api/v1/devices/states").json()}
    assert states["laptop"] == "online"  # back after device_recover_after good checks


def test_the_token_is_checked_before_the_body_and_sizes_are_bounded(client: TestClient) -> None:
    assert client.post("/api/v1/ingest", json={"batches": "junk"}).status_code == 401
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    many: dict[str, Any] = {
        "seq": 1,
        "ts_ns": time.time_ns(),
        "metrics": [{"name": "cpu_percent", "value": 1}],
    }
    many["metrics"] = many["metrics"] * 10_000
    assert post(client, token, *[dict(many, seq=i) for i in range(1, 7)]).status_code == 413
    long_label = batch(1, 1.0)
    long_label["metrics"][1]["labels"] = {"mount": "x" * 129}
    assert post(client, token, long_label).status_code == 422
    huge = client.post(
        "/api/v1/ingest",
        content=b"{}",
        headers={"Authorization": f"Bearer {token}", "Content-Length": str(64 * 1024 * 1024)},
    )
    assert huge.status_code == 413


def test_batches_with_implausible_clocks_are_refused(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    old, ahead = batch(1, 1.0), batch(2, 1.0)
    old["ts_ns"] = 1_000_000_000  # 1970
    ahead["ts_ns"] = time.time_ns() + 3600 * 1_000_000_000
    body = post(client, token, old, ahead).json()
    assert body["accepted_through"] == 2 and body["stored"] == 0
    assert [r.split(":")[0] for r in body["refused"]] == ["refused batch 1", "refused batch 2"]


def test_deleting_the_target_revokes_its_agent_tokens(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    assert client.delete("/api/v1/targets/laptop").status_code == 204
    assert post(client, token, batch(1, 1.0)).status_code == 401
    client.post(
        "/api/v1/targets", json={"name": "laptop", "address": "127.0.0.9", "type": "device"}
    )
    assert post(client, token, batch(1, 1.0)).status_code == 401  # not inherited


def test_the_silence_watch_survives_a_restart(settings: Settings) -> None:
    text = "targets:\n  - {name: laptop, address: 127.0.0.1, type: device}\n"
    config = load_config_text(text, "ingest.yaml").config
    with TestClient(create_app(Service(settings, config, "ingest.yaml"))) as first:
        as_admin(first)
        token = first.post("/api/v1/devices/laptop/agent-token").json()["token"]
        assert post(first, token, batch(1, 10.0)).status_code == 200
    with TestClient(create_app(Service(settings, config, "ingest.yaml"))) as second:
        as_admin(second)
        service = second.app.state.service  # type: ignore[attr-defined]
        portal(second).call(service.agents.resume)
        later = time.monotonic() + 1000
        assert portal(second).call(service.agents.check_silent, 120.0, later) == ["laptop"]


def test_a_chunked_body_over_the_limit_is_refused_while_read(client: TestClient) -> None:
    from netgauge.api.security import MAX_INGEST_BYTES

    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    chunk = b" " * (1024 * 1024)
    chunks = (MAX_INGEST_BYTES // len(chunk)) + 2

    def body() -> Any:
        yield b'{"batches": ['
        for _ in range(chunks):
            yield chunk  # (JSON whitespace: only the size matters)
        yield b"]}"

    r = client.post("/api/v1/ingest", content=body(), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 413 and r.json()["field"] == "body"
    assert post(client, token, batch(1, 1.0)).status_code == 200  # the API is fine after


def test_a_replayed_backlog_is_stored_but_observed_once(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    body = post(client, token, *(batch(seq, 10.0) for seq in range(1, 8))).json()
    assert body["stored"] == 14  # every batch's two samples
    history = client.get("/api/v1/devices/laptop/history").json()
    assert [h["new_state"] for h in history] == ["online"]  # one observation, at the newest


def test_metrics_exposes_every_series_newest_value_for_prometheus(client: TestClient) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        r = client.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text)
            for s in family.samples
        }

    cpu = ("netgauge_cpu_percent", (("device", "laptop"),))
    assert post(client, token, batch(1, 10.0), batch(2, 20.0)).status_code == 200
    assert scrape()[cpu] == 20.0  # the newest
    refused = batch(3, 250.0)
    assert post(client, token, refused).status_code == 200
    samples = scrape()
    assert cpu not in samples  # the newest batch had no valid CPU value: no stale 20.0
    assert samples[("netgauge_disk_percent", (("device", "laptop"), ("mount", "/")))] == 40.0
    assert samples[("netgauge_status", (("device", "laptop"),))] == 1.0
    assert samples[("netgauge_devices", (("state", "online"),))] == 1.0
    reason = "cpu_percent out of range 0..100"
    assert samples[("netgauge_samples_refused_total", (("reason", reason),))] >= 1.0
    assert samples[("netgauge_store_samples_written_total", (("store", "embedded"),))] >= 5
    embedded = (("store", "embedded"),)
    assert samples[("netgauge_store_up", embedded)] == 1.0
    took = samples[("netgauge_store_last_success_timestamp_seconds", embedded)]
    assert abs(took - time.time()) < 300
    assert samples[("netgauge_store_newest_sample_timestamp_seconds", embedded)] <= time.time()


def test_availability_is_the_share_of_up_status_samples(client: TestClient) -> None:
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]
    for seq in (1, 2):
        assert post(client, token, batch(seq, 10.0)).status_code == 200
    service = client.app.state.service  # type: ignore[attr-defined]
    later = time.monotonic() + 1000
    for _ in range(3):  # three silent checks: offline, status 0
        portal(client).call(service.agents.check_silent, 120.0, later)
    params = {"target": "laptop", "metric": "status", "from": "2000-01-01T00:00:00"}

    def points() -> Any:
        found = client.get("/api/v1/metrics", params={**params, "step": "36500d"}).json()
        return found["points"] if found["points"] and found["points"][0]["count"] >= 5 else None

    wait_for(points, what="five status samples")
    body = client.get(
        "/api/v1/metrics", params={**params, "step": "36500d", "agg": "availability"}
    ).json()
    (point,) = body["points"]
    ups = point["count"] - 1  # the third silent check is the one offline (0) sample
    assert point["value"] == pytest.approx(100.0 * ups / point["count"])
    bad = client.get(
        "/api/v1/metrics",
        params={"target": "laptop", "metric": "cpu_percent", "agg": "availability"},
    )
    assert bad.status_code == 422 and "availability is for the status metric" in bad.text


def test_a_batch_the_embedded_store_could_not_take_is_not_acknowledged(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    token = client.post("/api/v1/devices/laptop/agent-token").json()["token"]

    async def failing(_: Any) -> None:
        raise RetryableStorageError("embedded store: disk I/O error")

    monkeypatch.setattr(service.stores[0], "write", failing)
    first = batch(1, 10.0)
    refused = post(client, token, first)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert "embedded: embedded store: disk I/O error" in refused.json()["detail"]
    monkeypatch.undo()
    # the agent sends it again: acknowledged now, and stored once although the first
    # attempt's samples were still queued in the writer
    again = post(client, token, first)
    assert again.status_code == 200 and again.json()["accepted_through"] == 1
    params = {"target": "laptop", "metric": "cpu_percent", "from": "2000-01-01T00:00:00"}
    assert [p["value"] for p in client.get("/api/v1/metrics", params=params).json()["points"]] == [
        10.0
    ]
