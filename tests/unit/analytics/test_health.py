"""The health formula (version 1) on hand-built inputs: every expected number is worked out
here by hand from the table in netgauge.analytics.health's docstring, not by its code."""

from __future__ import annotations

import pytest

from netgauge.analytics.health import (
    FORMULA_VERSION,
    MAX_POINTS,
    Bucket,
    Health,
    HealthInputs,
    score,
    site_score,
)
from netgauge.analytics.health_service import count_changes


def by_name(health: Health) -> dict[str, float | None]:
    return {c.name: c.points for c in health.components}


def full_device() -> HealthInputs:
    return HealthInputs(
        kind="device",
        # 19 hours all up + one at 80 %, 10 samples each: 198 of 200 up = 99 %
        status_24h=[Bucket(1.0, 10)] * 19 + [Bucket(0.8, 10)],
        # 665 of 700 up = 95 %
        status_7d=[Bucket(1.0, 100)] * 5 + [Bucket(0.65, 100), Bucket(1.0, 100)],
        changes_24h=3,
        cpu_24h=[80.0, 90.0],  # mean 85
        memory_24h=[50.0],
        disks_7d={
            "/": [(0.0, 80.0), (1.0, 81.0), (2.0, 82.0), (3.0, 83.0), (4.0, 84.0)],
            "/srv": [(0.0, 10.0), (4.0, 10.0)],
        },
        temperatures_24h={"cpu": [50.0, 70.0], "board": [40.0]},
        errors_24h=2,
        job_outcomes_7d=(9, 1),
        latency_7d=[10.0] * 24 + [20.0],
        loss_7d=[0.0] * 24 + [5.0],
    )


def test_the_maxima_sum_to_100() -> None:
    assert sum(MAX_POINTS.values()) == 100
    assert FORMULA_VERSION == "1"


def test_every_component_by_hand() -> None:
    health = score(full_device())
    expected = {
        "availability_24h": 25 * (99 - 90) / 10,  # 22.5
        "availability_7d": 15 * (95 - 90) / 10,  # 7.5
        "flapping": 10 * (1 - 3 / 10),  # 7
        # cpu mean 85: (95 - 85) / 25 = 0.4; memory 50 ≤ 70: 1; their mean 0.7
        "resources": 10 * (0.4 + 1.0) / 2,
        # "/": level 84 → (95 - 84) / 15; +1 %/day → 16 days to full → (16 - 3) / 27
        "disk": 10 * (0.6 * 11 / 15 + 0.4 * 13 / 27),
        "temperature": 5 * (85 - 70) / 25,  # the hottest hour of the hottest sensor
        "error_rate": 5 * (1 - 2 / 10),
        "job_failures": 10 * (1 - 0.1 / 0.5),  # 1 of 10 failed
        # latency 20 vs median 10: ratio 2 → (3 - 2) / 1.8; loss +5 points → (20 - 5) / 19
        "latency_loss": 10 * ((3 - 2) / 1.8 + (20 - 5) / 19) / 2,
    }
    got = by_name(health)
    assert got == pytest.approx(expected, abs=1e-3)
    assert health.score == pytest.approx(sum(expected.values()), abs=0.01)
    assert health.coverage == 1.0 and health.capped_by is None
    disk = next(c for c in health.components if c.name == "disk")
    assert disk.data["mount"] == "/" and disk.data["days_to_full"] == pytest.approx(16)
    assert "16.0 days" in disk.evidence


def test_a_new_device_is_scored_on_what_it_has_and_says_what_it_lacks() -> None:
    health = score(HealthInputs(kind="device", status_24h=[Bucket(1.0, 3)],
                                status_7d=[Bucket(1.0, 3)], changes_24h=0))  # fmt: skip
    # 25 + 15 + 10 of 50 scored points: re-normalised to 100
    assert health.score == 100.0
    assert health.coverage == pytest.approx(0.5)
    unscored = {c.name: c.evidence for c in health.components if not c.scored}
    assert set(unscored) == {
        "resources", "disk", "temperature", "error_rate", "job_failures", "latency_loss",
    }  # fmt: skip
    assert "no baseline yet" in unscored["latency_loss"]
    assert "no disk_percent" in unscored["disk"]


