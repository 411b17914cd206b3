"""A series' name and labels, Prometheus style: ``disk_percent{mount="/"}``.

Device metrics are stored under such names; the exposition, the console's charts and the
alert rules all read them back through :func:`split_series`, so a label value with a quote
or a backslash (Windows' ``C:\\``) means the same thing everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

_SERIES = re.compile(r"^(?P<name>[^{]+)(?:\{(?P<labels>.*)\})?$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*")')


def series_name(name: str, labels: Mapping[str, str]) -> str:
    """``disk_percent`` + {"mount": "/"} → ``disk_percent{mount="/"}`` (labels sorted, values
    JSON-quoted); the bare name without labels."""
    if not labels:
        return name
    inner = ",".join(f"{key}={json.dumps(value)}" for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def split_series(series: str) -> tuple[str, dict[str, str]]:
    """``disk_percent{mount="/"}`` → (``disk_percent``, {"mount": "/"}); the inverse of
    :func:`series_name`."""
    match = _SERIES.match(series)
    if match is None:
        return series, {}
    labels = {k: str(json.loads(v)) for k, v in _LABEL.findall(match.group("labels") or "")}
    return match.group("name"), labels


__all__ = ["series_name", "split_series"]
