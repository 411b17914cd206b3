"""/api/v1/analytics/risk on a running service whose stores hold a synthetic fleet's
history (bench/fleet.py, moved to end now): metrics in the embedded store, state
transitions in the inventory's device history. While the history is short the rules
answer, and their probabilities equal the rules on the generator's own data (the path
store → features loses nothing); with enough outages a calibrated model answers with its
quality; viewers read, only operators retrain; bad horizons are refused by name."""

from __future__ import annotations

import time

import numpy as np
import pytest
from bench.fleet import Fleet, generate
from fastapi.testclient import TestClient

from netgauge.analytics.risk.features import feature_matrix
from netgauge.analytics.risk.model import Fallback, ModelInfo
from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.pollers.readings import DeviceState
from netgauge.status.hysteresis import Transition
from tests.conftest import service_of
from tests.integration.conftest import StartApp

STEP = 900.0
URL = "/api/v1/analytics/risk"


def shifted(fleet: Fleet) -> Fleet:
    """The fleet moved so that it ends within the last 15 minutes (whole steps)."""
    shift = (time.time() - fleet.end) // STEP * STEP
    for d in fleet.devices.values():
        d.outages = [(s + shift, e + shift, c) for s, e, c in d.outages]
        d.transitions = [(t + shift, s) for t, s in d.transitions]
        d.changes = []  # the change log is not seeded: the rules see no change either
        d.metrics = {m: [(t + shift, v) for t, v in pts] for m, pts in d.metrics.items()}
    return Fleet(fleet.devices, fleet.start + shift, fleet.end + shift)


def serve(start_app: StartApp, fleet: Fleet) -> TestClient:
    targets = "\n".join(
        f"  - {{name: {name}, address: 127.0.0.1, type: device}}" for name in fleet.devices
    )
    client = start_app(f"targets:\n{targets}\n", name="risk.yaml")
    service = service_of(client)
    samples = [
        Sample(DEVICE_METRICS, d.name, metric, value, int(t * 1e9))
        for d in fleet.devices.values()
        for metric, points in d.metrics.items()
        for t, value in points
    ]
    assert client.portal is not None
    client.portal.call(service.stores[0].write, samples)
    for d in fleet.devices.values():
        previous = None
        for t, state in d.transitions:
            new = DeviceState(state)
            service.inventory.record_device_transition(
                Transition(d.name, previous, new, "seeded", None, int(t * 1e9))
            )
            previous = new
    return client


def headers(client: TestClient, role: Role) -> dict[str, str]:
    token, _ = service_of(client).accounts.create_api_token(f"t-{role}", role, FIRST_ADMIN, "t")
    return {"Authorization": f"Bearer {token}"}


def test_short_history_answers_with_the_rules_on_the_stored_data(start_app: StartApp) -> None:
    fleet = shifted(generate(devices=4, days=3, seed=21))
    client = serve(start_app, fleet)
    r = client.get(URL)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"]["kind"] == "fallback" and "history too short" in body["model"]["why"]
    assert body["quality"] is None and body["horizon"] == "24h"
    got = {d["device"]: d for d in body["devices"]}
    assert sorted(got) == sorted(fleet.devices)
    probabilities = [d["probability"] for d in body["devices"]]
    assert probabilities == sorted(probabilities, reverse=True)
    at = np.array([_epoch(body["at"])])
    rules = Fallback(ModelInfo("fallback", "", 0, 0, 0, None, None))
    for name, device in fleet.devices.items():
        expected = rules.probabilities(feature_matrix(device.history(), at, 86400.0))[0]
        assert got[name]["probability"] == pytest.approx(expected, abs=1e-4), name
    one = client.get(URL, params={"device": "dev-0001"}).json()["devices"]
    assert [d["device"] for d in one] == ["dev-0001"]


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_enough_history_trains_a_calibrated_model(start_app: StartApp) -> None:
    fleet = shifted(generate(devices=12, days=20, seed=2))
    outages = sum(len(d.outages) for d in fleet.devices.values())
    assert outages >= 20  # the seed gives the model enough to train on
    client = serve(start_app, fleet)
    body = client.get(URL).json()
    assert body["model"]["kind"] == "logistic_regression", body["model"]
    assert body["model"]["calibration"] in {"sigmoid", "isotonic"}
    quality = body["quality"]
    assert quality is not None and 0.5 <= quality["roc_auc"] <= 1.0
    assert 0 <= quality["calibration_error"] <= 1
    for d in body["devices"]:
        assert 0 <= d["probability"] <= 1
        assert all(x["contribution"] > 0 for x in d["reasons"]) and len(d["reasons"]) <= 3
    # kept: a second read within the minute is the same answer, not a new training
    assert client.get(URL).json()["at"] == body["at"]


def test_roles_and_bad_horizons(start_app: StartApp) -> None:
    client = serve(start_app, shifted(generate(devices=2, days=2, seed=1)))
    viewer, operator = headers(client, Role.VIEWER), headers(client, Role.OPERATOR)
    client.headers.pop("Authorization", None)
    assert client.get(URL, headers=viewer).status_code == 200
    assert client.post(f"{URL}/retrain", headers=viewer).status_code == 403
    retrained = client.post(f"{URL}/retrain", headers=operator)
    assert retrained.status_code == 200 and retrained.json()["model"]["kind"] == "fallback"
    assert client.get(URL).status_code == 401
    bad = client.get(URL, params={"horizon": "3y"}, headers=viewer)
    assert bad.status_code == 422 and "horizon" in bad.text


def test_the_console_lists_devices_by_risk(start_app: StartApp) -> None:
    fleet = shifted(generate(devices=4, days=3, seed=21))
    client = serve(start_app, fleet)
    ranked = [d["device"] for d in client.get(URL, params={"horizon": "6h"}).json()["devices"]]
    page = client.get("/analytics/risk", params={"horizon": "6h"})
    assert page.status_code == 200
    html = page.text
    assert "Rule-based score (fallback)" in html and "history too short" in html
    assert [html.index(f">{name}</a>") for name in ranked] == sorted(
        html.index(f">{name}</a>") for name in ranked
    )
    assert "<script>" not in html and "style=" not in html
    index = client.get("/analytics")
    assert 'href="/analytics/risk"' in index.text
