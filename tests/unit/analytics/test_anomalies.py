"""Anomaly scores on labelled synthetic series: the labels come from the generator (where it
injected spikes, shifts, bursts), never from the code under test; ROC-AUC by scikit-learn.

Seasonality the series always had (a daily wave, a lower weekend) is not an anomaly; a
spike is, wherever it falls in the wave; a lasting level shift is one at its start and
stops being one once learned; and nothing after a sample changes its score (online)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from netgauge.analytics.anomalies import (
    OnlineScorer,
    Params,
    Scores,
    anomaly_rate,
    events,
    score_series,
)

STEP = 300.0  # 5-minute samples
DAY = 86_400.0
PER_DAY = int(DAY / STEP)
T0 = 1_700_006_400.0  # 2023-11-15 00:00 UTC, a Wednesday
SIGMA = 1.0


def seasonal(
    days: int, seed: int, weekend: float = 3.0, amplitude: float = 10.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Times and values: level 50, a daily wave, a weekend ``weekend`` sigma lower, noise."""
    rng = np.random.default_rng(seed)
    n = days * PER_DAY
    t = T0 + np.arange(n, dtype=np.float64) * STEP
    weekday = ((t // DAY + 3) % 7).astype(int)  # 0 = Monday (1970-01-01 was a Thursday)
    v = (
        50.0
        + amplitude * SIGMA * np.sin(2 * np.pi * t / DAY)
        - weekend * SIGMA * (weekday >= 5)
        + rng.normal(0, SIGMA, n)
    )
    return t, np.asarray(v, dtype=np.float64)


def test_daily_and_weekly_seasonality_is_not_an_anomaly() -> None:
    t, v = seasonal(days=28, seed=1)
    scores = score_series(t, v)
    after_warmup = scores.anomaly[3 * PER_DAY :]  # the daily model is ready on day 4
    assert after_warmup.mean() < 0.001
    assert np.all((scores.score >= 0) & (scores.score <= 1))


def test_a_large_weekend_is_learned_by_the_weekly_model() -> None:
    # 8 sigma lower at weekends: new on the first weekends, expected once 3 weeks are seen
    t, v = seasonal(days=42, seed=2, weekend=8.0)
    scores = score_series(t, v)
    assert scores.anomaly[28 * PER_DAY :].sum() == 0


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_injected_spikes_are_found_wherever_they_fall_in_the_wave(seed: int) -> None:
    # no weekend step: until the weekly model is ready (3 weeks), the hours around a
    # weekend's start and end widen the daily model's window (docs: limits)
    t, v = seasonal(days=21, seed=seed, weekend=0.0)
    rng = np.random.default_rng(seed + 100)
    at = np.sort(rng.choice(np.arange(4 * PER_DAY, v.size, 37), size=20, replace=False))
    v[at] += rng.choice([-1.0, 1.0], at.size) * rng.uniform(8, 12, at.size) * SIGMA
    scores = score_series(t, v)
    assert scores.anomaly[at].all()
    normal = np.ones(v.size, dtype=bool)
    normal[at] = False
    normal[: 3 * PER_DAY] = False
    assert scores.anomaly[normal].mean() < 0.001
    found = events(t, scores, v)
    assert {e.start for e in found} >= set(t[at].tolist())


def test_roc_auc_on_labelled_anomalies() -> None:
    t, v = seasonal(days=21, seed=6)
    rng = np.random.default_rng(6)
    label = np.zeros(v.size, dtype=bool)
    for a in rng.choice(np.arange(4 * PER_DAY, v.size - 12, 97), size=25, replace=False):
        length = int(rng.integers(1, 6))
        v[a : a + length] += rng.choice([-1.0, 1.0]) * rng.uniform(5, 9) * SIGMA
        label[a : a + length] = True
    scores = score_series(t, v)
    assert roc_auc_score(label, scores.score) > 0.95
    z_global = np.abs(v - v.mean()) / v.std()  # what the plain detector sees
    assert roc_auc_score(label, scores.score) > roc_auc_score(label, z_global) + 0.1


def test_a_lasting_level_shift_is_an_anomaly_at_its_start_only() -> None:
    t, v = seasonal(days=14, seed=7)
    shift_at = 7 * PER_DAY + 100
    v[shift_at:] += 12 * SIGMA
    scores = score_series(t, v)
    assert scores.anomaly[shift_at : shift_at + 5].all()
    window = Params().window
    later = scores.anomaly[shift_at + window : shift_at + 2 * PER_DAY]
    assert later.mean() < 0.01


def test_scores_are_online_the_future_changes_nothing_before_it() -> None:
    t, v = seasonal(days=20, seed=8)
    cut = 15 * PER_DAY + 17
    whole = score_series(t, v)
    head = score_series(t[:cut], v[:cut])
    np.testing.assert_array_equal(whole.score[:cut], head.score)
    changed = v.copy()
    changed[cut:] = 1e6  # a wild future
    np.testing.assert_array_equal(score_series(t, changed).score[:cut], head.score)


def test_unsorted_input_is_scored_in_time_order_and_returned_in_input_order() -> None:
    t, v = seasonal(days=10, seed=9)
    v[6 * PER_DAY + 5] += 20
    shuffle = np.random.default_rng(9).permutation(v.size)
    sorted_scores = score_series(t, v)
    shuffled = score_series(t[shuffle], v[shuffle])
    np.testing.assert_array_equal(shuffled.score, sorted_scores.score[shuffle])
    assert shuffled.anomaly[np.flatnonzero(shuffle == 6 * PER_DAY + 5)[0]]


def test_irregular_sampling_with_gaps() -> None:
    t, v = seasonal(days=21, seed=10)
    rng = np.random.default_rng(10)
    keep = rng.random(v.size) > 0.3  # 30 % missing
    keep[8 * PER_DAY : 9 * PER_DAY] = False  # and a whole day
    t = t[keep] + rng.uniform(-90, 90, keep.sum())
    v = v[keep]
    spike = np.searchsorted(t, T0 + 14 * DAY + 3600 * 5)  # a Wednesday
    v[spike] -= 10 * SIGMA
    scores = score_series(t, v)
    assert scores.anomaly[spike]
    assert scores.anomaly[np.searchsorted(t, T0 + 4 * DAY) :].sum() <= 3


def test_short_and_flat_series() -> None:
    assert score_series([], []).score.size == 0
    few = score_series([0.0, 60.0, 120.0], [1.0, 5.0, 1.0])
    assert few.score.tolist() == [0.0, 0.0, 0.0]  # no model has enough history
    flat = np.full(200, 7.0)
    assert not score_series(np.arange(200, dtype=np.float64) * 60.0, flat).anomaly.any()
    flat[150] = 8.0  # a flat history: any change stands out
    assert score_series(np.arange(200, dtype=np.float64) * 60.0, flat).anomaly.tolist() == [
        i == 150 for i in range(200)
    ]


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        score_series([1.0, 2.0], [1.0])


def _scores(flags: list[bool]) -> Scores:
    a = np.array(flags)
    s = np.where(a, 0.9, 0.1)
    return Scores(s, a, np.zeros(a.size), np.zeros(a.size))


def test_events_group_consecutive_anomalies_allowing_one_normal_sample() -> None:
    flags = [False, True, True, False, True, False, False, True, False]
    t = np.arange(len(flags), dtype=np.float64) * 10.0
    v = np.arange(len(flags), dtype=float)
    found = events(t, _scores(flags), v)
    assert [(e.start, e.end, e.samples) for e in found] == [(10.0, 40.0, 3), (70.0, 70.0, 1)]
    assert events(t, _scores([False] * 9), v) == []


def test_anomaly_rate_is_the_share_across_series() -> None:
    assert anomaly_rate([np.array([True, False]), np.array([False, False, True, True])]) == 0.5
    assert anomaly_rate([]) == 0.0


def test_the_online_scorer_gives_the_batch_scores_sample_by_sample() -> None:
    # the alert engine scores samples one at a time as they arrive: the same numbers as the
    # file command's batch pass, from the first sample and after a history load
    t, v = seasonal(days=30, seed=11, weekend=6.0)
    t = t + np.random.default_rng(11).uniform(-60, 60, t.size)
    v[np.random.default_rng(12).integers(PER_DAY, v.size, 40)] += 9 * SIGMA
    batch = score_series(t, v).score
    scorer = OnlineScorer()
    online = [scorer.score(a, b) for a, b in zip(t.tolist(), v.tolist(), strict=True)]
    np.testing.assert_allclose(np.array(online, dtype=float), batch, rtol=0, atol=1e-12)
    k = 25 * PER_DAY
    warmed = OnlineScorer.from_history(t[:k], v[:k])
    rest = [warmed.score(a, b) for a, b in zip(t[k:].tolist(), v[k:].tolist(), strict=True)]
    np.testing.assert_allclose(np.array(rest, dtype=float), batch[k:], rtol=0, atol=1e-12)
    assert warmed.newest == t[-1]
    assert warmed.score(t[-1], 1e9) is None  # not after the newest: ignored


async def test_one_fleet_scoring_at_a_time() -> None:
    """The API's list and the console's page both score the whole fleet: a second one
    waits for the first instead of running beside it."""
    import asyncio

    from netgauge.analytics.anomalies_service import fleet_anomalies

    calls: list[str] = []
    gate = asyncio.Event()

    async def series(target: str | None) -> list[tuple[str, str, str]]:
        calls.append("series")
        return [("device_metrics", "d1", "cpu_percent")]

    async def points(*args: object, **kwargs: object) -> list[Any]:
        calls.append("points")
        await gate.wait()
        return []

    first = asyncio.create_task(fleet_anomalies(points, series, 0, 10**18, 0))
    second = asyncio.create_task(fleet_anomalies(points, series, 0, 10**18, 0))
    for _ in range(50):  # the loop turns until the first is held in its read
        if calls == ["series", "points"]:
            break
        await asyncio.sleep(0)
    for _ in range(50):  # and the second never starts meanwhile
        await asyncio.sleep(0)
    assert calls == ["series", "points"]
    gate.set()
    await asyncio.gather(first, second)
    assert calls == ["series", "points", "series", "points"]
