"""Anomalies on labelled synthetic series: netgauge's seasonal, online score side by side
with the plain global z-score detector (|x - mean| / std over the whole series, anomalous at
z >= 3, which even sees the future) and a rolling-only robust z (no seasonality).

Each series: 5-minute samples with +-60 s jitter and 2 % missing, 6 weeks; a daily wave
(amplitude 4-10 sigma), a weekend level 0-4 sigma lower, Gaussian noise with a few
heavy-tailed draws (t, 3 df); then anomalies injected with known labels:

* spike:       1-3 samples, +-(6..12) sigma;
* plateau:     30 min - 3 h shifted by +-(4..8) sigma, labelled throughout;
* noise burst: 1-2 h with noise x 6, labelled throughout;
* level shift: a lasting +-(5..10) sigma shift, its first hour labelled (the change is the
  event, the new level is normal once learned).

Seed 0 was used to pick the defaults (threshold, window); the figures are on seeds 1-4.
Point-wise ROC-AUC: sklearn.metrics.roc_auc_score over every sample of every series.
Event level: a detected event (consecutive anomalous samples, netgauge's grouping for every
detector) is a true positive when it overlaps a labelled anomaly (+-2 samples); a labelled
anomaly is found when a detected event overlaps it.

rows/s: samples scored per CPU second by each detector (this process's CPU time); and
the file command's CPU seconds on a 20,160-row file.

Run: PYTHONPATH=src python bench/analytics_anomalies.py [--series 20] [--seeds 1,2,3,4]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from netgauge.analytics.anomalies import Params, Scores, events, score_series

STEP_S = 300.0
DAYS = 42
TOLERANCE = 2  # samples of slack when matching events


@dataclass
class Labelled:
    """One synthetic series with its anomaly windows (sample index ranges)."""

    t: NDArray[np.float64]
    v: NDArray[np.float64]
    label: NDArray[np.bool_]
    windows: list[tuple[int, int]]  # [a, b] inclusive
    kinds: list[str]  # of each window


def make_series(rng: np.random.Generator) -> Labelled:
    """A seasonal series with injected, labelled anomalies."""
    n = int(DAYS * 86400 / STEP_S)
    t0 = 1_700_000_000.0 // 86400 * 86400
    t = t0 + np.arange(n) * STEP_S + rng.uniform(-60, 60, n)
    sigma = rng.uniform(0.5, 3.0)
    level = rng.uniform(10, 100)
    phase = rng.uniform(0, 2 * np.pi)
    daily = rng.uniform(4, 10) * sigma * np.sin(2 * np.pi * t / 86400 + phase)
    weekday = ((t // 86400 + 3) % 7).astype(int)  # 0 = Monday
    weekend = np.where(weekday >= 5, -rng.uniform(0, 4) * sigma, 0.0)
    noise = rng.normal(0, sigma, n)
    heavy = rng.random(n) < 0.01
    noise[heavy] = sigma * rng.standard_t(3, heavy.sum())
    v = level + daily + weekend + noise
    label = np.zeros(n, dtype=bool)
    windows: list[tuple[int, int]] = []
    names: list[str] = []
    start = int(86400 / STEP_S)  # anomalies from the second day on
    spots = np.sort(rng.choice(np.arange(start, n - 60, 60), size=14, replace=False))
    kinds = rng.permutation(["spike"] * 6 + ["plateau"] * 4 + ["burst"] * 3 + ["shift"])
    for at, kind in zip(spots, kinds, strict=True):
        sign = rng.choice([-1.0, 1.0])
        if kind == "spike":
            length = int(rng.integers(1, 4))
            v[at : at + length] += sign * rng.uniform(6, 12) * sigma
            lab = (at, at + length - 1)
        elif kind == "plateau":
            length = int(rng.integers(6, 37))
            v[at : at + length] += sign * rng.uniform(4, 8) * sigma
            lab = (at, at + length - 1)
        elif kind == "burst":
            length = int(rng.integers(12, 25))
            v[at : at + length] += rng.normal(0, 6 * sigma, length)
            lab = (at, at + length - 1)
        else:
            v[at:] += sign * rng.uniform(5, 10) * sigma
            lab = (at, at + 11)
        label[lab[0] : lab[1] + 1] = True
        windows.append(lab)
        names.append(str(kind))
    keep = rng.random(n) >= 0.02
    keep[label] = True  # a labelled sample is never dropped (its window stays whole)
    index = np.cumsum(keep) - 1
    windows = [(int(index[a]), int(index[b])) for a, b in windows]
    return Labelled(t[keep], v[keep], label[keep], windows, names)


def global_z(t: NDArray[np.float64], v: NDArray[np.float64]) -> Scores:
    """The plain detector: |x - mean| / std of the whole series, anomalous at z >= 3."""
    z = np.abs(v - v.mean()) / (v.std() or 1.0)
    return Scores(z / (z + 3.0), z >= 3.0, np.full_like(v, v.mean()), z)


def rolling_only(t: NDArray[np.float64], v: NDArray[np.float64]) -> Scores:
    """netgauge's rolling model alone (seasonal models switched off by an impossible
    history requirement)."""
    return score_series(t, v, Params(min_periods=10**6))


def netgauge(t: NDArray[np.float64], v: NDArray[np.float64]) -> Scores:
    """The default: rolling + daily + weekly, agreeing."""
    return score_series(t, v)


def event_counts(s: Labelled, scores: Scores, by_kind: dict[str, list[int]]) -> tuple[int, int]:
    """(true positive detected events, detected events); ``by_kind`` counts [found,
    labelled] per anomaly kind."""
    found = events(s.t, scores, s.v)
    index = {float(x): i for i, x in enumerate(s.t)}
    spans = [(index[e.start], index[e.end]) for e in found]
    tp = sum(
        any(a - TOLERANCE <= wb and wa <= b + TOLERANCE for wa, wb in s.windows) for a, b in spans
    )
    for (wa, wb), kind in zip(s.windows, s.kinds, strict=True):
        hit = any(a - TOLERANCE <= wb and wa <= b + TOLERANCE for a, b in spans)
        counts = by_kind.setdefault(kind, [0, 0])
        counts[0] += hit
        counts[1] += 1
    return tp, len(spans)


def evaluate(name: str, detect: Callable[..., Scores], data: list[Labelled]) -> dict[str, Any]:
    """Figures of one detector over all series."""
    scores, labels, flags = [], [], []
    tp = detected = 0
    by_kind: dict[str, list[int]] = {}
    rows, seconds = 0, 0.0
    for s in data:
        begin = time.process_time()
        sc = detect(s.t, s.v)
        seconds += time.process_time() - begin
        rows += s.t.size
        scores.append(sc.score)
        flags.append(sc.anomaly)
        labels.append(s.label)
        a, b = event_counts(s, sc, by_kind)
        tp, detected = tp + a, detected + b
    y, p = np.concatenate(labels), np.concatenate(scores)
    flagged = np.concatenate(flags)
    return {
        "detector": name,
        "roc_auc": float(roc_auc_score(y, p)),
        "event_precision": tp / detected if detected else float("nan"),
        "event_recall": sum(c[0] for c in by_kind.values()) / sum(c[1] for c in by_kind.values()),
        **{f"recall_{k}": c[0] / c[1] for k, c in sorted(by_kind.items())},
        "point_flag_rate": float(flagged.mean()),
        "rows_per_s": rows / seconds,
    }


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--seeds", default="1,2,3,4")
    args = parser.parse_args()
    data = []
    for seed in (int(x) for x in args.seeds.split(",")):
        rng = np.random.default_rng(seed)
        data += [make_series(rng) for _ in range(args.series)]
    total = sum(s.t.size for s in data)
    anomalous = sum(int(s.label.sum()) for s in data)
    print(
        f"{len(data)} series, {total} samples, {anomalous} labelled anomalous "
        f"({100 * anomalous / total:.2f} %), {sum(len(s.windows) for s in data)} anomalies"
    )
    print(
        f"{'detector':<24} {'ROC-AUC':>8} {'ev.prec':>8} {'ev.recall':>9} "
        f"{'flagged%':>9} {'rows/s':>10}   recall by kind"
    )
    for name, detect in (
        ("netgauge (seasonal)", netgauge),
        ("rolling robust z only", rolling_only),
        ("global z-score (z>=3)", global_z),
    ):
        r = evaluate(name, detect, data)
        print(
            f"{r['detector']:<24} {r['roc_auc']:>8.3f} {r['event_precision']:>8.3f} "
            f"{r['event_recall']:>9.3f} {100 * float(r['point_flag_rate']):>9.2f} "
            f"{r['rows_per_s']:>10.0f}   "
            + " ".join(f"{k[7:]} {v:.2f}" for k, v in r.items() if k.startswith("recall_"))
        )
    wall, cpu = file_command_seconds()
    print(
        f"file command, 20,160 rows --json: {cpu:.2f} s CPU, {wall:.2f} s wall "
        "(interpreter start and CSV parsing included; wall depends on the machine's load)"
    )


def file_command_seconds(rows: int = 20_160) -> tuple[float, float]:
    """(wall, CPU) seconds of ``netgauge analytics anomalies FILE --json`` on a ``rows``-line file
    (10 weeks of 5-minute samples), interpreter start included."""
    rng = np.random.default_rng(0)
    t = 1_700_000_000 + np.arange(rows) * 300
    v = 50 + 10 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 1, rows)
    with tempfile.TemporaryDirectory() as where:
        f = Path(where) / "s.csv"
        f.write_text(
            "timestamp,value\n" + "".join(f"{a},{b:.4f}\n" for a, b in zip(t, v, strict=True))
        )
        begin = time.perf_counter()
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-m", "netgauge", "analytics", "anomalies", str(f), "--json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - begin
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime


if __name__ == "__main__":
    main()
