"""The ``netgauge analytics risk DIR`` input: ``metrics.csv`` (``device,metric,timestamp,
value``), ``states.csv`` (``device,timestamp,state``) and, when present, ``changes.csv``
(``device,timestamp``: configuration changes). Metric names are those of the device metric
table, labels allowed (``disk_percent{mount="/"}``). Every error names the file and line.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from netgauge.analytics.filetime import parse_timestamp, parse_value, read_rows
from netgauge.analytics.risk.features import STATES, DeviceHistory, history_of
from netgauge.errors import AnalyticsInputError
from netgauge.pollers.readings import METRIC_LABEL
from netgauge.series import split_series


def read_fleet(directory: Path) -> dict[str, DeviceHistory]:
    """Every device named in the files, with its history."""
    if not directory.is_dir():
        raise AnalyticsInputError(
            f"{directory}: not a directory (it must hold metrics.csv and states.csv)"
        )
    metrics: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    states: dict[str, list[tuple[float, str]]] = defaultdict(list)
    changes: dict[str, list[float]] = defaultdict(list)
    path = directory / "metrics.csv"
    for row in read_rows(path, ("device", "metric", "timestamp", "value")):
        device, metric = _device(path, row.line, row.fields), _metric(path, row.line, row.fields)
        at, value = _parse(path, row.line, row.fields["timestamp"], row.fields["value"])
        metrics[device][metric].append((at, value))
    path = directory / "states.csv"
    for row in read_rows(path, ("device", "timestamp", "state")):
        state = row.fields["state"].strip().lower()
        if state not in STATES:
            raise AnalyticsInputError(
                f"{path}:{row.line}: state {state!r} is not one of {', '.join(sorted(STATES))}"
            )
        at = _parse(path, row.line, row.fields["timestamp"])[0]
        states[_device(path, row.line, row.fields)].append((at, state))
    path = directory / "changes.csv"
    if path.exists():
        for row in read_rows(path, ("device", "timestamp")):
            at = _parse(path, row.line, row.fields["timestamp"])[0]
            changes[_device(path, row.line, row.fields)].append(at)
    names = set(metrics) | set(states) | set(changes)
    return {n: history_of(metrics.get(n, {}), states.get(n, []), changes.get(n, [])) for n in names}


def _device(path: Path, line: int, fields: dict[str, str]) -> str:
    name = fields["device"].strip()
    if not name:
        raise AnalyticsInputError(f"{path}:{line}: the device name is empty")
    return name


def _metric(path: Path, line: int, fields: dict[str, str]) -> str:
    metric = fields["metric"].strip()
    if split_series(metric)[0] not in METRIC_LABEL:
        raise AnalyticsInputError(
            f"{path}:{line}: metric {metric!r} is not in the device metric table "
            f"({', '.join(METRIC_LABEL)})"
        )
    return metric


def _parse(path: Path, line: int, timestamp: str, value: str = "0") -> tuple[float, float]:
    try:
        return parse_timestamp(timestamp).timestamp(), parse_value(value)
    except ValueError as exc:
        raise AnalyticsInputError(f"{path}:{line}: {exc}") from None
