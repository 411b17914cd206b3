"""Failure risk on a seeded synthetic fleet whose outages the generator knows (bench/fleet.py):
the features against hand counts and numpy's least squares, the labels against the
generator's outage list, the model's ranking on a later part it was not trained on, the
fallback while history is short, and the file command (a subprocess) with its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bench.fleet import Fleet, generate, outage_within
from sklearn.metrics import roc_auc_score

from netgauge.analytics.risk.features import FEATURES, feature_matrix, history_of, labels
from netgauge.analytics.risk.model import Fallback, Trained, fit, train_and_assess, training_set

DAY = 86400.0
HORIZON = DAY


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return generate(devices=60, days=30, seed=7)


def column(x: np.ndarray, name: str) -> np.ndarray:
    return x[:, FEATURES.index(name)]


def test_counts_and_trend_against_hand_and_polyfit() -> None:
    t0 = 1_000_000.0
    memory = [(t0 + i * 900.0, 40 + 0.5 * i + (-1) ** i) for i in range(200)]
    uptime = [(t0 + i * 900.0, 1000.0 + (i % 50) * 900.0) for i in range(200)]  # reset every 50
    states = [
        (t0, "online"),
        (t0 + 10 * 3600, "offline"),
        (t0 + 11 * 3600, "online"),
        (t0 + 40 * 3600, "degraded"),
        (t0 + 41 * 3600, "online"),
    ]
    h = history_of(
        {"memory_percent": memory, "uptime_seconds": uptime},
        states,
        [t0 + 30 * 3600, t0 + 45 * 3600],
    )
    at = t0 + 199 * 900.0  # 49.75 h in
    x = feature_matrix(h, np.array([at]), HORIZON)
    window = [(t, v) for t, v in memory if at - DAY < t <= at]
    slope, _ = np.polyfit([t / 3600 for t, _ in window], [v for _, v in window], 1)
    assert column(x, "memory_slope_per_h")[0] == pytest.approx(slope, rel=1e-6)
    assert column(x, "memory_level")[0] == memory[-1][1]
    assert column(x, "memory_at_horizon")[0] == pytest.approx(memory[-1][1] + 24 * slope)
    assert column(x, "uptime_resets_7d")[0] == 3  # samples 50, 100, 150
    assert column(x, "uptime_resets_24h")[0] == 1  # 150 (100 is 24.75 h before: outside)
    assert column(x, "config_changes_24h")[0] == 2 and column(x, "config_changes_7d")[0] == 2
    assert column(x, "offline_episodes_7d")[0] == 1
    assert column(x, "hours_since_offline")[0] == pytest.approx(39.75)
    assert column(x, "degraded_episodes_24h")[0] == 1
    assert column(x, "changes_of_state_24h")[0] == 2  # degraded and back (offline 38 h ago)
    assert np.isnan(column(x, "cpu_level")[0])  # no cpu series: unknown, not 0


def test_decays_rates_flaps_and_short_slope_against_hand() -> None:
    t0 = 2_000_000.0
    temperature = [
        (t0 + i * 900.0, 40 + (3.0 if i >= 80 else 0.0) * (i - 80) / 4) for i in range(97)
    ]
    states = [
        (t0, "online"),
        (t0 + 5 * 3600, "flapping"),
        (t0 + 5.5 * 3600, "online"),
        (t0 + 10 * 3600, "offline"),
        (t0 + 11 * 3600, "online"),
    ]
    changes = [t0 + 2 * 3600, t0 + 20 * 3600]
    h = history_of({'temperature_celsius{sensor="cpu"}': temperature}, states, changes)
    at = t0 + 24 * 3600.0
    x = feature_matrix(h, np.array([at]), HORIZON)
    assert column(x, "config_change_decay_3h")[0] == pytest.approx(np.exp(-4 / 3))
    assert column(x, "config_change_decay_48h")[0] == pytest.approx(np.exp(-4 / 48))
    assert column(x, "offline_decay_12h")[0] == pytest.approx(np.exp(-14 / 12))
    assert column(x, "uptime_reset_decay_12h")[0] == 0.0  # no uptime series: no reset
    assert column(x, "flaps_7d")[0] == 1
    assert column(x, "hours_since_flapping")[0] == pytest.approx(19.0)
    # known for 24 h of the 30 d window: 2 changes in 1 day
    assert column(x, "config_change_per_day_30d")[0] == pytest.approx(2.0)
    # the last 6 h: flat until sample 80 (20 h), then +3 °C/h
    window = [(t, v) for t, v in temperature if at - 6 * 3600 < t <= at]
    slope, _ = np.polyfit([t / 3600 for t, _ in window], [v for _, v in window], 1)
    assert column(x, "temperature_slope_6h")[0] == pytest.approx(slope, rel=1e-6)
    assert column(x, "temperature_slope_6h")[0] > column(x, "temperature_slope_per_h")[0]


def test_features_never_read_the_future(fleet: Fleet) -> None:
    device = next(d for d in fleet.devices.values() if d.outages)
    cut = device.outages[0][0] - 3600.0
    times = np.arange(fleet.start + DAY, cut, 3600.0)
    whole = feature_matrix(device.history(), times, HORIZON)
    past = history_of(
        {m: [p for p in pts if p[0] <= cut] for m, pts in device.metrics.items()},
        [s for s in device.transitions if s[0] <= cut],
        [c for c in device.changes if c <= cut],
    )
    np.testing.assert_array_equal(whole, feature_matrix(past, times, HORIZON))


def test_labels_match_the_generators_outages(fleet: Fleet) -> None:
    for device in list(fleet.devices.values())[:20]:
        times = np.arange(fleet.start, fleet.end - DAY, 3600.0)
        np.testing.assert_array_equal(
            labels(device.history(), times, HORIZON), outage_within(device, times, HORIZON)
        )


def test_the_model_ranks_later_outages_it_was_not_trained_on(fleet: Fleet) -> None:
    histories = fleet.histories()
    split = fleet.start + 20 * DAY
    predictor = fit(training_set(histories, fleet.start, split - HORIZON, HORIZON))
    assert isinstance(predictor, Trained) and predictor.info.kind == "logistic_regression"
    truth, scores = [], []
    for name, device in fleet.devices.items():
        times = np.arange(split, fleet.end - HORIZON, 3600.0)
        truth.append(outage_within(device, times, HORIZON))  # the generator's, not ours
        scores.append(predictor.probabilities(feature_matrix(histories[name], times, HORIZON)))
    y, p = np.concatenate(truth), np.concatenate(scores)
    assert roc_auc_score(y, p) > 0.65
    assert ((p >= 0) & (p <= 1)).all()
    # calibrated: the mean probability is near the later part's outage rate
    assert abs(p.mean() - y.mean()) < 0.05


def test_a_leaking_device_ranks_above_healthy_ones() -> None:
    t0 = 1_000_000.0
    steady = [(t0 + i * 900.0, 50.0) for i in range(4 * 24 * 10)]
    leaking = [(t0 + i * 900.0, 20 + 0.19 * i) for i in range(4 * 24 * 10)]  # 92 % at the end
    fleet = generate(devices=60, days=30, seed=11).histories()
    fleet["leaker"] = history_of({"memory_percent": leaking}, [(t0, "online")])
    fleet["steady"] = history_of({"memory_percent": steady}, [(t0, "online")])
    end = max(h.last_time() or 0.0 for h in fleet.values())
    shift = end - steady[-1][0]  # place both at the fleet's end
    for name, series in (("leaker", leaking), ("steady", steady)):
        fleet[name] = history_of(
            {"memory_percent": [(t + shift, v) for t, v in series]}, [(t0 + shift, "online")]
        )
    _, risks = train_and_assess(fleet, end, HORIZON)
    by_name = {r.device: r for r in risks}
    assert by_name["leaker"].probability > by_name["steady"].probability
    assert any(r.feature.startswith("memory") for r in by_name["leaker"].reasons)


def test_short_history_gets_the_fallback_and_says_why() -> None:
    short = generate(devices=3, days=4, seed=5).histories()
    end = max(h.last_time() or 0.0 for h in short.values())
    predictor, risks = train_and_assess(short, end, HORIZON)
    assert isinstance(predictor, Fallback)
    assert "history too short" in predictor.info.why
    assert sorted(r.device for r in risks) == sorted(short)


def test_fallback_reasons_are_its_rules_points() -> None:
    t0 = 1_000_000.0
    history = history_of(
        {"memory_percent": [(t0 + i * 900.0, 60 + 0.5 * i) for i in range(96)]},
        [(t0, "online"), (t0 + 3600, "offline"), (t0 + 7200, "online")],
        [t0 + 20 * 3600],
    )
    predictor, risks = train_and_assess({"a": history}, t0 + 95 * 900.0, HORIZON)
    assert isinstance(predictor, Fallback)
    reasons = {r.feature: r.contribution for r in risks[0].reasons}
    # the top three: memory's trend reaches 95 % (+3.0), a change in 24 h (+1.5), memory at
    # 90 % or more (+1.0); below them: 3 state changes in 24 h (+0.9), an outage in 7 d (+0.8)
    assert reasons == {"memory_at_horizon": 3.0, "config_changes_24h": 1.5, "memory_level": 1.0}
    expected = 1 / (1 + np.exp(-(-5.0 + 3.0 + 1.5 + 1.0 + 0.9 + 0.8)))
    assert risks[0].probability == pytest.approx(expected, abs=1e-4)


# -- the file command --------------------------------------------------------------------
def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-m", "netgauge", "analytics", "risk", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Fleet]:
    small = generate(devices=25, days=14, seed=3)
    directory = tmp_path_factory.mktemp("fleet")
    small.write(directory)
    return directory, small


def test_cli_prints_one_object_per_device(fleet_dir: tuple[Path, Fleet]) -> None:
    directory, small = fleet_dir
    done = run(str(directory), "--horizon", "24h", "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["device"] for r in rows) == sorted(small.devices)
    for r in rows:
        assert set(r) == {"device", "probability", "reasons"}
        assert 0.0 <= r["probability"] <= 1.0
        for reason in r["reasons"]:
            assert set(reason) == {"feature", "value", "contribution"}
            assert reason["feature"] in FEATURES and reason["contribution"] > 0
    assert "logistic_regression" in done.stderr or "fallback" in done.stderr


@pytest.mark.parametrize(
    ("file", "text", "said"),
    [
        (
            "states.csv",
            "device,timestamp,state\na,2026-01-01 00:00:00,asleep\n",
            "states.csv:2: state 'asleep' is not one of",
        ),
        (
            "states.csv",
            "device,timestamp,state\na,yesterday,online\n",
            "states.csv:2: 'yesterday' is not a time",
        ),
        (
            "metrics.csv",
            "device,metric,timestamp,value\na,cpu,2026-01-01T00:00:00Z,5\n",
            "metrics.csv:2: metric 'cpu' is not in the device metric table",
        ),
        (
            "metrics.csv",
            "device,metric,timestamp,value\na,cpu_percent,1767225600,lots\n",
            "metrics.csv:2: 'lots' is not a number",
        ),
        ("metrics.csv", "device,metric,when,value\n", "metrics.csv:1: the header line must name"),
    ],
)
def test_cli_bad_input_names_the_line(tmp_path: Path, file: str, text: str, said: str) -> None:
    (tmp_path / "metrics.csv").write_text("device,metric,timestamp,value\n")
    (tmp_path / "states.csv").write_text("device,timestamp,state\n")
    (tmp_path / file).write_text(text)
    done = run(str(tmp_path), "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert said in done.stderr and len(done.stderr.splitlines()) == 1


def test_cli_refuses_a_missing_directory_and_a_bad_horizon(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nowhere"), "--json")
    assert done.returncode == 2 and "not a directory" in done.stderr
    done = run(str(tmp_path), "--horizon", "soon")
    assert done.returncode == 2 and "--horizon" in done.stderr


def test_track_record_counts_only_events_whose_horizon_has_passed() -> None:
    t0, hour = 1_000_000.0, 3600.0
    changes = [t0, t0 + 48 * hour, t0 + 96 * hour]  # the first two followed by outages
    states = [
        (t0 - hour, "online"),
        (t0 + 5 * hour, "offline"),
        (t0 + 6 * hour, "online"),
        (t0 + 50 * hour, "offline"),
        (t0 + 51 * hour, "online"),
    ]
    h = history_of({}, states, changes)
    times = np.array([t0 + 10 * hour, t0 + 30 * hour, t0 + 80 * hour, t0 + 100 * hour])
    x = feature_matrix(h, times, HORIZON)
    # judged by t: none (the first change's day is not over), 1 of 1, 2 of 2, 2 of 2
    expected = [0.2 / 2, 1.2 / 3, 2.2 / 4, 2.2 / 4]
    np.testing.assert_allclose(column(x, "config_change_track_record"), expected)
    # a change within the last horizon: at 10 h (the first) and 100 h (the third)
    np.testing.assert_allclose(column(x, "recent_change_x_track_record"), [0.1, 0.0, 0.0, 2.2 / 4])


def test_a_device_without_metrics_is_assessed_on_what_it_has() -> None:
    t0 = 1_000_000.0
    pinged = history_of({}, [(t0, "online"), (t0 + 3600, "offline"), (t0 + 7200, "online")])
    x = feature_matrix(pinged, np.array([t0 + 10_000]), HORIZON)
    assert np.isnan(column(x, "silence_hours")[0]) and np.isnan(column(x, "memory_level")[0])
    _, risks = train_and_assess({"pinged": pinged}, t0 + 10_000, HORIZON)
    reasons = {r.feature for r in risks[0].reasons}
    assert reasons == {"offline_episodes_7d", "changes_of_state_24h"}
