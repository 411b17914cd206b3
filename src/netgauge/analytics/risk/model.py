"""The failure-risk model: trained on the fleet's own history, calibrated, explained; the
rule-based fallback while that history is too short.

Training samples are (device, t) on an hourly grid (coarser for a big fleet, so that there
are at most :data:`MAX_SAMPLES`) ending one horizon before the newest time known, so that
every label is observed: 1 when the device went offline in (t, t + horizon]. The model is a
logistic regression on standardized features (event counts as log1p, unknown values as the
training median) plus a quadratic spline basis of the continuous ones (:data:`SPLINED`),
wrapped in scikit-learn's ``CalibratedClassifierCV`` (3 folds; isotonic from 500 positive
samples on, sigmoid below). A device's reasons are the regression's terms summed per
feature (its standardized value and its spline columns), coefficient × (value − training
mean): how much each feature moves the log-odds away from the fleet's average device.

It trains only with at least :data:`MIN_OUTAGES` outages and :data:`MIN_POSITIVES` positive
samples in the history; otherwise the answer comes from ``fallback`` and says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import SplineTransformer

from netgauge.analytics.risk import fallback
from netgauge.analytics.risk.features import (
    COUNTS,
    FEATURES,
    HOUR,
    Array,
    DeviceHistory,
    feature_matrix,
    labels,
    offline_onsets,
)

MIN_OUTAGES = 10
MIN_POSITIVES = 30
MAX_SAMPLES = 200_000
TOP_REASONS = 3
_COUNT_COLUMNS = np.array([name in COUNTS for name in FEATURES])
C = 0.3
SPLINE_KNOTS = 3
SPLINED = tuple(
    f
    for f in FEATURES
    if not f.startswith("recent_")
    and (
        f.startswith("hours_")
        or f.endswith(
            (
                "_level",
                "_at_horizon",
                "hours_to_limit",
                "slope_per_h",
                "slope_6h",
                "track_record",
                "per_day_30d",
            )
        )
    )
)
"""Features that also get a quadratic spline basis (3 knots at quantiles): the risk is not
linear in them (memory at 90 % is worse than 60 % by far more than 60 % is worse than 30 %;
a change 2 h ago is a warning, 30 h ago mostly not). Chosen on a validation fleet (seed 3,
``bench/analytics_risk_select.py``), not on the reported ones."""
_SPLINED = np.array([FEATURES.index(f) for f in SPLINED])


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature behind a probability: its value at t (None when unknown) and what it
    added, in log-odds (model: coefficient × standardized value; fallback: the rule's
    points)."""

    feature: str
    value: float | None
    contribution: float


@dataclass(frozen=True, slots=True)
class DeviceRisk:
    """The probability that ``device`` goes offline within the horizon, and why."""

    device: str
    probability: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Which model answered, trained on what."""

    kind: Literal["logistic_regression", "fallback"]
    why: str
    samples: int
    positives: int
    outages: int
    calibration: str | None
    trained_until: float | None  # the last sample time (epoch s); labels reach a horizon on


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Samples of the fleet's history: features, labels, and whose and when."""

    x: Array
    y: Array
    devices: list[str]
    times: Array
    outages: int


