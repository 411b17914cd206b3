"""Failure risk on a time split of a labelled synthetic fleet (bench/fleet.py): the model
next to its rule-based fallback and the naive rule users start with.

    PYTHONPATH=src .venv/bin/python bench/analytics_risk.py [--devices 200] [--days 60]
        [--train-days 40] [--seed 1] [--cost]

The fleet is simulated with known hazards; the model trains on the first ``--train-days``
(samples hourly, labels inside that part only) and is scored hourly on every device over
the rest, against the generator's own outage list:

* ROC-AUC and PR-AUC (scikit-learn's ``roc_auc_score``, ``average_precision_score``), PR-AUC
  also as a multiple of the base rate (the share of positive samples);
* expected calibration error: 10 equal-width probability bins, |mean p − outage rate| per
  bin weighted by its share of samples;
* ROC-AUC also without the samples positive only through random outages (nothing precedes
  them: no scorer can foresee them);
* lead time: an alarm is p ≥ the threshold that maximised F1 on the training part; for each
  outage of the evaluation part, lead = outage start − the first alarmed sample in the
  horizon before it (an outage with none is missed); the median over caught outages, with
  the share caught and the alarms' precision.

Beside the model: ``fallback`` (the rule-based score, as used while history is short) and
``naive`` ("went offline in the last 7 days": the training part's outage rate with and
without it as its probability). ``--cost`` (or ``--cost-only``) times what the service does
per retrain (features, training, the backtest, assessing every device) for 1,000 devices
x 10 series x 90 days of 15-minute points (random values: the cost does not depend on them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fleet import Device, Fleet, generate, outage_within  # noqa: E402

from netgauge.analytics.risk.features import (  # noqa: E402
    FEATURES,
    DeviceHistory,
    feature_matrix,
)
from netgauge.analytics.risk.model import (  # noqa: E402
    Fallback,
    ModelInfo,
    assess,
    backtest,
    fit,
    training_set,
)

DAY = 86400.0
HORIZON = DAY
STEP = 3600.0


@dataclass
class Part:
    """Hourly samples of every device over [start, end): features, truth, whose, when."""

    x: np.ndarray
    y: np.ndarray
    devices: list[str]
    times: np.ndarray
    random_only: np.ndarray  # positive only through outages nothing preceded (cause random)


def sampled(fleet: Fleet, start: float, end: float) -> Part:
    histories = fleet.histories()
    xs, ys, names, times, randoms = [], [], [], [], []
    at = np.arange(start, end, STEP)
    for name, device in fleet.devices.items():
        xs.append(feature_matrix(histories[name], at, HORIZON))
        y = outage_within(device, at, HORIZON)
        ys.append(y)
        names += [name] * len(at)
        times.append(at)
        foreseeable = Device(name, device.kind, [o for o in device.outages if o[2] != "random"])
        randoms.append((y == 1) & (outage_within(foreseeable, at, HORIZON) == 0))
    return Part(
        np.vstack(xs), np.concatenate(ys), names, np.concatenate(times), np.concatenate(randoms)
    )


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = edges == b
        if inside.any():
            total += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return total


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    best, chosen = -1.0, 0.5
    for threshold in np.unique(np.quantile(p, np.linspace(0.5, 0.999, 200))):
        alarm = p >= threshold
        tp = float((alarm & (y == 1)).sum())
        f1 = 2 * tp / (alarm.sum() + y.sum()) if alarm.sum() + y.sum() else 0.0
        if f1 > best:
            best, chosen = f1, float(threshold)
    return chosen


def lead_times(
    fleet: Fleet, part: Part, p: np.ndarray, threshold: float, start: float
) -> tuple[list[float], int, float]:
    """(lead hours of caught outages, outages counted, alarms' precision)."""
    leads, counted = [], 0
    names = np.array(part.devices)
    for name, device in fleet.devices.items():
        mine = names == name
        t, q = part.times[mine], p[mine]
        for onset, _, _ in device.outages:
            if onset - HORIZON < start or onset > t[-1]:
                continue  # its whole horizon before it must be in the evaluated part
            counted += 1
            before = (t >= onset - HORIZON) & (t < onset) & (q >= threshold)
            if before.any():
                leads.append((onset - t[before][0]) / 3600.0)
    alarms = p >= threshold
    precision = float(part.y[alarms].mean()) if alarms.any() else float("nan")
    return leads, counted, precision


def report(
    name: str,
    fleet: Fleet,
    train: Part,
    test: Part,
    p_train: np.ndarray,
    p_test: np.ndarray,
    start: float,
) -> None:
    base = test.y.mean()
    auc = roc_auc_score(test.y, p_test)
    ap = average_precision_score(test.y, p_test)
    threshold = best_threshold(train.y, p_train)
    leads, counted, precision = lead_times(fleet, test, p_test, threshold, start)
    median = statistics.median(leads) if leads else float("nan")
    keep = ~test.random_only
    foreseeable = roc_auc_score(test.y[keep], p_test[keep])
    print(
        f"{name:10s} ROC-AUC {auc:.3f}  PR-AUC {ap:.3f} ({ap / base:.1f}x base {base:.3f})  "
        f"ECE {ece(test.y, p_test):.3f}  lead median {median:.1f} h "
        f"(caught {len(leads)}/{counted} outages, alarm precision {precision:.2f}, "
        f"threshold {threshold:.3f}); ROC-AUC without random outages {foreseeable:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--train-days", type=float, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cost", action="store_true")
    parser.add_argument("--cost-only", action="store_true")
    args = parser.parse_args()
    if args.cost_only:
        cost()
        return
    began = time.perf_counter()
    fleet = generate(args.devices, args.days, args.seed)
    outages = [o for d in fleet.devices.values() for o in d.outages]
    causes = {c: sum(1 for o in outages if o[2] == c) for c in sorted({o[2] for o in outages})}
    print(
        f"fleet: {args.devices} devices x {args.days:g} days (seed {args.seed}), "
        f"{len(outages)} outages by cause {causes}, made in {time.perf_counter() - began:.1f} s"
    )
    split = fleet.start + args.train_days * DAY
    began = time.perf_counter()
    data = training_set(fleet.histories(), fleet.start, split - HORIZON, HORIZON)
    model = fit(data)
    print(
        f"model: {model.info.kind}, {model.info.why}, calibration {model.info.calibration}; "
        f"trained in {time.perf_counter() - began:.1f} s"
    )
    train = sampled(fleet, fleet.start, split - HORIZON)
    test = sampled(fleet, split, fleet.end - HORIZON)
    print(
        f"evaluated: {len(test.y)} device-hours after day {args.train_days:g}, "
        f"{int(test.y.sum())} positive"
    )
    rules = Fallback(ModelInfo("fallback", "bench", 0, 0, 0, None, None))
    report(
        "model",
        fleet,
        train,
        test,
        model.probabilities(train.x),
        model.probabilities(test.x),
        split,
    )
    report(
        "fallback",
        fleet,
        train,
        test,
        rules.probabilities(train.x),
        rules.probabilities(test.x),
        split,
    )
    recent = FEATURES.index("offline_episodes_7d")
    flag_train, flag_test = train.x[:, recent] > 0, test.x[:, recent] > 0
    rate = {True: train.y[flag_train].mean(), False: train.y[~flag_train].mean()}
    report(
        "naive",
        fleet,
        train,
        test,
        np.where(flag_train, rate[True], rate[False]),
        np.where(flag_test, rate[True], rate[False]),
        split,
    )
    if args.cost:
        cost()


def cost_fleet(devices: int = 1000, days: int = 90, seed: int = 2) -> dict[str, DeviceHistory]:
    """Random histories of the service's read shape: 10 series per device as 15-minute
    aggregates, a random walk of states (the cost does not depend on the hazards)."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, days * DAY, 900.0) + 1.77e9
    names = [
        "cpu_percent",
        "memory_percent",
        'disk_percent{mount="/"}',
        'disk_percent{mount="/var"}',
        'disk_percent{mount="/home"}',
        'temperature_celsius{sensor="cpu"}',
        'temperature_celsius{sensor="board"}',
        "uptime_seconds",
        'net_in_bytes_per_sec{interface="eth0"}',
        'net_out_bytes_per_sec{interface="eth0"}',
    ]
    fleet = {}
    for i in range(devices):
        metrics = {n: (times, rng.uniform(0, 100, len(times))) for n in names}
        flips = np.sort(rng.uniform(times[0], times[-1], rng.integers(2, 40)))
        states = [(float(t), "offline" if k % 2 else "online") for k, t in enumerate(flips)]
        changes = np.sort(rng.uniform(times[0], times[-1], rng.integers(0, 20)))
        fleet[f"d{i}"] = DeviceHistory(metrics, [(float(times[0]), "online"), *states], changes)
    return fleet


def cost() -> None:
    began = time.perf_counter()
    histories = cost_fleet()
    made = time.perf_counter() - began
    end = max(h.last_time() or 0.0 for h in histories.values())
    start = min(h.first_time() or end for h in histories.values())
    began, wall = time.process_time(), time.perf_counter()
    data = training_set(histories, start, end - HORIZON, HORIZON)
    model = fit(data)
    quality = backtest(data)
    risks = assess(model, histories, end, HORIZON)
    print(
        f"cost: 1,000 devices x 10 series x 90 days of 15-minute points (made in {made:.0f} s): "
        f"features + training ({len(data.y)} samples, {model.info.kind}) + backtest "
        f"({'done' if quality else 'none'}) + assessing {len(risks)} devices in "
        f"{time.process_time() - began:.1f} s CPU, {time.perf_counter() - wall:.1f} s wall"
    )


if __name__ == "__main__":
    main()
