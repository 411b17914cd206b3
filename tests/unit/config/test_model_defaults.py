"""Job defaults that depend on the kind."""

from __future__ import annotations

import pytest

from netgauge.config.model import JobConfig


@pytest.mark.parametrize(
    ("kind", "interval"), [("snmp", 300.0), ("ssh", 300.0), ("winrm", 300.0), ("icmp", 60.0)]
)
def test_device_polls_default_to_five_minutes(kind: str, interval: float) -> None:
    assert (
        JobConfig.model_validate({"name": "j", "kind": kind, "targets": ["x"]}).interval == interval
    )


def test_an_explicit_interval_wins() -> None:
    job = JobConfig.model_validate(
        {"name": "j", "kind": "snmp", "targets": ["x"], "interval": "30s"}
    )
    assert job.interval == 30.0