def sample_times(history: DeviceHistory, start: float, end: float, step_s: float) -> Array:
    """The grid ``end, end - step, ...`` down to ``start`` (and not before the device was
    first seen), oldest first."""
    first = history.first_time()
    if first is None or end < start:
        return np.empty(0)
    grid = end - step_s * np.arange(int((end - start) // step_s) + 1)
    return np.sort(grid[grid >= first])


def training_set(
    histories: Mapping[str, DeviceHistory],
    start: float,
    end: float,
    horizon_s: float,
    step_s: float = HOUR,
) -> TrainingSet:
    """Samples at times in [start, end] of every device; the labels need history up to
    ``end + horizon``. The step grows so that there are at most MAX_SAMPLES."""
    count = len(histories) * max(1.0, (end - start) / step_s)
    step_s *= max(1.0, math.ceil(count / MAX_SAMPLES))
    xs, ys, devices, times, outages = [], [], [], [], 0
    for name, history in histories.items():
        at = sample_times(history, start, end, step_s)
        if not len(at):
            continue
        xs.append(feature_matrix(history, at, horizon_s))
        ys.append(labels(history, at, horizon_s))
        devices += [name] * len(at)
        times.append(at)
        onsets = offline_onsets(history.transitions)
        outages += int(np.count_nonzero((onsets > at[0]) & (onsets <= at[-1] + horizon_s)))
    if not xs:
        return TrainingSet(np.empty((0, len(FEATURES))), np.empty(0), [], np.empty(0), 0)
    return TrainingSet(np.vstack(xs), np.concatenate(ys), devices, np.concatenate(times), outages)


@dataclass(frozen=True)
class Scaler:
    """log1p of counts, NaN → the training median, then (x - mean) / std."""

    medians: Array
    means: Array
    stds: Array

    @classmethod
    def fit(cls, x: Array) -> Scaler:
        """Learn the medians, means and spreads of ``x``."""
        logged = _log_counts(x)
        with np.errstate(all="ignore"):
            medians = (
                np.nan_to_num(np.nanmedian(logged, axis=0)) if len(x) else np.zeros(x.shape[1])
            )
        filled = np.where(np.isnan(logged), medians, logged)
        stds = filled.std(axis=0)
        return cls(medians, filled.mean(axis=0), np.where(stds > 1e-9, stds, 1.0))

    def transform(self, x: Array) -> Array:
        """Standardized features."""
        logged = _log_counts(x)
        return (np.where(np.isnan(logged), self.medians, logged) - self.means) / self.stds


def _log_counts(x: Array) -> Array:
    out = x.copy()
    out[:, _COUNT_COLUMNS] = np.log1p(np.maximum(out[:, _COUNT_COLUMNS], 0.0))
    return out


@dataclass(frozen=True)
class Design:
    """The model's columns: the standardized features, then a spline basis of each of
    :data:`SPLINED`; ``owner`` says which feature each column belongs to, ``means`` are the
    training means (the fleet's average device, from which contributions are counted)."""

    scaler: Scaler
    splines: SplineTransformer
    owner: Array  # (columns, features) 0/1: the feature a column belongs to
    means: Array

    @classmethod
    def fit(cls, x: Array) -> Design:
        """Learn the scaling, the knots and the averages from ``x``."""
        scaler = Scaler.fit(x)
        z = scaler.transform(x)
        splines = SplineTransformer(n_knots=SPLINE_KNOTS, degree=2, knots="quantile")
        splines.fit(z[:, _SPLINED])
        basis = splines.n_features_out_ // len(SPLINED)
        owners = np.concatenate([np.arange(len(FEATURES)), np.repeat(_SPLINED, basis)])
        owner = (owners[:, None] == np.arange(len(FEATURES))[None, :]).astype(np.float64)
        design = cls(scaler, splines, owner, np.zeros(len(owners)))
        return cls(scaler, splines, owner, design.transform(x).mean(axis=0))

    def transform(self, x: Array) -> Array:
        """The model's columns for ``x``."""
        z = self.scaler.transform(x)
        return np.hstack([z, self.splines.transform(z[:, _SPLINED])])


@dataclass(frozen=True)
class Trained:
    """A calibrated logistic regression and the plain one that explains it."""

    design: Design
    calibrated: CalibratedClassifierCV
    coefficients: Array  # the explaining coefficients, one per design column
    info: ModelInfo

    @property
    def scaler(self) -> Scaler:
        """How the features were standardized."""
        return self.design.scaler

    def probabilities(self, x: Array) -> Array:
        """Calibrated probability per row."""
        return np.asarray(self.calibrated.predict_proba(self.design.transform(x))[:, 1])

    def contributions(self, x: Array) -> Array:
        """Per row and feature, what the feature's columns (its standardized value and its
        spline basis) add to the log-odds against the fleet's average device."""
        terms = (self.design.transform(x) - self.design.means) * self.coefficients
        return np.asarray(terms @ self.design.owner)


@dataclass(frozen=True)
class Fallback:
    """The rule-based score (``fallback``), and why it answers."""

    info: ModelInfo

    def probabilities(self, x: Array) -> Array:
        """The rules' probability per row."""
        return np.array([fallback.score(_row(r))[0] for r in x])


Predictor = Trained | Fallback


def _row(values: Array) -> dict[str, float]:
    return dict(zip(FEATURES, (float(v) for v in values), strict=True))


def fit(data: TrainingSet, trained_until: float | None = None) -> Predictor:
    """A calibrated model when ``data`` holds enough outages, else the fallback."""
    positives = int(data.y.sum())
    negatives = len(data.y) - positives
    until = (
        trained_until
        if trained_until is not None
        else (float(data.times.max()) if len(data.times) else None)
    )
    if data.outages < MIN_OUTAGES or positives < MIN_POSITIVES or negatives < MIN_POSITIVES:
        why = (
            f"history too short to train: {data.outages} outage(s) and {positives} positive "
            f"sample(s) of {len(data.y)} (a model needs {MIN_OUTAGES} outages and "
            f"{MIN_POSITIVES} positive and negative samples)"
        )
        info = ModelInfo("fallback", why, len(data.y), positives, data.outages, None, until)
        return Fallback(info)
    design = Design.fit(data.x)
    z = design.transform(data.x)
    method: Literal["isotonic", "sigmoid"] = "isotonic" if positives >= 500 else "sigmoid"
    calibrated = CalibratedClassifierCV(_classifier(), method=method, cv=3).fit(z, data.y)
    # the explanation: the mean of the calibrated folds' coefficients (each fold's regression
    # saw two thirds of the samples), rather than a fourth fit on all of them
    coefficients = np.mean(
        [c.estimator.coef_[0] for c in calibrated.calibrated_classifiers_], axis=0
    )
    why = f"trained on {data.outages} outages ({positives} positive of {len(data.y)} samples)"
    info = ModelInfo(
        "logistic_regression", why, len(data.y), positives, data.outages, method, until
    )
    return Trained(design, calibrated, coefficients, info)


def _classifier() -> LogisticRegression:
    # Newton–Cholesky: a few exact steps on ~180 columns, 4× faster than lbfgs here
    return LogisticRegression(C=C, solver="newton-cholesky", max_iter=100)


def explain(predictor: Predictor, x: Array) -> list[tuple[Reason, ...]]:
    """The top reasons per row: positive contributions, largest first."""
    if isinstance(predictor, Fallback):
        return [
            tuple(Reason(f, _known(v), round(p, 3)) for f, p, v in fallback.score(_row(r))[1])[
                :TOP_REASONS
            ]
            for r in x
        ]
    found = []
    # a value at the fleet's median is no reason, whatever its sign says (0 outages in 7 d
    # "raising" the risk because the 30 d count already carries it)
    usual = _log_counts(x) == predictor.scaler.medians
    for values, terms, same in zip(x, predictor.contributions(x), usual, strict=True):
        ranked = [i for i in np.argsort(-terms) if terms[i] > 0.0 and not same[i]]
        order = ranked[:TOP_REASONS]
        found.append(
            tuple(Reason(FEATURES[i], _known(values[i]), round(float(terms[i]), 3)) for i in order)
        )
    return found


def _known(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 3)


def assess(
    predictor: Predictor,
    histories: Mapping[str, DeviceHistory],
    at: float,
    horizon_s: float,
) -> list[DeviceRisk]:
    """Each device's risk for (at, at + horizon], by name."""
    names = sorted(histories)
    if not names:
        return []
    x = np.vstack([feature_matrix(histories[n], np.array([at]), horizon_s) for n in names])
    probabilities = predictor.probabilities(x)
    reasons = explain(predictor, x)
    return [
        DeviceRisk(name, round(float(p), 4), r)
        for name, p, r in zip(names, probabilities, reasons, strict=True)
    ]


def train_and_assess(
    histories: Mapping[str, DeviceHistory], at: float, horizon_s: float
) -> tuple[Predictor, list[DeviceRisk]]:
    """Train on everything known up to ``at`` (samples end one horizon before it, so their
    labels are seen), then assess every device at ``at``."""
    firsts = [f for h in histories.values() if (f := h.first_time()) is not None]
    start = min(firsts) if firsts else at
    data = training_set(histories, start, at - horizon_s, horizon_s)
    predictor = fit(data, at - horizon_s)
    return predictor, assess(predictor, histories, at, horizon_s)


@dataclass(frozen=True, slots=True)
class Quality:
    """The model's figures on the newest quarter of the history, trained on the rest."""

    roc_auc: float
    pr_auc: float
    base_rate: float
    calibration_error: float  # ECE, 10 equal-width bins
    samples: int
    positives: int


def backtest(data: TrainingSet, holdout: float = 0.25) -> Quality | None:
    """Train on the older samples, score the newest ``holdout`` share of the time range
    (None when either part has too few outages, or a single class)."""
    from sklearn.metrics import (
        average_precision_score,
        roc_auc_score,
    )

    if not len(data.times):
        return None
    cut = data.times.min() + (1 - holdout) * (data.times.max() - data.times.min())
    old, new = data.times < cut, data.times >= cut
    part = TrainingSet(data.x[old], data.y[old], [], data.times[old], data.outages)
    model = fit(part)
    y = data.y[new]
    if isinstance(model, Fallback) or y.min() == y.max():
        return None
    p = model.probabilities(data.x[new])
    return Quality(
        round(float(roc_auc_score(y, p)), 4),
        round(float(average_precision_score(y, p)), 4),
        round(float(y.mean()), 4),
        round(calibration_error(y, p), 4),
        len(y),
        int(y.sum()),
    )


def calibration_error(y: Array, p: Array, bins: int = 10) -> float:
    """Expected calibration error: |mean probability - outage rate| per equal-width bin,
    weighted by the bin's share of samples."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += float(inside.mean()) * abs(float(p[inside].mean() - y[inside].mean()))
    return total
