"""Model selection for failure risk on a VALIDATION fleet (a seed the reported figures do not
use): the same time split as bench/analytics_risk.py, so that choices are made without
looking at the reported test fleets.

    PYTHONPATH=src .venv/bin/python bench/analytics_risk_select.py [--seed 3] [--devices 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.analytics_risk import DAY, HORIZON, ece, sampled  # noqa: E402
from bench.fleet import generate  # noqa: E402

from netgauge.analytics.risk.features import FEATURES  # noqa: E402
from netgauge.analytics.risk.model import Scaler, fit, training_set  # noqa: E402

OLD = FEATURES[: FEATURES.index("recent_degraded_x_track_record") + 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--train-days", type=float, default=40)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    fleet = generate(args.devices, args.days, args.seed)
    split = fleet.start + args.train_days * DAY
    data = training_set(fleet.histories(), fleet.start, split - HORIZON, HORIZON)
    test = sampled(fleet, split, fleet.end - HORIZON)
    scaler = Scaler.fit(data.x)
    z_train, z_test = scaler.transform(data.x), scaler.transform(test.x)
    old = np.array([f in OLD for f in FEATURES])
    online = test.x[:, FEATURES.index("offline_now")] == 0
    print(
        f"seed {args.seed}: {len(data.y)} training samples ({int(data.y.sum())} positive), "
        f"{len(test.y)} evaluated, base rate {test.y.mean():.3f}, "
        f"{int((~online).sum())} offline at t"
    )
    variants: dict[str, tuple[np.ndarray, Callable[[], object], str]] = {
        "lr old": (old, lambda: LogisticRegression(max_iter=2000), "isotonic"),
        "lr all": (
            np.ones(len(FEATURES), bool),
            lambda: LogisticRegression(max_iter=2000),
            "isotonic",
        ),
        "lr+spline all": (
            np.ones(len(FEATURES), bool),
            lambda: make_pipeline(
                SplineTransformer(n_knots=5, degree=3, knots="quantile"),
                LogisticRegression(max_iter=3000, C=0.3),
            ),
            "isotonic",
        ),
        "hgb old": (
            old,
            lambda: HistGradientBoostingClassifier(max_iter=200, random_state=0),
            "isotonic",
        ),
        "hgb all": (
            np.ones(len(FEATURES), bool),
            lambda: HistGradientBoostingClassifier(max_iter=200, random_state=0),
            "isotonic",
        ),
        "hgb all slow": (
            np.ones(len(FEATURES), bool),
            lambda: HistGradientBoostingClassifier(
                max_iter=300,
                learning_rate=0.05,
                max_leaf_nodes=15,
                min_samples_leaf=100,
                l2_regularization=1.0,
                random_state=0,
            ),
            "isotonic",
        ),
    }
    if "chosen" in args.only or not args.only:
        began = time.process_time()
        chosen = fit(data).probabilities(test.x)
        show("chosen (model.py)", test.y, chosen, online, test.random_only, began)
    for name, (columns, make, method) in variants.items():
        if args.only and args.only not in name:
            continue
        began = time.process_time()
        model = CalibratedClassifierCV(make(), method=method, cv=3)
        model.fit(z_train[:, columns], data.y)
        p = model.predict_proba(z_test[:, columns])[:, 1]
        show(name, test.y, p, online, test.random_only, began)


def show(
    name: str, y: np.ndarray, p: np.ndarray, online: np.ndarray, rnd: np.ndarray, began: float
) -> None:
    spent = time.process_time() - began
    base = y.mean()
    ap = average_precision_score(y, p)
    print(
        f"{name:14s} ROC-AUC {roc_auc_score(y, p):.3f} "
        f"(online at t {roc_auc_score(y[online], p[online]):.3f}, "
        f"no random {roc_auc_score(y[~rnd], p[~rnd]):.3f})  "
        f"PR-AUC {ap:.3f} ({ap / base:.2f}x)  ECE {ece(y, p):.3f}  {spent:.1f} s CPU",
        flush=True,
    )


if __name__ == "__main__":
    main()
