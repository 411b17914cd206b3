"""netgauge: network and device monitoring — probes, embedded time series, REST API."""

from netgauge.errors import (
    ConfigError,
    NetgaugeError,
    PermanentStorageError,
    ProbeSetupError,
    RetryableStorageError,
    StorageError,
)
from netgauge.models import ProbeResult, ProbeStatus, Sample, Target, TargetType

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "NetgaugeError",
    "PermanentStorageError",
    "ProbeResult",
    "ProbeSetupError",
    "ProbeStatus",
    "RetryableStorageError",
    "Sample",
    "StorageError",
    "Target",
    "TargetType",
    "__version__",
]