def test_no_data_no_score() -> None:
    health = score(HealthInputs(kind="destination"))
    assert health.score is None and health.coverage == 0
    assert all(not c.scored and c.evidence for c in health.components)


def test_all_down_scores_zero_by_the_availability_cap() -> None:
    down = [Bucket(0.0, 60)] * 24
    health = score(HealthInputs(kind="device", status_24h=down, status_7d=down, changes_24h=0))
    # uncapped: flapping's 10 of the 50 scored points = 20; capped at 0 % availability
    assert by_name(health)["availability_24h"] == 0 and by_name(health)["flapping"] == 10
    assert health.score == 0.0 and health.capped_by == 0.0


def test_the_cap_is_the_24h_availability_in_percent() -> None:
    half = [Bucket(1.0, 10), Bucket(0.0, 10)]  # 50 %: both availabilities 0 points
    health = score(HealthInputs(kind="destination", status_24h=half, status_7d=half,
                                changes_24h=1))  # fmt: skip
    # 50 %: no availability points; flapping 9 of the 50 scored = 18, under the cap of 50
    assert health.score == 100 * 9 / 50 and health.capped_by is None


def test_a_destination_has_no_job_failure_or_error_component() -> None:
    inputs = HealthInputs(kind="destination", status_24h=[Bucket(1.0, 5)],
                          job_outcomes_7d=(0, 10), errors_24h=50)  # fmt: skip
    health = score(inputs)
    skipped = {c.name: c for c in health.components if c.name in ("job_failures", "error_rate")}
    assert all(not c.scored and "destination" in c.evidence for c in skipped.values())
    assert health.score == 100.0  # availability_24h only


def test_latency_needs_24_hours_before_the_newest() -> None:
    short = score(HealthInputs(kind="destination", latency_7d=[10.0] * 24))
    assert by_name(short)["latency_loss"] is None
    steady = score(HealthInputs(kind="destination", latency_7d=[10.0] * 25))
    assert by_name(steady)["latency_loss"] == 10  # ratio 1 ≤ 1.2: all points
    # three times the baseline or worse: none
    slow = score(HealthInputs(kind="destination", latency_7d=[10.0] * 24 + [31.0]))
    assert by_name(slow)["latency_loss"] == 0


def test_a_shrinking_disk_is_judged_on_its_level() -> None:
    health = score(HealthInputs(kind="device", disks_7d={"/": [(0.0, 90.0), (1.0, 87.5)]}))
    # level 87.5 → (95 - 87.5) / 15 = 0.5; not filling → trend 1
    assert by_name(health)["disk"] == pytest.approx(10 * (0.6 * 0.5 + 0.4 * 1.0))


def test_site_is_the_coverage_weighted_mean_with_the_worst_named() -> None:
    up = [Bucket(1.0, 10)]
    a = score(HealthInputs(kind="device", status_24h=up, status_7d=up, changes_24h=0,
                           cpu_24h=[95.0], memory_24h=[95.0]))  # fmt: skip
    # 50 of 60 scored points → 83.33, coverage 0.6
    assert a.score == pytest.approx(83.33) and a.coverage == pytest.approx(0.6)
    b = score(HealthInputs(kind="destination", status_24h=[Bucket(1.0, 9), Bucket(0.0, 1)]))
    # availability 90 % → 0 of 25 points; coverage 0.25
    assert b.score == 0.0 and b.coverage == pytest.approx(0.25)
    site = site_score({"a": a, "b": b, "c": score(HealthInputs(kind="device"))})
    assert site.score == pytest.approx((0.6 * 100 * 50 / 60 + 0.25 * 0) / 0.85, abs=0.01)
    assert (site.worst, site.worst_score) == ("b", 0.0)
    assert site.unscored == ("c",) and (site.targets, site.scored) == (3, 2)
    assert site_score({}).score is None


def test_count_changes() -> None:
    assert count_changes([1.0, 1.0, 0.0, 0.0, 1.0]) == 2
    assert count_changes([]) == 0
